/* ce_store: all SQL, through apr_dbd.
 *
 * Layout of this file: the schema and the driver dialects (the one place
 * where SQLite and PostgreSQL differ), the statements, a small helper layer
 * over apr_dbd (statement by label, fetch rows, run, transactions), then the
 * organization/user and instance functions of ce_store.h.
 *
 * Placeholders: statements are prepared with typed apr_dbd placeholders
 * (%lld for ids, %ld for longs, %d for ints, %s for text) and executed with
 * the binary-argument calls (apr_dbd_pbselect/pbquery), so SQLite binds real
 * integers and PostgreSQL declares the parameter types in its PREPARE. The
 * sqlite3 driver reports a statement that returns rows as an error from
 * apr_dbd_query/pvquery (SQLITE_ROW), so anything returning rows (pragmas,
 * INSERT ... RETURNING) goes through a select.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_allocator.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <openssl/crypto.h>

#include "ce_store.h"
#include "ce_crypto.h"
#include "ce_json.h"
#include "ce_log.h"

/* Key in db->prepared saying ce_store_init() is done on this connection. */
#define READY_KEY "ce_ready"
/* Room for a driver's transaction record (see tx_start). */
#define TX_RECORD_BYTES 256
/* Creates a process commits between its checkpoints (see create_checkpoint). */
#define CHECKPOINT_EVERY 1000
/* "No upper bound" for keyset pagination (before_id 0). */
#define ID_SENTINEL APR_INT64_MAX

/* ------------------------------------------------------------------ */
/* Schema and dialects                                                 */

/* What says which key a database was written with: the keyed digest and a
 * sealing of a fixed text (see key_check). */
#define KEY_CHECK_TABLE                                                                            \
    "CREATE TABLE IF NOT EXISTS ce_key_check (digest TEXT NOT NULL, sealed TEXT NOT NULL)"
#define KEY_CHECK_TEXT "mod_ceinstances key check"

/* Schema versions. A new database gets SCHEMA (the current version) at
 * once; an older one is brought up to date by the dialect's migrations,
 * one version at a time, in the same transaction. A version newer than
 * this module's is refused (an older module must not write a newer
 * schema).
 *   1  first release
 *   2  ce_instance_tag WITHOUT ROWID on SQLite (one b-tree less per tag)
 *   3  secrets at rest: tokens and secret configuration values sealed
 *      (AES-256-GCM), lookup digests keyed (HMAC-SHA-256), ce_key_check
 *      (a migration in C: it needs the key, see migrate_to_3) */
#define SCHEMA_VERSION 3

/* The current schema, given the dialect's auto-increment primary key and the suffix
 * of a table that needs no row id. Ids are never reused after a delete
 * (SQLite AUTOINCREMENT, PostgreSQL identity). A tag row is its key: SQLite
 * keeps it in one b-tree (WITHOUT ROWID), not a table plus its key index. */
/* clang-format off */
#define SCHEMA(ID_PK, NO_ROWID) {                                                         \
    "CREATE TABLE IF NOT EXISTS ce_organization (id " ID_PK ", name TEXT NOT NULL, "      \
        "secret_digest TEXT NOT NULL UNIQUE, created_date TEXT NOT NULL)",                \
    "CREATE TABLE IF NOT EXISTS ce_user (id " ID_PK ", "                                  \
        "organization_id BIGINT NOT NULL REFERENCES ce_organization (id), "              \
        "email_address TEXT NOT NULL, first_name TEXT NOT NULL DEFAULT '', "             \
        "last_name TEXT NOT NULL DEFAULT '', secret_digest TEXT NOT NULL UNIQUE, "       \
        "created_date TEXT NOT NULL)",                                                   \
    "CREATE TABLE IF NOT EXISTS ce_instance (id " ID_PK ", "                              \
        "organization_id BIGINT NOT NULL REFERENCES ce_organization (id), "              \
        "user_id BIGINT NOT NULL REFERENCES ce_user (id), element_id BIGINT NOT NULL, "  \
        "name TEXT NOT NULL, token TEXT NOT NULL, token_digest TEXT NOT NULL UNIQUE, "   \
        "tags TEXT NOT NULL DEFAULT '[]', configuration TEXT NOT NULL DEFAULT '{}', "    \
        "disabled INTEGER NOT NULL DEFAULT 0, max_cache_size BIGINT NOT NULL DEFAULT 0, "\
        "cache_ttl BIGINT NOT NULL DEFAULT 0, "                                          \
        "caching_enabled INTEGER NOT NULL DEFAULT 0, "                                   \
        "trace_logging_enabled INTEGER NOT NULL DEFAULT 0, "                             \
        "created_date TEXT NOT NULL, updated_date TEXT NOT NULL)",                       \
    "CREATE INDEX IF NOT EXISTS ce_instance_user ON ce_instance (user_id, id)",           \
    "CREATE INDEX IF NOT EXISTS ce_instance_user_element "                                \
        "ON ce_instance (user_id, element_id, id)",                                      \
    "CREATE TABLE IF NOT EXISTS ce_instance_tag ("                                        \
        "instance_id BIGINT NOT NULL REFERENCES ce_instance (id) ON DELETE CASCADE, "    \
        "tag TEXT NOT NULL, PRIMARY KEY (instance_id, tag))" NO_ROWID,                 \
    "CREATE INDEX IF NOT EXISTS ce_instance_tag_tag "                                     \
        "ON ce_instance_tag (tag, instance_id)",                                         \
    KEY_CHECK_TABLE,                                                                      \
    NULL}
/* clang-format on */

/* busy_timeout only covers writers outside httpd (ceadmin): inside httpd
 * writers queue on ce_db_t.serialize. Checkpoints: group commit runs a
 * PASSIVE one outside the write lock every CHECKPOINT_EVERY creates;
 * SQLite's own, in the commit that crosses 10000 log pages (not its 1000),
 * is the safety net for everything else. */
/* clang-format off */
static const char *const sqlite3_setup[] = {
    "PRAGMA busy_timeout=10000",
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA wal_autocheckpoint=10000",
    NULL};
/* clang-format on */
static const char *const sqlite3_schema[] =
    SCHEMA("INTEGER PRIMARY KEY AUTOINCREMENT", " WITHOUT ROWID");

/* SQLite cannot change a table to WITHOUT ROWID: rebuild it. */
static const char *const sqlite3_to_2[] = {
    "CREATE TABLE ce_instance_tag_2 ("
    "instance_id BIGINT NOT NULL REFERENCES ce_instance (id) ON DELETE CASCADE, "
    "tag TEXT NOT NULL, PRIMARY KEY (instance_id, tag)) WITHOUT ROWID",
    "INSERT INTO ce_instance_tag_2 (instance_id, tag) SELECT instance_id, tag FROM ce_instance_tag",
    "DROP TABLE ce_instance_tag",
    "ALTER TABLE ce_instance_tag_2 RENAME TO ce_instance_tag",
    "CREATE INDEX ce_instance_tag_tag ON ce_instance_tag (tag, instance_id)",
    NULL};
/* migrations[v] takes version v to v + 1 (index 0 unused) */
static const char *const sqlite3_to_3[] = {KEY_CHECK_TABLE, NULL};
static const char *const *const sqlite3_migrations[SCHEMA_VERSION] = {NULL, sqlite3_to_2,
                                                                      sqlite3_to_3};

static const char *const pgsql_setup[] = {NULL};
static const char *const nothing[] = {NULL};
static const char *const pgsql_to_3[] = {KEY_CHECK_TABLE, NULL};
static const char *const *const pgsql_migrations[SCHEMA_VERSION] = {NULL, nothing, pgsql_to_3};
static const char *const pgsql_schema[] = SCHEMA("BIGINT GENERATED BY DEFAULT AS IDENTITY "
                                                 "PRIMARY KEY",
                                                 "");

typedef struct {
    const char *driver;                   /* apr_dbd_name() */
    const char *const *setup;             /* per connection, outside any transaction */
    const char *schema_lock;              /* serializes concurrent schema creation, or NULL */
    const char *const *schema;            /* the current version, run in one transaction */
    const char *const *const *migrations; /* [v]: from version v to v + 1 */
    const char *checkpoint;  /* run by group commit now and then, outside the lock, or NULL */
    const char *twin_params; /* selects apr_dbd_open params for another connection to the
                                same database, or NULL (see open_twin) */
} dialect_t;

static const dialect_t dialects[] = {
    /* BEGIN IMMEDIATE (the sqlite3 driver's transaction start) already serializes. */
    {"sqlite3", sqlite3_setup, NULL, sqlite3_schema, sqlite3_migrations,
     "PRAGMA wal_checkpoint(PASSIVE)",
     "SELECT file FROM pragma_database_list WHERE name = 'main' AND file <> ''"},
    /* CREATE ... IF NOT EXISTS races on the catalog in PostgreSQL without a lock. */
    {"pgsql", pgsql_setup, "SELECT pg_advisory_xact_lock(4242001)", pgsql_schema, pgsql_migrations,
     NULL, NULL},
};

static const dialect_t *dialect_of(const apr_dbd_driver_t *driver)
{
    const char *name = apr_dbd_name(driver);
    apr_size_t i;

    for (i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++) {
        if (strcmp(dialects[i].driver, name) == 0) {
            return &dialects[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Statements (portable SQL)                                           */

#define INSTANCE_COLUMNS                                                                           \
    "i.id, i.organization_id, i.element_id, i.name, i.token, i.tags, i.configuration, "            \
    "i.disabled, i.max_cache_size, i.cache_ttl, i.caching_enabled, "                               \
    "i.trace_logging_enabled, i.created_date, i.updated_date"

/* Column positions in INSTANCE_COLUMNS. */
enum {
    IC_ID,
    IC_ORGANIZATION,
    IC_ELEMENT,
    IC_NAME,
    IC_TOKEN,
    IC_TAGS,
    IC_CONFIGURATION,
    IC_DISABLED,
    IC_MAX_CACHE_SIZE,
    IC_CACHE_TTL,
    IC_CACHING,
    IC_TRACE,
    IC_CREATED,
    IC_UPDATED
};

#define USER_COLUMNS "u.id, u.organization_id, u.email_address, u.first_name, u.last_name"

/* Listing: owner, before id, [element], [first tag], limit. With a tag the
 * scan starts from the tag index (CROSS JOIN fixes that join order in
 * SQLite and is an ordinary inner join elsewhere). */
#define LIST_ALL(ELEMENT)                                                                          \
    "SELECT " INSTANCE_COLUMNS " FROM ce_instance i WHERE i.user_id = %lld "                       \
    "AND i.id < %lld " ELEMENT "ORDER BY i.id DESC LIMIT %d"
#define LIST_TAG(ELEMENT)                                                                          \
    "SELECT " INSTANCE_COLUMNS " FROM ce_instance_tag t CROSS JOIN ce_instance i "                 \
    "WHERE i.id = t.instance_id AND i.user_id = %lld AND t.instance_id < %lld " ELEMENT            \
    "AND t.tag = %s ORDER BY t.instance_id DESC LIMIT %d"
#define BY_ELEMENT "AND i.element_id = %ld "

typedef struct {
    const char *label;
    const char *sql;
} statement_t;

static const statement_t statements[] = {
    {"ce_insert_organization", "INSERT INTO ce_organization (name, secret_digest, created_date) "
                               "VALUES (%s, %s, %s) RETURNING id"},
    {"ce_select_organization", "SELECT id FROM ce_organization WHERE id = %lld"},
    {"ce_select_organizations", "SELECT id, name, created_date FROM ce_organization ORDER BY id"},
    {"ce_update_organization_secret",
     "UPDATE ce_organization SET secret_digest = %s WHERE id = %lld"},
    {"ce_insert_user", "INSERT INTO ce_user (organization_id, email_address, first_name, "
                       "last_name, secret_digest, created_date) "
                       "VALUES (%lld, %s, %s, %s, %s, %s) RETURNING id"},
    {"ce_update_user_secret", "UPDATE ce_user SET secret_digest = %s WHERE id = %lld"},
    {"ce_select_user_by_secrets",
     "SELECT " USER_COLUMNS " FROM ce_user u JOIN ce_organization o ON o.id = u.organization_id "
     "WHERE u.secret_digest = %s AND o.secret_digest = %s"},
    {"ce_insert_instance",
     "INSERT INTO ce_instance (organization_id, user_id, element_id, name, token, token_digest, "
     "tags, configuration, disabled, max_cache_size, cache_ttl, caching_enabled, "
     "trace_logging_enabled, created_date, updated_date) VALUES (%lld, %lld, %ld, %s, %s, %s, "
     "%s, %s, %d, %ld, %ld, %d, %d, %s, %s) RETURNING id"},
    {"ce_select_instance_admin", "SELECT " INSTANCE_COLUMNS " FROM ce_instance i WHERE i.id = %lld"},
    {"ce_select_instance",
     "SELECT " INSTANCE_COLUMNS " FROM ce_instance i WHERE i.id = %lld AND i.user_id = %lld"},
    {"ce_select_instance_by_token",
     "SELECT id FROM ce_instance WHERE token_digest = %s AND user_id = %lld"},
    {"ce_update_instance",
     "UPDATE ce_instance SET name = %s, element_id = %ld, tags = %s, configuration = %s, "
     "disabled = %d, max_cache_size = %ld, cache_ttl = %ld, caching_enabled = %d, "
     "trace_logging_enabled = %d, updated_date = %s WHERE id = %lld AND user_id = %lld"},
    {"ce_delete_instance", "DELETE FROM ce_instance WHERE id = %lld AND user_id = %lld"},
    {"ce_insert_instance_tag", "INSERT INTO ce_instance_tag (instance_id, tag) VALUES (%lld, %s)"},
    {"ce_delete_instance_tags", "DELETE FROM ce_instance_tag WHERE instance_id = %lld"},
    {"ce_select_instances", LIST_ALL("")},
    {"ce_select_instances_by_element", LIST_ALL(BY_ELEMENT)},
    {"ce_select_instances_by_tag", LIST_TAG("")},
    {"ce_select_instances_by_element_tag", LIST_TAG(BY_ELEMENT)},
};

/* ------------------------------------------------------------------ */
/* apr_dbd helpers                                                     */

/* *perr = the driver's message for rv; returns APR_EGENERAL. Only the first
 * line: PostgreSQL's DETAIL line quotes the values of a violated key. */
static apr_status_t db_error(const char **perr, const ce_db_t *db, apr_pool_t *p, int rv,
                             const char *what)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, rv);

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

/* Runs prepared statement label with args and returns all its rows in
 * *prows, each a const char *[] of the columns copied into p (NULL for SQL
 * NULL). The rows are always drained, and copied because the pgsql driver
 * frees its result when the last row has been read. */
static apr_status_t fetch(apr_array_header_t **prows, ce_db_t *db, apr_pool_t *p, const char *label,
                          const void **args, const char **perr)
{
    apr_dbd_prepared_t *st;
    apr_dbd_results_t *res = NULL;
    apr_status_t rv;
    int rc;

    *prows = apr_array_make(p, 4, sizeof(const char **));
    if ((rv = statement(&st, db, p, label, perr)) != APR_SUCCESS) {
        return rv;
    }
    if ((rc = apr_dbd_pbselect(db->driver, p, db->handle, &res, st, 1, args)) != 0) {
        return db_error(perr, db, p, rc, label);
    }
    copy_rows(*prows, db, p, res);
    return APR_SUCCESS;
}

/* As fetch(), for exactly one row: APR_NOTFOUND when there is none. */
static apr_status_t fetch_one(const char ***prow, ce_db_t *db, apr_pool_t *p, const char *label,
                              const void **args, const char **perr)
{
    apr_array_header_t *rows;
    apr_status_t rv = fetch(&rows, db, p, label, args, perr);

    *prow = NULL;
    if (rv == APR_SUCCESS) {
        if (rows->nelts == 0) {
            return APR_NOTFOUND;
        }
        *prow = APR_ARRAY_IDX(rows, 0, const char **);
    }
    return rv;
}

/* Runs an INSERT ... RETURNING id. */
static apr_status_t insert(apr_int64_t *pid, ce_db_t *db, apr_pool_t *p, const char *label,
                           const void **args, const char **perr)
{
    const char **row;
    apr_status_t rv = fetch_one(&row, db, p, label, args, perr);

    if (rv == APR_NOTFOUND) {
        *perr = apr_psprintf(p, "Database error (%s): no id returned", label);
        rv = APR_EGENERAL;
    }
    *pid = rv == APR_SUCCESS && row[0] ? apr_atoi64(row[0]) : 0;
    return rv;
}

/* Runs a prepared statement that returns no rows; *pnrows = rows affected. */
static apr_status_t run(int *pnrows, ce_db_t *db, apr_pool_t *p, const char *label,
                        const void **args, const char **perr)
{
    apr_dbd_prepared_t *st;
    apr_status_t rv;
    int rc;

    *pnrows = 0;
    if ((rv = statement(&st, db, p, label, perr)) != APR_SUCCESS) {
        return rv;
    }
    if ((rc = apr_dbd_pbquery(db->driver, p, db->handle, pnrows, st, args)) != 0) {
        return db_error(perr, db, p, rc, label);
    }
    return APR_SUCCESS;
}

/* Runs unprepared sql whose rows, if any, are not wanted (pragmas, DDL).
 * Through a select, so that a statement returning a row (PRAGMA
 * journal_mode) is no error on sqlite3; the rows are drained. */
static apr_status_t exec_sql(ce_db_t *db, apr_pool_t *p, const char *sql, const char **perr)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rc = apr_dbd_select(db->driver, p, db->handle, &res, sql, 1);

    if (rc != 0) {
        return db_error(perr, db, p, rc, "schema");
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        continue;
    }
    return APR_SUCCESS;
}

static apr_status_t exec_all(ce_db_t *db, apr_pool_t *p, const char *const *sql, const char **perr)
{
    apr_status_t rv = APR_SUCCESS;

    for (; *sql && rv == APR_SUCCESS; sql++) {
        rv = exec_sql(db, p, *sql, perr);
    }
    return rv;
}

/* Ends transaction tx: commits when status is APR_SUCCESS, else rolls back.
 * Returns status, or the commit's failure. */
static apr_status_t serialize(ce_db_t *db, int acquire, const char **perr)
{
    apr_status_t rv = db->serialize ? db->serialize(db->serialize_baton, acquire) : APR_SUCCESS;

    if (rv != APR_SUCCESS && perr) {
        *perr = "cannot take the database write lock";
    }
    return rv;
}

/* Ends transaction tx (may be NULL): commits when status is APR_SUCCESS,
 * else rolls back; then lets the next writer in. Returns status, or the
 * commit's failure. */
static apr_status_t tx_end(apr_dbd_transaction_t *tx, ce_db_t *db, apr_pool_t *p,
                           apr_status_t status, const char **perr)
{
    int rc = 0;

    if (tx && status != APR_SUCCESS) {
        apr_dbd_transaction_mode_set(db->driver, tx, APR_DBD_TRANSACTION_ROLLBACK);
    }
    if (tx) {
        rc = apr_dbd_transaction_end(db->driver, p, tx);
    }
    serialize(db, 0, NULL);
    if (rc != 0 && status == APR_SUCCESS) {
        return db_error(perr, db, p, rc, "commit");
    }
    return status;
}

/* Begins a write transaction, queued behind other writers (db->serialize).
 * Every successful call is paired with one tx_end. */
static apr_status_t tx_start(apr_dbd_transaction_t **ptx, ce_db_t *db, apr_pool_t *p,
                             const char **perr)
{
    apr_dbd_transaction_t *tx = NULL;
    apr_status_t rv;
    int rc;

    *ptx = NULL;
    if ((rv = serialize(db, 1, perr)) != APR_SUCCESS) {
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
        rv = db_error(perr, db, p, rc, "begin");
        /* The sqlite3 driver attaches the transaction even when BEGIN fails. */
        return tx_end(tx, db, p, rv, perr);
    }
    *ptx = tx;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Initialization                                                      */

/* sql-quoted text literal of s (apr_dbd_escape, then single quotes). */
static const char *quote(ce_db_t *db, apr_pool_t *p, const char *s)
{
    return apr_pstrcat(p, "'", apr_dbd_escape(db->driver, p, s, db->handle), "'", NULL);
}

/* ------------------------------------------------------------------ */
/* Secrets at rest                                                     */

/* A sealed configuration value is stored as {"$sealed": "ce1:..."}: an
 * object, which no caller's value can be (values are scalars). */
#define SEALED_KEY "$sealed"
#define TOKEN_AAD "token"
#define KEY_CHECK_AAD "key-check"

static const char *config_aad(apr_pool_t *p, const char *key)
{
    return apr_pstrcat(p, "config:", key, NULL);
}

/* Configuration text to store: the values inst says are secret (all of
 * them when inst is NULL) sealed, each as the JSON text of the value. */
static const char *seal_configuration(apr_pool_t *p, const ce_keys_t *keys,
                                      const json_t *config, const ce_instance_t *inst)
{
    json_t *out, *v;
    const char *key, *text, *sealed;

    if (!config) {
        return "{}";
    }
    out = ce_json_object(p);
    json_object_foreach((json_t *)config, key, v)
    {
        if (json_is_null(v) || (inst && !ce_instance_secret_entry(inst, key))) {
            json_object_set(out, key, v);
            continue;
        }
        if (!(text = ce_json_dump(p, v)) ||
            !(sealed = ce_crypto_seal(p, keys, config_aad(p, key), text, strlen(text)))) {
            return NULL;
        }
        json_object_set_new(out, key, json_pack("{s:s}", SEALED_KEY, sealed));
    }
    return ce_json_dump(p, out);
}

/* Opens every sealed value of config in place. APR_EGENERAL with *perr
 * (naming the entry, never its content) when one fails authentication. */
static apr_status_t open_configuration(json_t *config, apr_pool_t *p, const ce_keys_t *keys,
                                       const char **perr)
{
    const char *key, *plain, *err;
    apr_size_t len;
    json_t *v, *value;
    void *tmp;

    json_object_foreach_safe(config, tmp, key, v)
    {
        const char *sealed = json_string_value(json_object_get(v, SEALED_KEY));

        if (!json_is_object(v)) {
            continue;
        }
        if (!sealed || ce_crypto_open(&plain, &len, p, keys, config_aad(p, key), sealed) !=
                           APR_SUCCESS ||
            ce_json_parse(&value, p, plain, len, &err) != APR_SUCCESS) {
            *perr = apr_psprintf(p, "the stored value of configuration entry %s fails "
                                    "authentication (tampered, or another key)", key);
            return APR_EGENERAL;
        }
        json_object_set(config, key, value);
    }
    return APR_SUCCESS;
}

/* Records (first use) or verifies which keys the database is written with. */
static apr_status_t key_check(ce_db_t *db, apr_pool_t *p, const char **perr)
{
    const char *digest = ce_crypto_keyed_digest(p, db->keys, KEY_CHECK_TEXT);
    const char *plain, *stored_digest = NULL, *stored_sealed = NULL, *sealed;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_size_t len;
    int rc, nrows;

    rc = apr_dbd_select(db->driver, p, db->handle, &res,
                        "SELECT digest, sealed FROM ce_key_check", 1);
    if (rc != 0) {
        return db_error(perr, db, p, rc, "key check");
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if (!stored_digest) {
            stored_digest = apr_pstrdup(p, apr_dbd_get_entry(db->driver, row, 0));
            stored_sealed = apr_pstrdup(p, apr_dbd_get_entry(db->driver, row, 1));
        }
    }
    if (stored_digest) {
        if (!ce_crypto_equal(stored_digest, digest)) {
            *perr = "The key file does not match this database: its digest key is not the "
                    "one the database was written with";
            return APR_EACCES;
        }
        if (ce_crypto_open(&plain, &len, p, db->keys, KEY_CHECK_AAD, stored_sealed) !=
            APR_SUCCESS) {
            *perr = "The key file does not match this database: its encryption key is not "
                    "the one the database was written with";
            return APR_EACCES;
        }
        return APR_SUCCESS;
    }
    sealed = ce_crypto_seal(p, db->keys, KEY_CHECK_AAD, KEY_CHECK_TEXT, strlen(KEY_CHECK_TEXT));
    if (!digest || !sealed) {
        *perr = "Could not compute the key check";
        return APR_EGENERAL;
    }
    rc = apr_dbd_query(db->driver, db->handle, &nrows,
                       apr_psprintf(p, "INSERT INTO ce_key_check (digest, sealed) "
                                       "VALUES ('%s', '%s')", digest, sealed));
    return rc == 0 ? APR_SUCCESS : db_error(perr, db, p, rc, "key check");
}

/* Runs sql (no rows) on db; the values in it are our own hex/base64. */
static apr_status_t exec_update(ce_db_t *db, apr_pool_t *p, const char *sql, const char **perr)
{
    int nrows, rc = apr_dbd_query(db->driver, db->handle, &nrows, sql);

    return rc == 0 ? APR_SUCCESS : db_error(perr, db, p, rc, "migration");
}

/* All rows of sql (unprepared), copied into p. */
static apr_status_t select_all(apr_array_header_t **prows, ce_db_t *db, apr_pool_t *p,
                               const char *sql, const char **perr)
{
    apr_dbd_results_t *res = NULL;
    int rc;

    *prows = apr_array_make(p, 16, sizeof(const char **));
    if ((rc = apr_dbd_select(db->driver, p, db->handle, &res, sql, 1)) != 0) {
        return db_error(perr, db, p, rc, "migration");
    }
    copy_rows(*prows, db, p, res);
    return APR_SUCCESS;
}

/* Version 2 -> 3: what was stored in clear is sealed and keyed in place.
 * Secret digests (SHA-256) become keyed digests of themselves; tokens are
 * sealed and their digests keyed; every configuration value is sealed
 * (which are secret depends on the catalog, not at hand here: sealing all
 * is safe, and the next write of an instance seals only its secret ones). */
static apr_status_t migrate_to_3(ce_db_t *db, apr_pool_t *p, const char **perr)
{
    static const char *const tables[] = {"ce_organization", "ce_user", NULL};
    apr_array_header_t *rows;
    apr_status_t rv = APR_SUCCESS;
    const char *const *t;
    int i;

    for (t = tables; *t && rv == APR_SUCCESS; t++) {
        rv = select_all(&rows, db, p, apr_psprintf(p, "SELECT id, secret_digest FROM %s", *t),
                        perr);
        for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
            const char **r = APR_ARRAY_IDX(rows, i, const char **);
            const char *keyed = ce_crypto_key_digest(p, db->keys, r[1]);

            rv = keyed ? exec_update(db, p,
                                     apr_psprintf(p, "UPDATE %s SET secret_digest = '%s' "
                                                     "WHERE id = %s",
                                                  *t, keyed, r[0]),
                                     perr)
                       : APR_EGENERAL;
        }
    }
    if (rv == APR_SUCCESS) {
        rv = select_all(&rows, db, p, "SELECT id, token, configuration FROM ce_instance", perr);
    }
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        const char **r = APR_ARRAY_IDX(rows, i, const char **);
        const char *token = r[1] ? r[1] : "", *err;
        const char *sealed = ce_crypto_seal(p, db->keys, TOKEN_AAD, token, strlen(token));
        const char *digest = ce_crypto_keyed_digest(p, db->keys, token);
        const char *config = NULL;
        json_t *cfg;

        if (ce_json_parse(&cfg, p, r[2] ? r[2] : "{}", strlen(r[2] ? r[2] : "{}"), &err) ==
                APR_SUCCESS &&
            json_is_object(cfg)) {
            config = seal_configuration(p, db->keys, cfg, NULL);
        }
        if (!sealed || !digest || !config) {
            *perr = apr_psprintf(p, "Could not seal instance %s", r[0]);
            return APR_EGENERAL;
        }
        rv = exec_update(db, p,
                         apr_psprintf(p, "UPDATE ce_instance SET token = '%s', token_digest = '%s', "
                                         "configuration = %s WHERE id = %s",
                                      sealed, digest, quote(db, p, config), r[0]),
                         perr);
    }
    return rv;
}

/* Re-seals one sealed configuration text from keys "from" to "to". */
static const char *reseal_configuration(apr_pool_t *p, const ce_keys_t *from, const ce_keys_t *to,
                                        const char *text, const char **perr)
{
    json_t *cfg, *out, *v;
    const char *key, *plain, *sealed;
    apr_size_t len;

    if (ce_json_parse(&cfg, p, text ? text : "{}", strlen(text ? text : "{}"), perr) !=
            APR_SUCCESS ||
        !json_is_object(cfg)) {
        return NULL;
    }
    out = ce_json_object(p);
    json_object_foreach(cfg, key, v)
    {
        const char *s = json_string_value(json_object_get(v, SEALED_KEY));

        if (!json_is_object(v)) {
            json_object_set(out, key, v);
            continue;
        }
        if (!s || ce_crypto_open(&plain, &len, p, from, config_aad(p, key), s) != APR_SUCCESS ||
            !(sealed = ce_crypto_seal(p, to, config_aad(p, key), plain, len))) {
            *perr = apr_psprintf(p, "configuration entry %s fails authentication", key);
            return NULL;
        }
        json_object_set_new(out, key, json_pack("{s:s}", SEALED_KEY, sealed));
    }
    return ce_json_dump(p, out);
}

apr_status_t ce_store_rekey(ce_db_t *db, apr_pool_t *p, const ce_keys_t *to, const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_array_header_t *rows;
    ce_db_t next = *db;
    apr_status_t rv;
    int i;

    if (CRYPTO_memcmp(db->keys->mac, to->mac, sizeof(to->mac)) != 0) {
        *perr = "The new key file has another digest key: user and organization secrets are "
                "stored only as digests under the old one, so it must be kept (make the new "
                "file with: ceadmin keygen --rotate OLD NEW)";
        return APR_EINVAL;
    }
    if ((rv = tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = select_all(&rows, db, p, "SELECT id, token, configuration FROM ce_instance", perr);
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        const char **r = APR_ARRAY_IDX(rows, i, const char **);
        const char *token, *sealed = NULL, *config = NULL;
        apr_size_t len;

        if (ce_crypto_open(&token, &len, p, db->keys, TOKEN_AAD, r[1]) == APR_SUCCESS) {
            sealed = ce_crypto_seal(p, to, TOKEN_AAD, token, len);
            config = reseal_configuration(p, db->keys, to, r[2], perr);
        }
        if (!sealed || !config) {
            *perr = apr_psprintf(p, "Instance %s: a stored value fails authentication with "
                                    "the old key; nothing was changed",
                                 r[0]);
            rv = APR_EGENERAL;
            break;
        }
        rv = exec_update(db, p,
                         apr_psprintf(p, "UPDATE ce_instance SET token = '%s', configuration = %s "
                                         "WHERE id = %s",
                                      sealed, quote(db, p, config), r[0]),
                         perr);
    }
    if (rv == APR_SUCCESS) {
        rv = exec_update(db, p, "DELETE FROM ce_key_check", perr);
    }
    if (rv == APR_SUCCESS) {
        next.keys = to;
        rv = key_check(&next, p, perr);
    }
    return tx_end(tx, db, p, rv, perr);
}

/* The schema version recorded in the database, 0 when none is. */
static apr_status_t schema_version(int *pversion, ce_db_t *db, apr_pool_t *p, const char **perr)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v;
    int rc;

    *pversion = 0;
    rc = apr_dbd_select(db->driver, p, db->handle, &res,
                        "SELECT MAX(version) FROM ce_schema_version", 1);
    if (rc != 0) {
        return db_error(perr, db, p, rc, "schema version");
    }
    while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
        if ((v = apr_dbd_get_entry(db->driver, row, 0)) != NULL) {
            *pversion = atoi(v);
        }
    }
    return APR_SUCCESS;
}

/* Creates the schema, or migrates it to SCHEMA_VERSION, in one
 * transaction (so concurrent first connections, httpd children and
 * ceadmin, do it once). */
static apr_status_t create_schema(ce_db_t *db, apr_pool_t *p, const dialect_t *d, const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv = tx_start(&tx, db, p, perr);
    int version = 0, found;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (d->schema_lock) {
        rv = exec_sql(db, p, d->schema_lock, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = exec_sql(
            db, p, "CREATE TABLE IF NOT EXISTS ce_schema_version (version INTEGER NOT NULL)", perr);
    }
    if (rv == APR_SUCCESS) {
        rv = schema_version(&version, db, p, perr);
    }
    found = version;
    if (rv == APR_SUCCESS && version > SCHEMA_VERSION) {
        *perr = apr_psprintf(p,
                             "The database's schema is version %d, newer than this "
                             "module's (%d): upgrade the module",
                             version, SCHEMA_VERSION);
        rv = APR_EGENERAL;
    }
    if (rv == APR_SUCCESS && version == 0) {
        rv = exec_all(db, p, d->schema, perr);
    } else {
        for (; rv == APR_SUCCESS && version > 0 && version < SCHEMA_VERSION; version++) {
            rv = exec_all(db, p, d->migrations[version], perr);
            if (rv == APR_SUCCESS && version + 1 == 3) {
                rv = migrate_to_3(db, p, perr);
            }
        }
    }
    if (rv == APR_SUCCESS) {
        rv = key_check(db, p, perr);
    }
    if (rv == APR_SUCCESS && found != SCHEMA_VERSION) {
        rv = exec_sql(db, p, "DELETE FROM ce_schema_version", perr);
        if (rv == APR_SUCCESS) {
            rv = exec_sql(db, p,
                          apr_psprintf(p, "INSERT INTO ce_schema_version (version) VALUES (%d)",
                                       SCHEMA_VERSION),
                          perr);
        }
    }
    return tx_end(tx, db, p, rv, perr);
}

/* Prepares every statement into db->prepared; labels already there (from an
 * earlier, interrupted init) are kept. */
static apr_status_t prepare_all(ce_db_t *db, const char **perr)
{
    apr_size_t i;

    for (i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        const statement_t *s = &statements[i];
        apr_dbd_prepared_t *st = NULL;
        int rc;

        if (apr_hash_get(db->prepared, s->label, APR_HASH_KEY_STRING)) {
            continue;
        }
        rc = apr_dbd_prepare(db->driver, db->pool, db->handle, s->sql, s->label, &st);
        if (rc != 0) {
            return db_error(perr, db, db->pool, rc, s->label);
        }
        apr_hash_set(db->prepared, s->label, APR_HASH_KEY_STRING, st);
    }
    return APR_SUCCESS;
}

apr_status_t ce_store_reprepare(ce_db_t *db, const char **perr)
{
    const char **row;
    const apr_int64_t none = 0;
    const void *args[1] = {&none};

    if (fetch_one(&row, db, db->pool, "ce_select_organization", args, perr) != APR_EGENERAL) {
        return APR_EAGAIN; /* the statements are there: the failure was another */
    }
    apr_hash_clear(db->prepared);
    return ce_store_init(db, perr);
}

apr_status_t ce_store_init(ce_db_t *db, const char **perr)
{
    static const char ready[] = "1";
    const dialect_t *d;
    apr_pool_t *scratch;
    apr_status_t rv;

    if (apr_hash_get(db->prepared, READY_KEY, APR_HASH_KEY_STRING)) {
        return APR_SUCCESS;
    }
    if (!db->keys) {
        *perr = "No key file: secrets cannot be sealed (CEInstancesKeyFile, ceadmin --key)";
        return APR_EINVAL;
    }
    if (!(d = dialect_of(db->driver))) {
        *perr = apr_psprintf(db->pool, "Unsupported database driver %s (use sqlite3 or pgsql)",
                             apr_dbd_name(db->driver));
        return APR_ENOTIMPL;
    }
    apr_pool_create(&scratch, db->pool);
    /* Switching the journal to WAL needs the database to itself. */
    if ((rv = serialize(db, 1, perr)) == APR_SUCCESS) {
        rv = exec_all(db, scratch, d->setup, perr);
        serialize(db, 0, NULL);
    }
    if (rv == APR_SUCCESS) {
        rv = create_schema(db, scratch, d, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = prepare_all(db, perr);
    }
    if (rv == APR_SUCCESS) {
        apr_hash_set(db->prepared, READY_KEY, APR_HASH_KEY_STRING, ready);
    } else {
        *perr = apr_pstrdup(db->pool, *perr); /* outlive scratch */
    }
    apr_pool_destroy(scratch);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Organizations and users                                             */

/* A fresh secret and the digest that is stored in its place. */
static apr_status_t new_secret(const char **psecret, const char **pdigest, const ce_db_t *db,
                               apr_pool_t *p, const char **perr)
{
    *pdigest = NULL;
    if (ce_crypto_token(psecret, p, CE_TOKEN_BYTES) == APR_SUCCESS) {
        *pdigest = ce_crypto_keyed_digest(p, db->keys, *psecret);
    }
    if (!*pdigest) {
        *perr = "Could not generate a secret";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static apr_status_t insert_organization(ce_organization_t **porg, const char **psecret, ce_db_t *db,
                                        apr_pool_t *p, const char *name, const char **perr)
{
    ce_organization_t *org = apr_pcalloc(p, sizeof(*org));
    const char *digest;
    apr_status_t rv = new_secret(psecret, &digest, db, p, perr);
    const void *args[3];

    org->name = apr_pstrdup(p, or_empty(name));
    org->created_date = ce_instance_now(p);
    args[0] = org->name;
    args[1] = digest;
    args[2] = org->created_date;
    if (rv == APR_SUCCESS) {
        rv = insert(&org->id, db, p, "ce_insert_organization", args, perr);
    }
    *porg = rv == APR_SUCCESS ? org : NULL;
    return rv;
}

static apr_status_t insert_user(ce_user_t **puser, const char **psecret, ce_db_t *db, apr_pool_t *p,
                                apr_int64_t org_id, const char *email, const char *first_name,
                                const char *last_name, const char **perr)
{
    ce_user_t *user = apr_pcalloc(p, sizeof(*user));
    const char *digest;
    apr_status_t rv = new_secret(psecret, &digest, db, p, perr);
    const void *args[6];

    user->organization_id = org_id;
    user->email_address = apr_pstrdup(p, or_empty(email));
    user->first_name = apr_pstrdup(p, or_empty(first_name));
    user->last_name = apr_pstrdup(p, or_empty(last_name));
    args[0] = &user->organization_id;
    args[1] = user->email_address;
    args[2] = user->first_name;
    args[3] = user->last_name;
    args[4] = digest;
    args[5] = ce_instance_now(p);
    if (rv == APR_SUCCESS) {
        rv = insert(&user->id, db, p, "ce_insert_user", args, perr);
    }
    *puser = rv == APR_SUCCESS ? user : NULL;
    return rv;
}

apr_status_t ce_store_signup(ce_organization_t **porg, ce_user_t **puser, const char **porg_secret,
                             const char **puser_secret, ce_db_t *db, apr_pool_t *p,
                             const char *org_name, const char *email, const char *first_name,
                             const char *last_name, const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv;

    *porg = NULL;
    *puser = NULL;
    if ((rv = tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = insert_organization(porg, porg_secret, db, p, org_name, perr);
    if (rv == APR_SUCCESS) {
        rv = insert_user(puser, puser_secret, db, p, (*porg)->id, email, first_name, last_name,
                         perr);
    }
    rv = tx_end(tx, db, p, rv, perr);
    if (rv != APR_SUCCESS) {
        *porg = NULL;
        *puser = NULL;
        *porg_secret = *puser_secret = NULL;
    }
    return rv;
}

apr_status_t ce_store_user_add(ce_user_t **puser, const char **puser_secret, ce_db_t *db,
                               apr_pool_t *p, apr_int64_t org_id, const char *email,
                               const char *first_name, const char *last_name, const char **perr)
{
    const char **row;
    const void *args[1] = {&org_id};
    apr_status_t rv = fetch_one(&row, db, p, "ce_select_organization", args, perr);

    *puser = NULL;
    if (rv == APR_NOTFOUND) {
        *perr = apr_psprintf(p, "No organization with id %" APR_INT64_T_FMT, org_id);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return insert_user(puser, puser_secret, db, p, org_id, email, first_name, last_name, perr);
}

/* Replaces the secret digest of row id through statement label. */
static apr_status_t rotate(const char **psecret, ce_db_t *db, apr_pool_t *p, const char *label,
                           const char *what, apr_int64_t id, const char **perr)
{
    const char *secret, *digest;
    const void *args[2];
    int nrows;
    apr_status_t rv = new_secret(&secret, &digest, db, p, perr);

    *psecret = NULL;
    args[0] = digest;
    args[1] = &id;
    if (rv == APR_SUCCESS) {
        rv = run(&nrows, db, p, label, args, perr);
    }
    if (rv == APR_SUCCESS && nrows == 0) {
        *perr = apr_psprintf(p, "No %s with id %" APR_INT64_T_FMT, what, id);
        rv = APR_NOTFOUND;
    }
    if (rv == APR_SUCCESS) {
        *psecret = secret;
    }
    return rv;
}

apr_status_t ce_store_user_rotate(const char **psecret, ce_db_t *db, apr_pool_t *p,
                                  apr_int64_t user_id, const char **perr)
{
    return rotate(psecret, db, p, "ce_update_user_secret", "user", user_id, perr);
}

apr_status_t ce_store_organization_rotate(const char **psecret, ce_db_t *db, apr_pool_t *p,
                                          apr_int64_t org_id, const char **perr)
{
    return rotate(psecret, db, p, "ce_update_organization_secret", "organization", org_id, perr);
}

apr_status_t ce_store_organization_list(apr_array_header_t **porgs, ce_db_t *db, apr_pool_t *p,
                                        const char **perr)
{
    apr_array_header_t *rows;
    const void *args[1] = {NULL};
    apr_status_t rv = fetch(&rows, db, p, "ce_select_organizations", args, perr);
    int i;

    *porgs = apr_array_make(p, rows->nelts, sizeof(ce_organization_t *));
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        const char **row = APR_ARRAY_IDX(rows, i, const char **);
        ce_organization_t *org = apr_pcalloc(p, sizeof(*org));

        org->id = apr_atoi64(row[0]);
        org->name = or_empty(row[1]);
        org->created_date = or_empty(row[2]);
        APR_ARRAY_PUSH(*porgs, ce_organization_t *) = org;
    }
    return rv;
}

apr_status_t ce_store_authenticate(ce_user_t **puser, ce_db_t *db, apr_pool_t *p,
                                   const char *user_secret, const char *org_secret,
                                   const char **perr)
{
    const char **row;
    const void *args[2];
    ce_user_t *user;
    apr_status_t rv;

    *puser = NULL;
    if (!user_secret || !org_secret) {
        return APR_NOTFOUND;
    }
    args[0] = ce_crypto_keyed_digest(p, db->keys, user_secret);
    args[1] = ce_crypto_keyed_digest(p, db->keys, org_secret);
    if ((rv = fetch_one(&row, db, p, "ce_select_user_by_secrets", args, perr)) != APR_SUCCESS) {
        return rv;
    }
    user = apr_pcalloc(p, sizeof(*user));
    user->id = apr_atoi64(row[0]);
    user->organization_id = apr_atoi64(row[1]);
    user->email_address = or_empty(row[2]);
    user->first_name = or_empty(row[3]);
    user->last_name = or_empty(row[4]);
    *puser = user;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Instances                                                           */

/* Parses stored JSON text (tags / configuration) of the expected type. */
static apr_status_t parse_column(json_t **pj, apr_pool_t *p, const char *text, json_type type)
{
    const char *err;

    if (!text || ce_json_parse(pj, p, text, strlen(text), &err) != APR_SUCCESS ||
        json_typeof(*pj) != type) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The instance of a row, its sealed values opened. A value that fails
 * authentication fails this instance only: APR_EGENERAL, *perr naming the
 * instance and the value, never its content. */
static apr_status_t instance_from_row(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                      const char **row, const ce_catalog_t *cat,
                                      const ce_user_t *owner, const char **perr)
{
    ce_instance_t *inst = apr_pcalloc(p, sizeof(*inst));
    const char *token = NULL, *err = NULL;
    apr_size_t len;

    *pinst = NULL;
    if (parse_column(&inst->tags, p, row[IC_TAGS], JSON_ARRAY) != APR_SUCCESS ||
        parse_column(&inst->configuration, p, row[IC_CONFIGURATION], JSON_OBJECT) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "Instance %s: stored tags or configuration unreadable", row[IC_ID]);
        return APR_EGENERAL;
    }
    if (ce_crypto_open(&token, &len, p, db->keys, TOKEN_AAD, row[IC_TOKEN]) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "Instance %s: the stored token fails authentication "
                                "(tampered, or another key)", row[IC_ID]);
        return APR_EGENERAL;
    }
    if (open_configuration(inst->configuration, p, db->keys, &err) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "Instance %s: %s", row[IC_ID], err);
        return APR_EGENERAL;
    }
    inst->id = apr_atoi64(row[IC_ID]);
    inst->organization_id = apr_atoi64(or_empty(row[IC_ORGANIZATION]));
    inst->user = owner;
    inst->element_id = (long)apr_atoi64(or_empty(row[IC_ELEMENT]));
    inst->element = cat ? ce_catalog_by_id(cat, inst->element_id) : NULL;
    inst->name = apr_pstrdup(p, or_empty(row[IC_NAME]));
    inst->token = token;
    inst->disabled = atoi(or_empty(row[IC_DISABLED]));
    inst->max_cache_size = (long)apr_atoi64(or_empty(row[IC_MAX_CACHE_SIZE]));
    inst->cache_time_to_live = (long)apr_atoi64(or_empty(row[IC_CACHE_TTL]));
    inst->caching_enabled = atoi(or_empty(row[IC_CACHING]));
    inst->trace_logging_enabled = atoi(or_empty(row[IC_TRACE]));
    inst->created_date = apr_pstrdup(p, or_empty(row[IC_CREATED]));
    inst->updated_date = apr_pstrdup(p, or_empty(row[IC_UPDATED]));
    *pinst = inst;
    return APR_SUCCESS;
}

/* Compact JSON text of j, or of empty when j is NULL. */
static const char *json_text(apr_pool_t *p, const json_t *j, const char *empty)
{
    return j ? ce_json_dump(p, j) : empty;
}

/* Inserts one ce_instance_tag row per string of tags. */
static apr_status_t insert_tags(ce_db_t *db, apr_pool_t *p, apr_int64_t id, json_t *tags,
                                const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    const void *args[2] = {&id, NULL};
    size_t i;
    int nrows;

    for (i = 0; i < json_array_size(tags) && rv == APR_SUCCESS; i++) {
        if ((args[1] = json_string_value(json_array_get(tags, i))) != NULL) {
            rv = run(&nrows, db, p, "ce_insert_instance_tag", args, perr);
        }
    }
    return rv;
}

/* One create, its statement arguments built before any lock is taken,
 * and (for a batched create) its outcome as the committing thread left it. */
typedef struct create_t create_t;
struct create_t {
    const ce_instance_t *inst;
    const void *args[15];
    apr_int64_t id;
    apr_status_t status;
    int done;
    int lead; /* this create's thread writes the next batch */
#if APR_HAS_THREADS
    apr_thread_cond_t *wake; /* signalled when done or lead is set */
#endif
    char err[256]; /* the committer's message: its pool is not ours */
    create_t *next;
};

struct ce_store_batch_t {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    create_t *head, **tail; /* waiting for the next transaction */
    int committing;         /* a batch is being written, or its writer chosen */
    int since_checkpoint;   /* creates committed since this process last checkpointed */
    /* The connection batches are written on (used by one thread at a time):
     * the queue's own, so that its page cache stays warm between batches. */
    apr_pool_t *pool; /* own allocator: used by whichever thread writes */
    ce_db_t writer;
    int writer_state; /* 0: not opened yet, 1: open, -1: cannot (use the writing thread's) */
};

static apr_status_t create_prepare(create_t *c, const ce_db_t *db, apr_pool_t *p,
                                   const ce_instance_t *inst, const char **perr)
{
    memset(c, 0, sizeof(*c));
    c->inst = inst;
    c->args[0] = &inst->organization_id;
    c->args[1] = &inst->user->id;
    c->args[2] = &inst->element_id;
    c->args[3] = inst->name;
    c->args[4] = ce_crypto_seal(p, db->keys, TOKEN_AAD, inst->token, strlen(inst->token));
    c->args[5] = ce_crypto_keyed_digest(p, db->keys, inst->token);
    c->args[6] = json_text(p, inst->tags, "[]");
    c->args[7] = seal_configuration(p, db->keys, inst->configuration, inst);
    c->args[8] = &inst->disabled;
    c->args[9] = &inst->max_cache_size;
    c->args[10] = &inst->cache_time_to_live;
    c->args[11] = &inst->caching_enabled;
    c->args[12] = &inst->trace_logging_enabled;
    c->args[13] = inst->created_date;
    c->args[14] = inst->updated_date;
    if (!c->args[4] || !c->args[5] || !c->args[6] || !c->args[7]) {
        *perr = "Could not serialize the instance";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Writes every create of list in one transaction and sets each id. On
 * failure nothing of list is written and *perr says why. */
static apr_status_t create_write(ce_db_t *db, apr_pool_t *p, create_t *list, const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv;
    create_t *c;

    if ((rv = tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    for (c = list; c && rv == APR_SUCCESS; c = c->next) {
        rv = insert(&c->id, db, p, "ce_insert_instance", c->args, perr);
        if (rv == APR_SUCCESS && c->inst->tags) {
            rv = insert_tags(db, p, c->id, c->inst->tags, perr);
        }
    }
    return tx_end(tx, db, p, rv, perr);
}

static void create_failed(create_t *c, apr_status_t rv, const char *err)
{
    c->status = rv;
    if (rv != APR_SUCCESS) {
        apr_cpystrn(c->err, err ? err : "Database error", sizeof(c->err));
    }
}

/* Writes a batch: all in one transaction or, when that fails, each create
 * in its own, so that a bad create fails alone. Sets status and err of
 * each. */
static void create_write_batch(ce_db_t *db, apr_pool_t *p, create_t *list)
{
    const char *err = NULL;
    apr_status_t rv = create_write(db, p, list, &err);
    create_t *c, *next;

    if (rv == APR_SUCCESS || !list->next) {
        for (c = list; c; c = c->next) {
            create_failed(c, rv, err);
        }
        return;
    }
    for (c = list; c; c = next) {
        next = c->next;
        c->next = NULL;
        err = NULL;
        rv = create_write(db, p, c, &err);
        create_failed(c, rv, err);
        c->next = next;
    }
}

static apr_status_t close_twin(void *data)
{
    ce_db_t *twin = data;

    apr_dbd_close(twin->driver, twin->handle);
    return APR_SUCCESS;
}

/* Opens, in p, another connection to db's database (SQLite: the file db
 * has open), initialized and queued on the same write lock as db. */
static apr_status_t open_twin(ce_db_t *twin, const ce_db_t *db, apr_pool_t *p, const char **perr)
{
    const dialect_t *d = dialect_of(db->driver);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *params = NULL;

    if (!d || !d->twin_params) {
        *perr = "The driver cannot open a second connection by itself";
        return APR_ENOTIMPL;
    }
    if (apr_dbd_select(db->driver, p, db->handle, &res, d->twin_params, 1) == 0) {
        while (apr_dbd_get_row(db->driver, p, res, &row, -1) == 0) {
            params = params ? params : apr_pstrdup(p, apr_dbd_get_entry(db->driver, row, 0));
        }
    }
    if (!params) {
        *perr = "No database file to open a second connection to";
        return APR_ENOTIMPL;
    }
    memset(twin, 0, sizeof(*twin));
    twin->driver = db->driver;
    twin->pool = p;
    twin->prepared = apr_hash_make(p);
    twin->serialize = db->serialize;
    twin->serialize_baton = db->serialize_baton;
    twin->keys = db->keys;
    if (apr_dbd_open_ex(twin->driver, p, params, &twin->handle, perr) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, twin, close_twin, apr_pool_cleanup_null);
    return ce_store_init(twin, perr);
}

/* The connection the batch is written on: the queue's own, opened from db
 * the first time, or db itself when that cannot be done. */
static ce_db_t *batch_writer(ce_store_batch_t *b, ce_db_t *db)
{
    const char *err = NULL;
    apr_status_t rv;

    if (b->writer_state == 0) {
        rv = open_twin(&b->writer, db, b->pool, &err);
        b->writer_state = rv == APR_SUCCESS ? 1 : -1;
        if (rv != APR_SUCCESS) { /* once: the state stays -1 */
            ce_log(CE_LOG_MARK, CE_LOG_ERR, rv,
                   "CE00030: group commit cannot open its own connection, batches go on the "
                   "requests' connections: %s",
                   err ? err : "?");
        }
    }
    return b->writer_state == 1 ? &b->writer : db;
}

apr_status_t ce_store_batch_create(ce_store_batch_t **pbatch, apr_pool_t *p)
{
    ce_store_batch_t *b = apr_pcalloc(p, sizeof(*b));
    apr_allocator_t *allocator = NULL;
    apr_status_t rv;

    *pbatch = NULL;
    b->tail = &b->head;
    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_ex(&b->pool, p, NULL, allocator)) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return rv;
    }
    apr_allocator_owner_set(allocator, b->pool);
#if APR_HAS_THREADS
    if ((rv = apr_thread_mutex_create(&b->mutex, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS) {
        return rv;
    }
#endif
    *pbatch = b;
    return APR_SUCCESS;
}

#if APR_HAS_THREADS
/* Copies committed pages from the log back into the database, without the
 * write lock (SQLite: a PASSIVE checkpoint runs beside writers), so that
 * the commit which crosses wal_autocheckpoint does not do it while every
 * writer waits. A failure is harmless: the next one, or SQLite's own
 * autocheckpoint, catches up. */
static void create_checkpoint(ce_db_t *db, apr_pool_t *p)
{
    const dialect_t *d = dialect_of(db->driver);
    const char *err = NULL;
    apr_status_t rv;

    if (d && d->checkpoint && (rv = exec_sql(db, p, d->checkpoint, &err)) != APR_SUCCESS) {
        ce_log(CE_LOG_MARK, CE_LOG_WARNING, rv,
               "CE00031: checkpoint failed (a later one catches up): %s", err ? err : "?");
    }
}

/* Group commit. The create joins the process's queue. The thread that finds
 * the queue idle, or is handed the turn, takes the whole queue and writes it
 * in one transaction, while creates arriving meanwhile queue for the next
 * one; then it hands the turn to the first of those. Each create learns its
 * outcome only after its commit. */
static void create_batched(ce_store_batch_t *b, ce_db_t *db, apr_pool_t *p, create_t *me)
{
    create_t *list, *c;
    int checkpoint = 0;

    if (apr_thread_cond_create(&me->wake, p) != APR_SUCCESS) {
        create_failed(me, APR_ENOMEM, "Out of memory");
        return;
    }
    apr_thread_mutex_lock(b->mutex);
    *b->tail = me;
    b->tail = &me->next;
    if (!b->committing) {
        b->committing = 1;
        me->lead = 1;
    }
    while (!me->done && !me->lead) {
        apr_thread_cond_wait(me->wake, b->mutex);
    }
    if (!me->done) {
        list = b->head;
        b->head = NULL;
        b->tail = &b->head;
        apr_thread_mutex_unlock(b->mutex);

        create_write_batch(batch_writer(b, db), p, list);

        apr_thread_mutex_lock(b->mutex);
        for (c = list; c; c = c->next) {
            c->done = 1;
            b->since_checkpoint++;
            if (c != me) {
                apr_thread_cond_signal(c->wake);
            }
        }
        if (b->since_checkpoint >= CHECKPOINT_EVERY) {
            b->since_checkpoint = 0;
            checkpoint = 1;
        }
        /* The first of those who queued meanwhile writes the next batch. */
        if (b->head) {
            b->head->lead = 1;
            apr_thread_cond_signal(b->head->wake);
        } else {
            b->committing = 0;
        }
    }
    apr_thread_mutex_unlock(b->mutex);
    if (checkpoint) {
        create_checkpoint(db, p);
    }
}
#endif

apr_status_t ce_store_instance_create(ce_db_t *db, apr_pool_t *p, ce_instance_t *inst,
                                      const char **perr)
{
    create_t c;
    apr_status_t rv;

    if (inst->id != 0 || !inst->user || !inst->name || !inst->token) {
        *perr = "Instance to create needs no id, and an owner, a name and a token";
        return APR_EINVAL;
    }
    if (!inst->organization_id) {
        inst->organization_id = inst->user->organization_id;
    }
    if (!inst->created_date) {
        inst->created_date = ce_instance_now(p);
    }
    if (!inst->updated_date) {
        inst->updated_date = inst->created_date;
    }
    if ((rv = create_prepare(&c, db, p, inst, perr)) != APR_SUCCESS) {
        return rv;
    }
#if APR_HAS_THREADS
    if (db->batch) {
        create_batched(db->batch, db, p, &c);
        if ((rv = c.status) != APR_SUCCESS) {
            *perr = apr_pstrdup(p, c.err);
        }
    } else
#endif
    {
        rv = create_write(db, p, &c, perr);
    }
    if (rv == APR_SUCCESS) {
        inst->id = c.id;
    }
    return rv;
}

apr_status_t ce_store_instance_get(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                   const ce_catalog_t *cat, const ce_user_t *owner, apr_int64_t id,
                                   const char **perr)
{
    const char **row;
    const void *args[2] = {&id, &owner->id};
    apr_status_t rv = fetch_one(&row, db, p, "ce_select_instance", args, perr);

    *pinst = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return instance_from_row(pinst, db, p, row, cat, owner, perr);
}

apr_status_t ce_store_instance_admin_get(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                         const ce_catalog_t *cat, apr_int64_t id,
                                         const char **perr)
{
    const char **row;
    const void *args[1] = {&id};
    apr_status_t rv = fetch_one(&row, db, p, "ce_select_instance_admin", args, perr);
    ce_user_t *nobody = apr_pcalloc(p, sizeof(*nobody));

    *pinst = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return instance_from_row(pinst, db, p, row, cat, nobody, perr);
}

apr_status_t ce_store_instance_by_token(apr_int64_t *pid, ce_db_t *db, apr_pool_t *p,
                                        const ce_user_t *owner, const char *token,
                                        const char **perr)
{
    const char **row;
    const void *args[2];
    apr_status_t rv;

    *pid = 0;
    if (!token || !owner) {
        return APR_NOTFOUND;
    }
    args[0] = ce_crypto_keyed_digest(p, db->keys, token);
    args[1] = &owner->id;
    if ((rv = fetch_one(&row, db, p, "ce_select_instance_by_token", args, perr)) == APR_SUCCESS) {
        *pid = apr_atoi64(row[0]);
    }
    return rv;
}

/* Rewrites the mutable columns of inst's row; APR_NOTFOUND if not there. */
static apr_status_t update_instance(ce_db_t *db, apr_pool_t *p, const ce_instance_t *inst,
                                    const char **perr)
{
    const void *args[12];
    apr_status_t rv;
    int nrows;

    args[0] = inst->name;
    args[1] = &inst->element_id;
    args[2] = json_text(p, inst->tags, "[]");
    args[3] = seal_configuration(p, db->keys, inst->configuration, inst);
    args[4] = &inst->disabled;
    args[5] = &inst->max_cache_size;
    args[6] = &inst->cache_time_to_live;
    args[7] = &inst->caching_enabled;
    args[8] = &inst->trace_logging_enabled;
    args[9] = inst->updated_date ? inst->updated_date : ce_instance_now(p);
    args[10] = &inst->id;
    args[11] = &inst->user->id;
    if (!args[0] || !args[2] || !args[3]) {
        *perr = "Could not serialize the instance";
        return APR_EGENERAL;
    }
    rv = run(&nrows, db, p, "ce_update_instance", args, perr);
    if (rv == APR_SUCCESS && nrows == 0) {
        *perr = "Instance not found";
        rv = APR_NOTFOUND;
    }
    return rv;
}

apr_status_t ce_store_instance_update(ce_db_t *db, apr_pool_t *p, const ce_instance_t *inst,
                                      const char **perr)
{
    apr_dbd_transaction_t *tx;
    const void *args[1] = {&inst->id};
    apr_status_t rv;
    int nrows;

    if (!inst->user) {
        *perr = "Instance to update has no owner";
        return APR_EINVAL;
    }
    if ((rv = tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = update_instance(db, p, inst, perr);
    if (rv == APR_SUCCESS) {
        rv = run(&nrows, db, p, "ce_delete_instance_tags", args, perr);
    }
    if (rv == APR_SUCCESS && inst->tags) {
        rv = insert_tags(db, p, inst->id, inst->tags, perr);
    }
    return tx_end(tx, db, p, rv, perr);
}

apr_status_t ce_store_instance_delete(ce_db_t *db, apr_pool_t *p, const ce_user_t *owner,
                                      apr_int64_t id, const char **perr)
{
    apr_dbd_transaction_t *tx;
    const void *args[2] = {&id, &owner->id};
    apr_status_t rv;
    int nrows;

    if ((rv = tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    /* Ownership first: the tag rows are only touched once the instance was ours. */
    rv = run(&nrows, db, p, "ce_delete_instance", args, perr);
    if (rv == APR_SUCCESS && nrows == 0) {
        *perr = "Instance not found";
        rv = APR_NOTFOUND;
    }
    if (rv == APR_SUCCESS) {
        rv = run(&nrows, db, p, "ce_delete_instance_tags", args, perr);
    }
    return tx_end(tx, db, p, rv, perr);
}

/* --- listing --- */

/* State of one listing: the page being filled and the keyset cursor. */
typedef struct {
    ce_db_t *db;
    apr_pool_t *p;
    const ce_catalog_t *cat;
    const ce_user_t *owner;
    const ce_instance_query_t *q;
    const char *label;         /* statement for q's SQL filters */
    apr_int64_t before;        /* scan ids below this */
    int batch;                 /* rows asked of each SELECT */
    apr_array_header_t *insts; /* the page */
    int more;
} listing_t;

static const char *listing_label(const ce_instance_query_t *q)
{
    int tag = q->tags && q->tags->nelts > 0;

    if (q->element_id) {
        return tag ? "ce_select_instances_by_element_tag" : "ce_select_instances_by_element";
    }
    return tag ? "ce_select_instances_by_tag" : "ce_select_instances";
}

/* 1 if the JSON array tags holds the string want. */
static int has_tag(const json_t *tags, const char *want)
{
    size_t i;

    for (i = 0; i < json_array_size(tags); i++) {
        const char *tag = json_string_value(json_array_get(tags, i));

        if (tag && strcmp(tag, want) == 0) {
            return 1;
        }
    }
    return 0;
}

/* 1 if the stored tags (JSON text) hold every tag of q after the first,
 * which the SQL already matched. */
static int has_other_tags(apr_pool_t *p, const char *text, const ce_instance_query_t *q)
{
    json_t *tags;
    int i;

    if (!q->tags || q->tags->nelts < 2) {
        return 1;
    }
    if (parse_column(&tags, p, text, JSON_ARRAY) != APR_SUCCESS) {
        return 0;
    }
    for (i = 1; i < q->tags->nelts; i++) {
        if (!has_tag(tags, APR_ARRAY_IDX(q->tags, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

/* Adds the rows of one batch that pass the C-side filters to the page,
 * moving the cursor past every row scanned. */
static apr_status_t listing_take(listing_t *l, apr_pool_t *scratch, apr_array_header_t *rows,
                                 const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    ce_instance_t *inst;
    int i;

    for (i = 0; i < rows->nelts && rv == APR_SUCCESS && !l->more; i++) {
        const char **row = APR_ARRAY_IDX(rows, i, const char **);

        l->before = apr_atoi64(row[IC_ID]);
        if (!has_other_tags(scratch, row[IC_TAGS], l->q)) {
            continue;
        }
        if (l->insts->nelts == l->q->limit) {
            l->more = 1;
        } else if ((rv = instance_from_row(&inst, l->db, l->p, row, l->cat, l->owner, perr)) ==
                   APR_SUCCESS) {
            APR_ARRAY_PUSH(l->insts, ce_instance_t *) = inst;
        }
    }
    return rv;
}

/* One SELECT of up to l->batch rows below the cursor; *pdone when no
 * further batch can add to the page. Scanned rows live in a scratch pool. */
static apr_status_t listing_batch(listing_t *l, int *pdone, const char **perr)
{
    const void *args[5];
    int n = 0;
    apr_array_header_t *rows;
    apr_pool_t *scratch;
    apr_status_t rv;

    args[n++] = &l->owner->id;
    args[n++] = &l->before;
    if (l->q->element_id) {
        args[n++] = &l->q->element_id;
    }
    if (l->q->tags && l->q->tags->nelts > 0) {
        args[n++] = APR_ARRAY_IDX(l->q->tags, 0, const char *);
    }
    args[n] = &l->batch;
    apr_pool_create(&scratch, l->p);
    rv = fetch(&rows, l->db, scratch, l->label, args, perr);
    if (rv == APR_SUCCESS) {
        rv = listing_take(l, scratch, rows, perr);
        *pdone = l->more || rows->nelts < l->batch;
    }
    if (rv != APR_SUCCESS) {
        *perr = apr_pstrdup(l->p, *perr ? *perr : "Stored instance is not readable");
    }
    apr_pool_destroy(scratch);
    return rv;
}

apr_status_t ce_store_instance_list(apr_array_header_t **pinsts, int *pmore, ce_db_t *db,
                                    apr_pool_t *p, const ce_catalog_t *cat, const ce_user_t *owner,
                                    const ce_instance_query_t *q, const char **perr)
{
    listing_t l = {db, p, cat, owner, q, listing_label(q), 0, 0, NULL, 0};
    apr_status_t rv = APR_SUCCESS;
    int done = 0;

    *pinsts = NULL;
    *pmore = 0;
    if (q->limit < 1 || q->limit > CE_PAGE_SIZE_MAX || q->before_id < 0) {
        *perr = "Invalid page size or position";
        return APR_EINVAL;
    }
    l.before = q->before_id > 0 ? q->before_id : ID_SENTINEL;
    /* limit + 1 rows tell whether another page exists. */
    l.batch = q->limit + 1;
    l.insts = apr_array_make(p, q->limit, sizeof(ce_instance_t *));
    while (rv == APR_SUCCESS && !done) {
        *perr = NULL;
        rv = listing_batch(&l, &done, perr);
    }
    if (rv == APR_SUCCESS) {
        *pinsts = l.insts;
        *pmore = l.more;
    }
    return rv;
}
