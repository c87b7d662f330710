/* ce_store_db: the helper layer over apr_dbd that every ce_store_*.c file
 * uses (statements by label, fetch rows, run, transactions queued on the
 * write lock), and the dialects: the one place where SQLite and PostgreSQL
 * differ. See ce_store_int.h. */
#include <string.h>
#include <apr_strings.h>

#include "ce_store_int.h"

/* Room for a driver's transaction record (see ce_store_tx_start). */
#define TX_RECORD_BYTES 256

/* ------------------------------------------------------------------ */
/* Dialects                                                            */

/* busy_timeout only covers writers outside httpd (ceadmin): inside httpd
 * writers queue on ce_db_t.serialize. Checkpoints: each connection's WAL
 * hook (ce_store_wal.c) replaces SQLite's autocheckpoint, to run them
 * outside every lock. */
/* clang-format off */
static const char *const sqlite3_setup[] = {
    "PRAGMA busy_timeout=" APR_STRINGIFY(CE_SQLITE_BUSY_MS),
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    NULL};
/* SQLite's messages are never translated. "schema has changed": the
 * driver prepares with the legacy sqlite3_prepare, which hands that to the
 * caller instead of recompiling; SQLite has reloaded the schema by then.
 * "locked": what busy_timeout does not cover (switching to WAL while
 * another connection does, a read transaction that cannot become a write). */
static const char *const sqlite3_contended[] = {
    "database schema has changed",
    "database is locked",
    "database table is locked",
    NULL};
/* PostgreSQL's, under the C locale scripts/pg.sh and most servers use: the
 * schema lock serializes schema creation, so these are the rest. */
static const char *const pgsql_contended[] = {
    "deadlock detected",
    "could not serialize access",
    "tuple concurrently updated",
    "duplicate key value violates unique constraint \"pg_",
    NULL};
/* clang-format on */
static const ce_store_dialect_t dialects[CE_DIALECTS] = {
    /* BEGIN IMMEDIATE (the sqlite3 driver's transaction start) already serializes. */
    {CE_DIALECT_SQLITE3, "sqlite3", sqlite3_setup, NULL, "",
     "SELECT file FROM pragma_database_list WHERE name = 'main' AND file <> ''", sqlite3_contended},
    /* CREATE ... IF NOT EXISTS races on the catalog in PostgreSQL without a lock. */
    /* Rows read to be rewritten are locked: READ COMMITTED alone lets two
     * read-modify-writes of one row interleave. */
    {CE_DIALECT_PGSQL, "pgsql", NULL, "SELECT pg_advisory_xact_lock(4242001)", " FOR UPDATE", NULL,
     pgsql_contended},
};

int ce_store_contended(const ce_store_dialect_t *d, const char *err)
{
    const char *const *m;

    for (m = d->contended; err && m && *m; m++) {
        if (strstr(err, *m)) {
            return 1;
        }
    }
    return 0;
}

const ce_store_dialect_t *ce_store_dialect(const apr_dbd_driver_t *driver)
{
    const char *name = apr_dbd_name(driver);
    int i;

    for (i = 0; i < CE_DIALECTS; i++) {
        if (strcmp(dialects[i].driver, name) == 0) {
            return &dialects[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Statements and rows                                                 */

apr_status_t ce_store_db_error(const char **perr, const ce_db_t *db, apr_pool_t *p, int rc,
                               const char *what)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, rc);

    if (!msg || !*msg) {
        msg = "unknown error";
    }
    *perr = apr_psprintf(p, "Database error (%s): %.*s", what, (int)strcspn(msg, "\r\n"), msg);
    return APR_EGENERAL;
}

static apr_status_t statement(apr_dbd_prepared_t **pst, const ce_db_t *db, apr_pool_t *p,
                              const char *label, const char **perr)
{
    *pst = apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);
    if (!*pst) {
        *perr = apr_psprintf(p, "Statement %s is not prepared (ce_store_init not run)", label);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Drains res into rows: each a const char *[] of the columns copied into p
 * (NULL for SQL NULL). */
static void copy_rows(apr_array_header_t *rows, const ce_db_t *db, apr_pool_t *p,
                      apr_dbd_results_t *res)
{
    apr_dbd_row_t *row = NULL;
    int ncols = apr_dbd_num_cols(db->driver, res), i;

    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        const char **values = apr_palloc(p, ncols * sizeof(*values));

        for (i = 0; i < ncols; i++) {
            const char *v = apr_dbd_get_entry(db->driver, row, i);
            values[i] = v ? apr_pstrdup(p, v) : NULL;
        }
        APR_ARRAY_PUSH(rows, const char **) = values;
    }
}

apr_status_t ce_store_fetch(apr_array_header_t **prows, ce_db_t *db, apr_pool_t *p,
                            const char *label, const void **args, const char **perr)
{
    apr_dbd_prepared_t *st;
    apr_dbd_results_t *res = NULL;
    apr_status_t rv;
    int rc;

    *prows = apr_array_make(p, 4, sizeof(const char **));
    /* SQLite: SQLite's own API, when the SELECT is prepared there */
    rv = ce_store_sqlite_fetch(*prows, db, p, label, args, perr);
    if (rv != APR_ENOTIMPL && rv != APR_EAGAIN) {
        return rv;
    }
    if ((rv = statement(&st, db, p, label, perr)) != APR_SUCCESS) {
        return rv;
    }
    if ((rc = apr_dbd_pbselect(db->driver, p, db->handle, &res, st, 1, args)) != 0) {
        return ce_store_db_error(perr, db, p, rc, label);
    }
    copy_rows(*prows, db, p, res);
    return APR_SUCCESS;
}

apr_status_t ce_store_fetch_one(const char ***prow, ce_db_t *db, apr_pool_t *p, const char *label,
                                const void **args, const char **perr)
{
    apr_array_header_t *rows;
    apr_status_t rv = ce_store_fetch(&rows, db, p, label, args, perr);

    *prow = NULL;
    if (rv == APR_SUCCESS) {
        if (rows->nelts == 0) {
            return APR_NOTFOUND;
        }
        *prow = APR_ARRAY_IDX(rows, 0, const char **);
    }
    return rv;
}

apr_status_t ce_store_insert(apr_int64_t *pid, ce_db_t *db, apr_pool_t *p, const char *label,
                             const void **args, const char **perr)
{
    const char **row;
    apr_status_t rv = ce_store_fetch_one(&row, db, p, label, args, perr);

    if (rv == APR_NOTFOUND) {
        *perr = apr_psprintf(p, "Database error (%s): no id returned", label);
        rv = APR_EGENERAL;
    }
    *pid = rv == APR_SUCCESS && row[0] ? apr_atoi64(row[0]) : 0;
    return rv;
}

apr_status_t ce_store_run(int *pnrows, ce_db_t *db, apr_pool_t *p, const char *label,
                          const void **args, const char **perr)
{
    apr_dbd_prepared_t *st;
    apr_status_t rv;
    int rc;

    *pnrows = 0;
    /* SQLite: SQLite's own API, when the statement is prepared there */
    rv = ce_store_sqlite_run(pnrows, db, p, label, args, perr);
    if (rv != APR_ENOTIMPL && rv != APR_EAGAIN) {
        return rv;
    }
    if ((rv = statement(&st, db, p, label, perr)) != APR_SUCCESS) {
        return rv;
    }
    if ((rc = apr_dbd_pbquery(db->driver, p, db->handle, pnrows, st, args)) != 0) {
        return ce_store_db_error(perr, db, p, rc, label);
    }
    return APR_SUCCESS;
}

apr_status_t ce_store_exec(ce_db_t *db, apr_pool_t *p, const char *sql, const char **perr)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc = apr_dbd_select(db->driver, p, db->handle, &res, sql, 1);

    if (rc != 0) {
        return ce_store_db_error(perr, db, p, rc, "schema");
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        continue;
    }
    return APR_SUCCESS;
}

apr_status_t ce_store_exec_all(ce_db_t *db, apr_pool_t *p, const char *const *sql,
                               const char **perr)
{
    apr_status_t rv = APR_SUCCESS;

    for (; sql && *sql && rv == APR_SUCCESS; sql++) {
        rv = ce_store_exec(db, p, *sql, perr);
    }
    return rv;
}

apr_status_t ce_store_exec_update(ce_db_t *db, apr_pool_t *p, const char *sql, const char **perr)
{
    int nrows, rc = apr_dbd_query(db->driver, db->handle, &nrows, sql);

    return rc == 0 ? APR_SUCCESS : ce_store_db_error(perr, db, p, rc, "migration");
}

apr_status_t ce_store_select(apr_array_header_t **prows, ce_db_t *db, apr_pool_t *p,
                             const char *sql, const char **perr)
{
    apr_dbd_results_t *res = NULL;
    int rc;

    *prows = apr_array_make(p, 16, sizeof(const char **));
    if ((rc = apr_dbd_select(db->driver, p, db->handle, &res, sql, 1)) != 0) {
        return ce_store_db_error(perr, db, p, rc, "migration");
    }
    copy_rows(*prows, db, p, res);
    return APR_SUCCESS;
}

const char *ce_store_quote(ce_db_t *db, apr_pool_t *p, const char *s)
{
    return apr_pstrcat(p, "'", apr_dbd_escape(db->driver, p, s, db->handle), "'", NULL);
}

/* ------------------------------------------------------------------ */
/* Transactions                                                        */

apr_status_t ce_store_serialize(ce_db_t *db, int acquire, const char **perr)
{
    apr_status_t rv = db->serialize ? db->serialize(db->serialize_baton, acquire) : APR_SUCCESS;

    if (rv != APR_SUCCESS && perr) {
        *perr = "cannot take the database write lock";
    }
    return rv;
}

apr_status_t ce_store_tx_end(apr_dbd_transaction_t *tx, ce_db_t *db, apr_pool_t *p,
                             apr_status_t status, const char **perr)
{
    int rc = 0;

    if (tx && status != APR_SUCCESS) {
        apr_dbd_transaction_mode_set(db->driver, tx, APR_DBD_TRANSACTION_ROLLBACK);
    }
    if (tx) {
        rc = apr_dbd_transaction_end(db->driver, p, tx);
    }
    ce_store_serialize(db, 0, NULL);
    if (tx && rc == 0 && status == APR_SUCCESS) {
        ce_store_wal_after_commit(db);
    }
    if (rc != 0 && status == APR_SUCCESS) {
        return ce_store_db_error(perr, db, p, rc, "commit");
    }
    return status;
}

apr_status_t ce_store_tx_start(apr_dbd_transaction_t **ptx, ce_db_t *db, apr_pool_t *p,
                               const char **perr)
{
    apr_dbd_transaction_t *tx = NULL;
    apr_status_t rv;
    int rc;

    *ptx = NULL;
    if ((rv = ce_store_serialize(db, 1, perr)) != APR_SUCCESS) {
        return rv;
    }
    /* apr-util's pgsql driver writes through *tx when BEGIN fails (a lost
     * connection) and *tx is NULL, and crashes: hand it a zeroed block,
     * larger than its transaction record, to fill in instead. (Only it:
     * the sqlite3 driver sets a given record up only when it makes it.) */
    if (strcmp(apr_dbd_name(db->driver), "pgsql") == 0) {
        tx = apr_pcalloc(p, TX_RECORD_BYTES);
    }
    rc = apr_dbd_transaction_start(db->driver, p, db->handle, &tx);
    if (rc != 0) {
        rv = ce_store_db_error(perr, db, p, rc, "begin");
        /* The sqlite3 driver attaches the transaction even when BEGIN fails. */
        return ce_store_tx_end(tx, db, p, rv, perr);
    }
    *ptx = tx;
    return APR_SUCCESS;
}

void ce_store_close(ce_db_t *db)
{
    ce_store_sqlite_done(db);
    apr_dbd_close(db->driver, db->handle);
}
