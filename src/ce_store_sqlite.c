/* ce_store_sqlite: the prepared statements, run with SQLite's own API on
 * the connection (apr_dbd_native_handle): every prepared SELECT of
 * ce_store_fetch, the gateway's per-call revision read among them, and
 * (since 2026-12-05) the prepared INSERTs, UPDATEs and DELETEs.
 *
 * Why: apr-util's sqlite3 driver holds one mutex of the whole process
 * (apr_dbd_mutex_lock) around every statement of every connection, and
 * copies each row. The gateway checks, on every call, that the instance an
 * Element token opened is unchanged (ce_store_instance_revision): measured
 * on the 2-core machine (2026-12-03, 7 rounds each), the gateway reached
 * 1.02x of plain mod_proxy without that read, 0.92x taking a connection
 * but reading nothing, 0.73-0.77x with the read through apr_dbd: the
 * threads queue on that one mutex. Here each SELECT runs on the same
 * connection, prepared once per connection (kept in its pool, finalized
 * before apr_dbd closes it), under SQLite's own locking (its connections
 * are safe in threads of their own; mod_dbd gives each one to one thread
 * at a time). Writes, inside apr_dbd's transactions (BEGIN and COMMIT
 * stay apr_dbd's): a statement that fails fails its caller, which ends
 * the transaction with a rollback (ce_store_tx_end), as apr_dbd's own
 * record of a failure would. A statement that finds the database busy
 * changed nothing, and runs again through apr_dbd. */
#include <string.h>
#include <sqlite3.h>
#include <apr_dbd.h>
#include <apr_strings.h>

#include "ce_store_int.h"

int ce_store_sqlite_threading(void)
{
    /* Before SQLite's first use in this process only: SQLITE_MISUSE after. */
    if (!sqlite3_threadsafe() || sqlite3_config(SQLITE_CONFIG_MULTITHREAD) != SQLITE_OK) {
        return 0;
    }
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return 1;
}

int ce_store_sqlite_native(const ce_db_t *db)
{
    return db->pool && strcmp(apr_dbd_name(db->driver), "sqlite3") == 0 &&
           apr_dbd_native_handle(db->driver, db->handle) != NULL;
}

/* ---- prepared SELECTs ------------------------------------------------------ */

#define NATIVES_KEY "ce-sqlite-natives"
/* Most placeholders a statement has (more: left to apr_dbd). */
#define MAX_ARGS 32

/* One prepared SELECT: its statement, and its placeholders' types in
 * order, as apr_dbd's (L: %lld, l: %ld, i: %d, s: %s). */
typedef struct {
    sqlite3_stmt *st;
    int nargs;
    int rowid; /* an INSERT ... RETURNING id, run without the RETURNING */
    char types[MAX_ARGS];
} native_t;

/* What ends an INSERT whose one answer is the new row's id. SQLite gives
 * that id without it (sqlite3_last_insert_rowid: the id column is the
 * rowid); RETURNING costs an ephemeral table and a statement journal a
 * row (measured 2026-12-05: ~10k instructions a create). */
#define RETURNING_ID " RETURNING id"

/* A connection's prepared SELECTs, by label, and their statements (to
 * finalize, before the connection closes). */
typedef struct {
    apr_hash_t *by_label;
    apr_array_header_t *stmts;
} natives_t;

static apr_status_t finalize_all(void *data)
{
    natives_t *n = data;
    int i;

    for (i = 0; i < n->stmts->nelts; i++) {
        sqlite3_finalize(APR_ARRAY_IDX(n->stmts, i, sqlite3_stmt *));
    }
    n->stmts->nelts = 0;
    apr_hash_clear(n->by_label);
    return APR_SUCCESS;
}

/* Kept with the connection's apr_dbd statements (db->prepared). */
static natives_t *natives(const ce_db_t *db, int make)
{
    natives_t *n =
        db->prepared ? apr_hash_get(db->prepared, NATIVES_KEY, APR_HASH_KEY_STRING) : NULL;

    if (!n && make) {
        n = apr_palloc(db->pool, sizeof(*n));
        n->by_label = apr_hash_make(db->pool);
        n->stmts = apr_array_make(db->pool, 32, sizeof(sqlite3_stmt *));
        /* after the connection's own close: cleanups run in reverse */
        apr_pool_cleanup_register(db->pool, n, finalize_all, apr_pool_cleanup_null);
        apr_hash_set(db->prepared, NATIVES_KEY, APR_HASH_KEY_STRING, n);
    }
    return n;
}

/* apr_dbd's typed placeholders in sql as SQLite's ?: the text into out (in
 * p), the types into n. 0 when a placeholder is not one of ours. */
static int translate(const char **out, native_t *n, apr_pool_t *p, const char *sql)
{
    char *text = apr_palloc(p, strlen(sql) + 1), *o = text;
    static const struct {
        const char *spec;
        char type;
    } specs[] = {{"%lld", 'L'}, {"%ld", 'l'}, {"%d", 'i'}, {"%s", 's'}};
    apr_size_t k;

    n->nargs = 0;
    while (*sql) {
        if (*sql != '%') {
            *o++ = *sql++;
            continue;
        }
        for (k = 0; k < sizeof(specs) / sizeof(specs[0]); k++) {
            if (strncmp(sql, specs[k].spec, strlen(specs[k].spec)) == 0) {
                break;
            }
        }
        if (k == sizeof(specs) / sizeof(specs[0]) || n->nargs == MAX_ARGS) {
            return 0;
        }
        n->types[n->nargs++] = specs[k].type;
        *o++ = '?';
        sql += strlen(specs[k].spec);
    }
    *o = '\0';
    *out = text;
    return 1;
}

void ce_store_sqlite_prepare(ce_db_t *db, const char *label, const char *sql)
{
    sqlite3 *h;
    native_t *n;
    const char *text;
    size_t len;

    if ((strncmp(sql, "SELECT ", 7) != 0 && strncmp(sql, "INSERT ", 7) != 0 &&
         strncmp(sql, "UPDATE ", 7) != 0 && strncmp(sql, "DELETE ", 7) != 0) ||
        !ce_store_sqlite_native(db)) {
        return;
    }
    h = apr_dbd_native_handle(db->driver, db->handle);
    n = apr_pcalloc(db->pool, sizeof(*n));
    len = strlen(sql);
    if (strncmp(sql, "INSERT ", 7) == 0 && len > strlen(RETURNING_ID) &&
        strcmp(sql + len - strlen(RETURNING_ID), RETURNING_ID) == 0) {
        sql = apr_pstrmemdup(db->pool, sql, len - strlen(RETURNING_ID));
        n->rowid = 1;
    }
    if (!translate(&text, n, db->pool, sql) ||
        sqlite3_prepare_v3(h, text, -1, SQLITE_PREPARE_PERSISTENT, &n->st, NULL) != SQLITE_OK) {
        sqlite3_finalize(n->st);
        return; /* apr_dbd runs it */
    }
    APR_ARRAY_PUSH(natives(db, 1)->stmts, sqlite3_stmt *) = n->st;
    apr_hash_set(natives(db, 1)->by_label, label, APR_HASH_KEY_STRING, n);
}

static int bind_all(const native_t *n, const void **args)
{
    int i, rc = SQLITE_OK;

    for (i = 0; i < n->nargs && rc == SQLITE_OK; i++) {
        switch (n->types[i]) {
            case 'L':
                rc = sqlite3_bind_int64(n->st, i + 1, *(const apr_int64_t *)args[i]);
                break;
            case 'l':
                rc = sqlite3_bind_int64(n->st, i + 1, *(const long *)args[i]);
                break;
            case 'i':
                rc = sqlite3_bind_int(n->st, i + 1, *(const int *)args[i]);
                break;
            default:
                rc = args[i] ? sqlite3_bind_text(n->st, i + 1, args[i], -1, SQLITE_STATIC)
                             : sqlite3_bind_null(n->st, i + 1);
        }
    }
    return rc;
}

/* An integer column as apr_dbd would give it (decimal text), printed here
 * into p: sqlite3_column_text of an integer converts it in a buffer SQLite
 * allocates and frees on every row (measured 2026-12-04: ~15% of a GET's
 * instructions). */
static const char *decimal(sqlite3_int64 v, apr_pool_t *p)
{
    char buf[24], *e = buf + sizeof(buf), *d = e;
    sqlite3_uint64 u = v < 0 ? 0 - (sqlite3_uint64)v : (sqlite3_uint64)v;

    do {
        *--d = (char)('0' + u % 10);
    } while ((u /= 10) != 0);
    if (v < 0) {
        *--d = '-';
    }
    return apr_pstrmemdup(p, d, (apr_size_t)(e - d));
}

/* The current row's columns, copied into p (NULL for SQL NULL). */
static const char **row_copy(sqlite3_stmt *st, apr_pool_t *p)
{
    int ncols = sqlite3_column_count(st), i;
    const char **values = apr_palloc(p, (ncols ? ncols : 1) * sizeof(*values));

    for (i = 0; i < ncols; i++) {
        const unsigned char *v;

        switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL:
                values[i] = NULL;
                break;
            case SQLITE_INTEGER:
                values[i] = decimal(sqlite3_column_int64(st, i), p);
                break;
            default:
                v = sqlite3_column_text(st, i);
                values[i] =
                    v ? apr_pstrmemdup(p, (const char *)v, (apr_size_t)sqlite3_column_bytes(st, i))
                      : NULL;
        }
    }
    return values;
}

/* Runs label's statement natively, its rows (if rows) copied into p.
 * APR_ENOTIMPL: not prepared here; APR_EAGAIN: SQLite found the database
 * busy, and the statement changed nothing (the caller runs it through
 * apr_dbd, which waits). */
static apr_status_t native_step(apr_array_header_t *rows, int *pnrows, ce_db_t *db, apr_pool_t *p,
                                const char *label, const void **args, const char **perr)
{
    natives_t *all = natives(db, 0);
    native_t *n = all ? apr_hash_get(all->by_label, label, APR_HASH_KEY_STRING) : NULL;
    apr_status_t rv = APR_SUCCESS;
    int rc;

    if (!n) {
        return APR_ENOTIMPL;
    }
    rc = bind_all(n, args);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(n->st)) == SQLITE_ROW && rows) {
            APR_ARRAY_PUSH(rows, const char **) = row_copy(n->st, p);
        }
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        if (rows) {
            rows->nelts = 0;
        }
        rv = APR_EAGAIN;
    } else if (rc != SQLITE_DONE) {
        *perr = apr_psprintf(p, "Database error (%s): %s", label,
                             sqlite3_errmsg(sqlite3_db_handle(n->st)));
        rv = APR_EGENERAL;
    } else {
        if (pnrows) {
            *pnrows = sqlite3_changes(sqlite3_db_handle(n->st));
        }
        if (n->rowid && rows) {
            const char **row = apr_palloc(p, sizeof(*row));

            row[0] = decimal(sqlite3_last_insert_rowid(sqlite3_db_handle(n->st)), p);
            APR_ARRAY_PUSH(rows, const char **) = row;
        }
    }
    sqlite3_reset(n->st);
    sqlite3_clear_bindings(n->st); /* (bound static: the caller's) */
    return rv;
}

apr_status_t ce_store_sqlite_fetch(apr_array_header_t *rows, ce_db_t *db, apr_pool_t *p,
                                   const char *label, const void **args, const char **perr)
{
    return native_step(rows, NULL, db, p, label, args, perr);
}

apr_status_t ce_store_sqlite_run(int *pnrows, ce_db_t *db, apr_pool_t *p, const char *label,
                                 const void **args, const char **perr)
{
    return native_step(NULL, pnrows, db, p, label, args, perr);
}

void ce_store_sqlite_done(ce_db_t *db)
{
    natives_t *n;

    if (db->pool && (n = natives(db, 0)) != NULL) {
        apr_pool_cleanup_run(db->pool, n, finalize_all);
        apr_hash_set(db->prepared, NATIVES_KEY, APR_HASH_KEY_STRING, NULL);
    }
}
