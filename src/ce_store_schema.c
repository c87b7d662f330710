/* ce_store_schema: the schema, its versions and migrations, and the
 * per-connection init (driver setup, schema, key check, statements).
 *
 * A new database gets the current schema at once; an older one is brought
 * up to date by the migrations, one version at a time, in the same
 * transaction (under the dialect's schema lock). A version newer than this
 * module's is refused: an older module must not write a newer schema.
 * Every schema change is a new row of `migrations` (SQL per dialect and an
 * optional C step) plus its fixture in t/16-upgrade.t.
 *
 * mod_dbd prepares statements registered with ap_dbd_prepare when it opens
 * a connection; with SQLite a statement on a table that does not exist yet
 * fails to prepare and breaks the connection. So ce_store_init runs on the
 * first use of each connection and prepares every statement itself.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "ce_log.h"
#include "ce_store_int.h"

/* Key in db->prepared saying ce_store_init() is done on this connection. */
#define READY_KEY "ce_ready"

/* What says which keys a database was written with (ce_store_key_check). */
#define KEY_CHECK_TABLE                                                                            \
    "CREATE TABLE IF NOT EXISTS ce_key_check (digest TEXT NOT NULL, sealed TEXT NOT NULL)"

/* An OAuth instance's token schedule (schema 5): when its access token is
 * to be refreshed (epoch ms, 0: never), until when a refresher holds it
 * (the lease, epoch ms), failed refreshes in a row, why it is not valid
 * ('' when it is), and how it was authenticated (externalAuthentication). */
#define OAUTH_COLUMNS                                                                              \
    "oauth_due BIGINT NOT NULL DEFAULT 0, oauth_lease BIGINT NOT NULL DEFAULT 0, "                 \
    "oauth_failures INTEGER NOT NULL DEFAULT 0, oauth_status TEXT NOT NULL DEFAULT '', "           \
    "external_auth TEXT NOT NULL DEFAULT 'none'"
#define OAUTH_INDEX                                                                                \
    "CREATE INDEX IF NOT EXISTS ce_instance_oauth_due ON ce_instance (oauth_due) "                 \
    "WHERE oauth_due > 0"

/* A user's instances by tag (schema 6): listings and totals by tag cost
 * what the user's matches do, never what other accounts' do. */
#define TAG_INDEX                                                                                  \
    "CREATE INDEX IF NOT EXISTS ce_instance_tag_user ON ce_instance_tag (user_id, tag, "           \
    "instance_id)"

/* How many instances each user has of each element (schema 6), spread
 * over CE_STORE_COUNT_SHARDS rows (ce_store_count.c). */
#define COUNT_TABLE                                                                                \
    "CREATE TABLE IF NOT EXISTS ce_instance_count (user_id BIGINT NOT NULL, "                      \
    "element_id BIGINT NOT NULL, shard INTEGER NOT NULL, n BIGINT NOT NULL, "                      \
    "PRIMARY KEY (user_id, element_id, shard))"

/* The event log and outbox (schema 7, ce_store_event.c): an event per
 * write of an instance, its delivery state (status, attempts, last error,
 * when next due, the lease of the node sending it), where it goes and the
 * sealed key it is signed with. No foreign key: a deleted instance's
 * events stay. */
#define EVENT_TABLE(ID_PK)                                                                         \
    "CREATE TABLE IF NOT EXISTS ce_event (id " ID_PK ", event_id TEXT NOT NULL UNIQUE, "           \
    "user_id BIGINT NOT NULL, instance_id BIGINT NOT NULL, event_type TEXT NOT NULL, "             \
    "event_date TEXT NOT NULL, body TEXT NOT NULL, callback_url TEXT NOT NULL DEFAULT '', "        \
    "signature_key TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, "                               \
    "attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', "                   \
    "due BIGINT NOT NULL DEFAULT 0, lease BIGINT NOT NULL DEFAULT 0, created BIGINT NOT NULL)"
#define EVENT_INDEXES                                                                              \
    "CREATE INDEX IF NOT EXISTS ce_event_user ON ce_event (user_id, id)",                          \
        "CREATE INDEX IF NOT EXISTS ce_event_instance ON ce_event (user_id, instance_id, id)",     \
        "CREATE INDEX IF NOT EXISTS ce_event_due ON ce_event (due) WHERE due > 0"

/* An instance's answer as its last write rendered it, sealed (schema 8,
 * ce_store_instance.c): reads answer from it instead of parsing and
 * opening the configuration. '' (older rows): read in full. */
#define VIEW_COLUMN "rendered TEXT NOT NULL DEFAULT ''"

/* The current schema, given the dialect's auto-increment primary key and
 * the suffix of a table that needs no row id. Ids are never reused after a
 * delete (SQLite AUTOINCREMENT, PostgreSQL identity). A tag row is its key:
 * SQLite keeps it in one b-tree (WITHOUT ROWID), not a table plus its key
 * index. */
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
        "revision BIGINT NOT NULL DEFAULT 1, "                                           \
        "created_date TEXT NOT NULL, updated_date TEXT NOT NULL, " OAUTH_COLUMNS ", "     \
        VIEW_COLUMN ")",                                                                 \
    "CREATE INDEX IF NOT EXISTS ce_instance_user ON ce_instance (user_id, id)",           \
    "CREATE INDEX IF NOT EXISTS ce_instance_user_element "                                \
        "ON ce_instance (user_id, element_id, id)",                                      \
    OAUTH_INDEX,                                                                          \
    "CREATE TABLE IF NOT EXISTS ce_instance_tag ("                                        \
        "instance_id BIGINT NOT NULL REFERENCES ce_instance (id) ON DELETE CASCADE, "    \
        "tag TEXT NOT NULL, user_id BIGINT NOT NULL, "                                   \
        "PRIMARY KEY (instance_id, tag))" NO_ROWID,                                      \
    TAG_INDEX,                                                                            \
    KEY_CHECK_TABLE,                                                                      \
    COUNT_TABLE,                                                                          \
    EVENT_TABLE(ID_PK),                                                                   \
    EVENT_INDEXES,                                                                        \
    NULL}
/* clang-format on */

static const char *const sqlite3_schema[] =
    SCHEMA("INTEGER PRIMARY KEY AUTOINCREMENT", " WITHOUT ROWID");
static const char *const pgsql_schema[] = SCHEMA("BIGINT GENERATED BY DEFAULT AS IDENTITY "
                                                 "PRIMARY KEY",
                                                 "");

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
static const char *const to_3[] = {KEY_CHECK_TABLE, NULL};
static const char *const to_4[] = {
    "ALTER TABLE ce_instance ADD COLUMN revision BIGINT NOT NULL DEFAULT 1", NULL};
static const char *const to_5[] = {
    "ALTER TABLE ce_instance ADD COLUMN oauth_due BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE ce_instance ADD COLUMN oauth_lease BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE ce_instance ADD COLUMN oauth_failures INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE ce_instance ADD COLUMN oauth_status TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE ce_instance ADD COLUMN external_auth TEXT NOT NULL DEFAULT 'none'",
    OAUTH_INDEX,
    NULL};
/* The tag rows learn their user (orphans, which foreign keys prevent, get
 * none), the index by tag alone gives way to the user's, and the counts
 * start from the rows there are. */
static const char *const to_6[] = {
    "ALTER TABLE ce_instance_tag ADD COLUMN user_id BIGINT NOT NULL DEFAULT 0",
    "UPDATE ce_instance_tag SET user_id = COALESCE((SELECT i.user_id FROM ce_instance i "
    "WHERE i.id = ce_instance_tag.instance_id), 0)",
    "DROP INDEX IF EXISTS ce_instance_tag_tag",
    TAG_INDEX,
    COUNT_TABLE,
    "INSERT INTO ce_instance_count (user_id, element_id, shard, n) "
    "SELECT user_id, element_id, id % " APR_STRINGIFY(
        CE_STORE_COUNT_SHARDS) ", COUNT(*) "
                               "FROM ce_instance GROUP BY user_id, element_id, id % " APR_STRINGIFY(
                                   CE_STORE_COUNT_SHARDS),
    NULL};

static const char *const sqlite3_to_7[] = {EVENT_TABLE("INTEGER PRIMARY KEY AUTOINCREMENT"),
                                           EVENT_INDEXES, NULL};
static const char *const pgsql_to_7[] = {
    EVENT_TABLE("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"), EVENT_INDEXES, NULL};

static const char *const to_8[] = {"ALTER TABLE ce_instance ADD COLUMN " VIEW_COLUMN, NULL};

/* Indexed by ce_store_dialect_t.id. */
static const char *const *const schemas[CE_DIALECTS] = {sqlite3_schema, pgsql_schema};

/* One step from version - 1 to version: its SQL in each dialect (NULL:
 * none there), then its C step, if any. */
typedef struct {
    int version;
    const char *const *sql[CE_DIALECTS];
    apr_status_t (*step)(ce_db_t *db, apr_pool_t *p, int version, const char **perr);
} migration_t;

/* The history of the schema (version 1: the first release).
 *   2  ce_instance_tag WITHOUT ROWID on SQLite (one b-tree less per tag)
 *   3  secrets at rest: tokens and secret configuration values sealed
 *      (AES-256-GCM), lookup digests keyed (HMAC-SHA-256), ce_key_check;
 *      the C step converts every registered column (ce_store_seal.c)
 *   4  ce_instance.revision: counts an instance's writes (its ETag); every
 *      configuration value sealed, not only the element's secret ones
 *   5  OAuth: ce_instance's token schedule (oauth_due, oauth_lease,
 *      oauth_failures, oauth_status) and external_auth
 *   6  totals: ce_instance_count (instances per user, element and shard,
 *      kept by the writes), ce_instance_tag.user_id and the index by
 *      (user, tag, instance) instead of (tag, instance)
 *   7  events: ce_event, the event log and outbox (ce_store_event.c)
 *   8  ce_instance.rendered: the answer as the last write rendered it */
static const migration_t migrations[] = {
    {2, {sqlite3_to_2, NULL}, NULL},
    {3, {to_3, to_3}, ce_store_seal_migrate},
    {4, {to_4, to_4}, ce_store_seal_configurations},
    {5, {to_5, to_5}, NULL},
    {6, {to_6, to_6}, NULL},
    {7, {sqlite3_to_7, pgsql_to_7}, NULL},
    {8, {to_8, to_8}, NULL},
};
#define MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
/* The version this module writes: the last migration's. */
#define SCHEMA_VERSION (migrations[MIGRATIONS - 1].version)

#define VERSION_TABLE "CREATE TABLE IF NOT EXISTS ce_schema_version (version INTEGER NOT NULL)"

/* The schema version recorded in the database, 0 when none is. */
static apr_status_t schema_version(int *pversion, ce_db_t *db, apr_pool_t *p, const char **perr)
{
    apr_array_header_t *rows;
    apr_status_t rv;
    const char *v;

    *pversion = 0;
    rv = ce_store_select(&rows, db, p, "SELECT MAX(version) FROM ce_schema_version", perr);
    if (rv == APR_SUCCESS && rows->nelts > 0 &&
        (v = APR_ARRAY_IDX(rows, 0, const char **)[0]) != NULL) {
        *pversion = atoi(v);
    }
    return rv;
}

/* Brings a database at version (> 0) up to SCHEMA_VERSION. */
static apr_status_t migrate(ce_db_t *db, apr_pool_t *p, const ce_store_dialect_t *d, int version,
                            const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    apr_size_t i;

    for (i = 0; i < MIGRATIONS && rv == APR_SUCCESS; i++) {
        const migration_t *m = &migrations[i];

        if (m->version <= version) {
            continue;
        }
        rv = ce_store_exec_all(db, p, m->sql[d->id], perr);
        if (rv == APR_SUCCESS && m->step) {
            rv = m->step(db, p, m->version, perr);
        }
    }
    return rv;
}

/* Records SCHEMA_VERSION as the database's version. */
static apr_status_t record_version(ce_db_t *db, apr_pool_t *p, const char **perr)
{
    apr_status_t rv = ce_store_exec(db, p, "DELETE FROM ce_schema_version", perr);

    if (rv == APR_SUCCESS) {
        rv = ce_store_exec(
            db, p,
            apr_psprintf(p, "INSERT INTO ce_schema_version (version) VALUES (%d)", SCHEMA_VERSION),
            perr);
    }
    return rv;
}

/* Creates the schema, or migrates it to SCHEMA_VERSION, and checks the
 * keys, in one transaction (so concurrent first connections, httpd
 * children and ceadmin, do it once). */
static apr_status_t create_schema(ce_db_t *db, apr_pool_t *p, const ce_store_dialect_t *d,
                                  const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv = ce_store_tx_start(&tx, db, p, perr);
    int version = 0;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (d->schema_lock) {
        rv = ce_store_exec(db, p, d->schema_lock, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ce_store_exec(db, p, VERSION_TABLE, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = schema_version(&version, db, p, perr);
    }
    if (rv == APR_SUCCESS && version > SCHEMA_VERSION) {
        *perr = apr_psprintf(p,
                             "The database's schema is version %d, newer than this "
                             "module's (%d): upgrade the module",
                             version, SCHEMA_VERSION);
        rv = APR_EGENERAL;
    }
    if (rv == APR_SUCCESS) {
        rv = version == 0 ? ce_store_exec_all(db, p, schemas[d->id], perr)
                          : migrate(db, p, d, version, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ce_store_key_check(db, p, perr);
    }
    if (rv == APR_SUCCESS && version != SCHEMA_VERSION) {
        rv = record_version(db, p, perr);
    }
    return ce_store_tx_end(tx, db, p, rv, perr);
}

/* Every concern's statements; lock_rows: selects prepared with the
 * dialect's row_lock appended. */
static const struct {
    const ce_store_statement_t *list;
    int lock_rows;
} statement_lists[] = {
    {ce_store_tenant_statements, 0}, {ce_store_instance_statements, 0},
    {ce_store_list_statements, 0},   {ce_store_oauth_statements, 0},
    {ce_store_count_statements, 0},  {ce_store_instance_locking_statements, 1},
    {ce_store_event_statements, 0},  {ce_store_event_send_statements, 0},
};

/* Prepares one statement into db->prepared (unless an earlier, interrupted
 * init did already). */
static apr_status_t prepare(ce_db_t *db, const ce_store_statement_t *s, const char *suffix,
                            const char **perr)
{
    apr_dbd_prepared_t *st = NULL;
    const char *sql = suffix ? apr_pstrcat(db->pool, s->sql, suffix, NULL) : s->sql;
    int rc;

    if (apr_hash_get(db->prepared, s->label, APR_HASH_KEY_STRING)) {
        return APR_SUCCESS;
    }
    rc = apr_dbd_prepare(db->driver, db->pool, db->handle, sql, s->label, &st);
    if (rc != 0) {
        return ce_store_db_error(perr, db, db->pool, rc, s->label);
    }
    apr_hash_set(db->prepared, s->label, APR_HASH_KEY_STRING, st);
    ce_store_sqlite_prepare(db, s->label, sql);
    return APR_SUCCESS;
}

/* Prepares every statement into db->prepared. */
static apr_status_t prepare_all(ce_db_t *db, const ce_store_dialect_t *d, const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    const ce_store_statement_t *s;
    apr_size_t i;

    for (i = 0; i < sizeof(statement_lists) / sizeof(statement_lists[0]); i++) {
        for (s = statement_lists[i].list; s->label && rv == APR_SUCCESS; s++) {
            rv = prepare(db, s, statement_lists[i].lock_rows ? d->row_lock : NULL, perr);
        }
    }
    return rv;
}

apr_status_t ce_store_reprepare(ce_db_t *db, const char **perr)
{
    const char **row;
    const apr_int64_t none = 0;
    const void *args[1] = {&none};

    if (ce_store_fetch_one(&row, db, db->pool, "ce_select_organization", args, perr) !=
        APR_EGENERAL) {
        return APR_EAGAIN; /* the statements are there: the failure was another */
    }
    apr_hash_clear(db->prepared);
    return ce_store_init(db, perr);
}

/* Driver setup, schema, statements: what ce_store_init does once. */
static apr_status_t init(ce_db_t *db, apr_pool_t *scratch, const ce_store_dialect_t *d,
                         const char **perr)
{
    apr_status_t rv;

    /* Switching the journal to WAL needs the database to itself. */
    if ((rv = ce_store_serialize(db, 1, perr)) == APR_SUCCESS) {
        rv = ce_store_exec_all(db, scratch, d->setup, perr);
        ce_store_serialize(db, 0, NULL);
    }
    if (rv == APR_SUCCESS) {
        ce_store_wal_watch(db);
        rv = create_schema(db, scratch, d, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = prepare_all(db, d, perr);
    }
    return rv;
}

/* Setup met another connection's setup (a fresh database, opened by many
 * at once): attempts in all, and the first pause between two (it grows to
 * ten times that, with jitter, so contenders spread out). */
#define SETUP_ATTEMPTS 25
#define SETUP_PAUSE (20 * 1000)

static void setup_pause(int attempt)
{
    apr_interval_time_t base = SETUP_PAUSE * (attempt < 10 ? attempt : 10);

    apr_sleep(base / 2 + (apr_interval_time_t)(apr_time_now() % (base / 2 + 1)));
}

/* init until it succeeds, fails for a reason of its own, or has met
 * contention SETUP_ATTEMPTS times. Every step is idempotent and a failed
 * one leaves nothing behind (its transaction rolled back), so each attempt
 * runs the whole setup again. */
static apr_status_t init_contended(ce_db_t *db, apr_pool_t *scratch, const ce_store_dialect_t *d,
                                   const char **perr)
{
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    for (attempt = 1; attempt <= SETUP_ATTEMPTS; attempt++) {
        rv = init(db, scratch, d, perr);
        if (rv != APR_EGENERAL || !ce_store_contended(d, *perr)) {
            return rv;
        }
        ce_log(CE_LOG_MARK, CE_LOG_DEBUG, rv,
               "CE00033: database setup met another connection's (%s): attempt %d of %d", *perr,
               attempt, SETUP_ATTEMPTS);
        if (attempt < SETUP_ATTEMPTS) {
            setup_pause(attempt);
        }
    }
    *perr = apr_psprintf(scratch, "%s (still, after %d attempts)", *perr, SETUP_ATTEMPTS);
    return rv;
}

apr_status_t ce_store_init(ce_db_t *db, const char **perr)
{
    static const char ready[] = "1";
    const ce_store_dialect_t *d;
    apr_pool_t *scratch;
    apr_status_t rv;

    if (apr_hash_get(db->prepared, READY_KEY, APR_HASH_KEY_STRING)) {
        return APR_SUCCESS;
    }
    if (!db->keys) {
        *perr = "No key file: secrets cannot be sealed (CEInstancesKeyFile, ceadmin --key)";
        return APR_EINVAL;
    }
    if (!(d = ce_store_dialect(db->driver))) {
        *perr = apr_psprintf(db->pool, "Unsupported database driver %s (use sqlite3 or pgsql)",
                             apr_dbd_name(db->driver));
        return APR_ENOTIMPL;
    }
    apr_pool_create(&scratch, db->pool);
    rv = init_contended(db, scratch, d, perr);
    if (rv == APR_SUCCESS) {
        apr_hash_set(db->prepared, READY_KEY, APR_HASH_KEY_STRING, ready);
    } else {
        *perr = apr_pstrdup(db->pool, *perr); /* outlive scratch */
    }
    apr_pool_destroy(scratch);
    return rv;
}
