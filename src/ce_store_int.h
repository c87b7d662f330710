/* ce_store_int.h: what the ce_store_*.c files share, and nothing else
 * includes. The public interface is ce_store.h.
 *
 * The store by concern:
 *   ce_store_db.c        apr_dbd helpers: statements by label, fetch rows, run,
 *                        transactions (queued on ce_db_t.serialize), dialects
 *   ce_store_schema.c    the schema, its migrations (a table of steps), the
 *                        per-connection init and preparation of statements
 *   ce_store_seal.c      the registry of sealed and keyed columns; sealing,
 *                        opening, the key check, the sealing migration
 *   ce_store_rekey.c     online rekey and verify: every sealed value, in
 *                        batches
 *   ce_store_tenant.c    organizations and users, authentication
 *   ce_store_instance.c  instances: create, read, update, delete
 *   ce_store_instance_row.c  a row into an instance (view or full, opened)
 *   ce_store_list.c      listing instances a page at a time (keyset)
 *   ce_store_batch.c     group commit of creates within a process
 *   ce_store_count.c     instance counts: kept by the writes, summed for
 *                        a listing's total
 *
 * Placeholders: statements are prepared with typed apr_dbd placeholders
 * (%lld for ids, %ld for longs, %d for ints, %s for text) and executed with
 * the binary-argument calls (apr_dbd_pbselect/pbquery), so SQLite binds real
 * integers and PostgreSQL declares the parameter types in its PREPARE. The
 * sqlite3 driver reports a statement that returns rows as an error from
 * apr_dbd_query/pvquery (SQLITE_ROW), so anything returning rows (pragmas,
 * INSERT ... RETURNING) goes through a select.
 */
#ifndef CE_STORE_INT_H
#define CE_STORE_INT_H

#include <apr_thread_cond.h>
#include <jansson.h>

#include "ce_store.h"

/* SQLite's busy_timeout on every connection (ce_store_db.c's setup; the
 * WAL's RESTART checkpoint lowers it for itself and sets it back). */
#define CE_SQLITE_BUSY_MS 10000

/* ---- dialects (ce_store_db.c): the one place SQLite and PostgreSQL differ */

enum { CE_DIALECT_SQLITE3, CE_DIALECT_PGSQL, CE_DIALECTS };

typedef struct {
    int id;                       /* CE_DIALECT_*: index of its SQL in a migration */
    const char *driver;           /* apr_dbd_name() */
    const char *const *setup;     /* per connection, outside any transaction */
    const char *schema_lock;      /* serializes concurrent schema creation, or NULL */
    const char *row_lock;         /* appended to a select that locks its rows ("" where the
                                     transaction's write lock already does) */
    const char *twin_params;      /* selects apr_dbd_open params for another connection to the
                                     same database, or NULL (see ce_store_batch.c) */
    const char *const *contended; /* fragments of the driver's messages that mean another
                                     connection holds or changed the database (locked,
                                     busy, schema changed): worth retrying */
} ce_store_dialect_t;

/* Whether err (a ce_store_db_error message) says another connection holds
 * or changed the database: the whole step that met it can be run again. */
int ce_store_contended(const ce_store_dialect_t *d, const char *err);

/* The dialect of driver, or NULL when it is not supported. */
const ce_store_dialect_t *ce_store_dialect(const apr_dbd_driver_t *driver);

/* ---- statements: each concern lists its own, prepared together -------- */

typedef struct {
    const char *label; /* ce_<verb>_<noun>; NULL ends a list */
    const char *sql;
} ce_store_statement_t;

extern const ce_store_statement_t ce_store_tenant_statements[];
extern const ce_store_statement_t ce_store_instance_statements[];
extern const ce_store_statement_t ce_store_list_statements[];
extern const ce_store_statement_t ce_store_oauth_statements[];
extern const ce_store_statement_t ce_store_count_statements[];
extern const ce_store_statement_t ce_store_event_statements[];
extern const ce_store_statement_t ce_store_event_send_statements[];
/* Selects whose rows stay locked to the end of the transaction: prepared
 * with the dialect's row_lock appended. */
extern const ce_store_statement_t ce_store_instance_locking_statements[];

/* ---- apr_dbd helpers (ce_store_db.c) ----------------------------------- */

/* *perr = the driver's message for rc (first line only: PostgreSQL's DETAIL
 * line quotes the values of a violated key); returns APR_EGENERAL. */
apr_status_t ce_store_db_error(const char **perr, const ce_db_t *db, apr_pool_t *p, int rc,
                               const char *what);

/* Runs prepared statement label with args; every row, drained and copied
 * into p (the pgsql driver frees its result after the last row), as a
 * const char *[] of the columns (NULL for SQL NULL) in *prows. */
apr_status_t ce_store_fetch(apr_array_header_t **prows, ce_db_t *db, apr_pool_t *p,
                            const char *label, const void **args, const char **perr);

/* As ce_store_fetch, for exactly one row: APR_NOTFOUND when there is none. */
apr_status_t ce_store_fetch_one(const char ***prow, ce_db_t *db, apr_pool_t *p, const char *label,
                                const void **args, const char **perr);

/* Runs an INSERT ... RETURNING id. */
apr_status_t ce_store_insert(apr_int64_t *pid, ce_db_t *db, apr_pool_t *p, const char *label,
                             const void **args, const char **perr);

/* Runs a prepared statement that returns no rows; *pnrows = rows affected. */
apr_status_t ce_store_run(int *pnrows, ce_db_t *db, apr_pool_t *p, const char *label,
                          const void **args, const char **perr);

/* Runs unprepared sql whose rows, if any, are not wanted (pragmas, DDL),
 * through a select (PRAGMA journal_mode returns a row); rows drained. */
apr_status_t ce_store_exec(ce_db_t *db, apr_pool_t *p, const char *sql, const char **perr);

/* ce_store_exec of each statement of a NULL-terminated list (may be NULL). */
apr_status_t ce_store_exec_all(ce_db_t *db, apr_pool_t *p, const char *const *sql,
                               const char **perr);

/* Runs unprepared sql that returns no rows (UPDATE, DELETE, INSERT). The
 * values in it are our own (ids, hex, base64) or ce_store_quote'd. */
apr_status_t ce_store_exec_update(ce_db_t *db, apr_pool_t *p, const char *sql, const char **perr);

/* All rows of unprepared sql, copied into p, as ce_store_fetch. */
apr_status_t ce_store_select(apr_array_header_t **prows, ce_db_t *db, apr_pool_t *p,
                             const char *sql, const char **perr);

/* s as a quoted SQL text literal (apr_dbd_escape, then single quotes). */
const char *ce_store_quote(ce_db_t *db, apr_pool_t *p, const char *s);

/* Takes (acquire=1) or gives back (0) the write lock of db->serialize, if
 * any. On failure *perr (when perr) says so. */
apr_status_t ce_store_serialize(ce_db_t *db, int acquire, const char **perr);

/* Begins a write transaction, queued behind other writers (db->serialize).
 * Every successful call is paired with one ce_store_tx_end. */
apr_status_t ce_store_tx_start(apr_dbd_transaction_t **ptx, ce_db_t *db, apr_pool_t *p,
                               const char **perr);

/* Ends transaction tx (may be NULL): commits when status is APR_SUCCESS,
 * else rolls back; then lets the next writer in. Returns status, or the
 * commit's failure. */
apr_status_t ce_store_tx_end(apr_dbd_transaction_t *tx, ce_db_t *db, apr_pool_t *p,
                             apr_status_t status, const char **perr);

/* s, or "" for NULL (a column that is NULL). */
static inline const char *ce_store_or_empty(const char *s)
{
    return s ? s : "";
}

/* ---- sealed and keyed columns (ce_store_seal.c) ------------------------ */

/* How a column holds a secret. */
typedef enum {
    CE_SEAL_TEXT,   /* the whole value sealed (ce_crypto_seal), aad as given */
    CE_SEAL_CONFIG, /* a JSON object whose values are {"$sealed": ...},
                       each sealed with aad + the entry's key */
    CE_SEAL_DIGEST  /* a keyed lookup digest (ce_crypto_keyed_digest) */
} ce_seal_kind_t;

/* One column holding secret material. Every column that does is listed in
 * ce_store_sealed_columns, which sealing, opening, the key check, rekey and
 * the migrations read: a column added there is rotated and migrated with
 * the others, and one not added there cannot be sealed at all. */
typedef struct {
    const char *noun; /* what a row is, in messages: "Instance" */
    const char *table;
    const char *key; /* the column naming a row; NULL: the table has one row */
    const char *column;
    const char *aad; /* TEXT: the AAD; CONFIG: its prefix; DIGEST: NULL */
    ce_seal_kind_t kind;
    int since; /* the schema version whose migration converted what was clear */
} ce_sealed_column_t;

/* Indexes into ce_store_sealed_columns. */
typedef enum {
    CE_SEALED_ORGANIZATION_SECRET,
    CE_SEALED_USER_SECRET,
    CE_SEALED_INSTANCE_TOKEN,
    CE_SEALED_INSTANCE_TOKEN_DIGEST,
    CE_SEALED_INSTANCE_CONFIGURATION,
    CE_SEALED_KEY_CHECK,
    CE_SEALED_KEY_CHECK_DIGEST,
    CE_SEALED_EVENT_SIGNATURE_KEY,
    CE_SEALED_EVENT_BODY,
    CE_SEALED_EVENT_CALLBACK,
    CE_SEALED_INSTANCE_VIEW,
    CE_SEALED_COLUMNS
} ce_sealed_t;

extern const ce_sealed_column_t ce_store_sealed_columns[CE_SEALED_COLUMNS];

/* The sealed text of plain (len bytes) for column which (a TEXT column),
 * in p; NULL on failure. */
const char *ce_store_seal(apr_pool_t *p, const ce_keys_t *keys, ce_sealed_t which,
                          const char *plain, apr_size_t len);

/* Opens a value ce_store_seal made for column which: *pplain, *plen in p.
 * APR_EGENERAL when it fails authentication (tampered, another key). */
apr_status_t ce_store_open(const char **pplain, apr_size_t *plen, apr_pool_t *p,
                           const ce_keys_t *keys, ce_sealed_t which, const char *sealed);

/* Configuration text to store: every value but null sealed (an object
 * value is one sealed already and kept), whatever its
 * key (inst is not consulted: which keys are secret depends on an element
 * that can change). NULL on failure. */
const char *ce_store_seal_configuration(apr_pool_t *p, const ce_keys_t *keys, const json_t *config,
                                        const ce_instance_t *inst);

/* Opens every sealed value of config in place. APR_EGENERAL with *perr
 * (naming the entry, never its content) when one fails authentication. */
apr_status_t ce_store_open_configuration(json_t *config, apr_pool_t *p, const ce_keys_t *keys,
                                         const char **perr);

/* Migration step: seals every configuration value still stored in clear
 * (schema 4: all values are sealed, not only the element's secret ones). */
apr_status_t ce_store_seal_configurations(ce_db_t *db, apr_pool_t *p, int version,
                                          const char **perr);

/* A configuration entry's sealed text (v is {"$sealed": text}), or NULL
 * when v is not a sealed entry. */
const char *ce_store_entry_sealed(const json_t *v);

/* {"$sealed": text sealed under keys for entry key}; NULL on failure. */
json_t *ce_store_seal_entry(apr_pool_t *p, const ce_keys_t *keys, const char *key, const char *text,
                            apr_size_t len);

/* The JSON text sealed in entry v of key, opened: *pplain, *plen. */
apr_status_t ce_store_open_entry(const char **pplain, apr_size_t *plen, apr_pool_t *p,
                                 const ce_keys_t *keys, const char *key, const json_t *v);

/* Stores value in column c of the row whose key is id (the one row of a
 * table without a key column): the one UPDATE migrations and rekey make. */
apr_status_t ce_store_column_set(ce_db_t *db, apr_pool_t *p, const ce_sealed_column_t *c,
                                 const char *id, const char *value, const char **perr);

/* Sets every value of config that is still sealed (did not open) to null. */
void ce_store_drop_sealed(json_t *config);

/* Records (first use) or verifies which keys db is written with: APR_EACCES
 * with *perr when db->keys are not those. */
apr_status_t ce_store_key_check(ce_db_t *db, apr_pool_t *p, const char **perr);

/* Migration step (see ce_store_schema.c): converts in place what was clear
 * before schema version `version` in every registered column whose since
 * is that version (seals values, keys digests). Inside the migration's
 * transaction. */
apr_status_t ce_store_seal_migrate(ce_db_t *db, apr_pool_t *p, int version, const char **perr);

/* ---- instance rows (ce_store_instance.c, read by ce_store_list.c) ------ */

/* What every select of instances selects (as table i), in this order. */
#define CE_STORE_INSTANCE_COLUMNS                                                                  \
    "i.id, i.organization_id, i.element_id, i.name, i.token, i.tags, i.configuration, "            \
    "i.disabled, i.max_cache_size, i.cache_ttl, i.caching_enabled, "                               \
    "i.trace_logging_enabled, i.created_date, i.updated_date, i.revision, i.oauth_due, "           \
    "i.oauth_failures, i.oauth_status, i.external_auth, i.token_digest, i.rendered, i.user_id"

/* A user's columns (ce_user u), as ce_store_user_from_row reads them from
 * row[0..4]. */
#define CE_STORE_USER_COLUMNS "u.id, u.organization_id, u.email_address, u.first_name, u.last_name"
ce_user_t *ce_store_user_from_row(apr_pool_t *p, const char **row);

/* Column positions in CE_STORE_INSTANCE_COLUMNS. */
enum {
    CE_IC_ID,
    CE_IC_ORGANIZATION,
    CE_IC_ELEMENT,
    CE_IC_NAME,
    CE_IC_TOKEN,
    CE_IC_TAGS,
    CE_IC_CONFIGURATION,
    CE_IC_DISABLED,
    CE_IC_MAX_CACHE_SIZE,
    CE_IC_CACHE_TTL,
    CE_IC_CACHING,
    CE_IC_TRACE,
    CE_IC_CREATED,
    CE_IC_UPDATED,
    CE_IC_REVISION,
    CE_IC_OAUTH_DUE,
    CE_IC_OAUTH_FAILURES,
    CE_IC_OAUTH_STATUS,
    CE_IC_EXTERNAL_AUTH,
    CE_IC_TOKEN_DIGEST,
    CE_IC_VIEW,
    CE_IC_USER
};

/* ce_store_view.c: inst's view (ce_instance_view) sealed for a write of
 * inst, bound to its token's digest and its element's definition; "" when
 * none is kept (no element, no token), NULL on failure. view: the view the
 * caller has just rendered of inst as written (a create), or NULL to
 * render it here: never a view read with the row, which a change of inst
 * would leave stale. */
const char *ce_store_view_sealed(apr_pool_t *p, const ce_db_t *db, const ce_instance_t *inst,
                                 const char *digest, const char *view);
/* inst->view and inst->token from the row's view, when it has one that
 * opens, is the row's and was made under inst's element definition; else
 * 0 (the row is to be read in full). */
int ce_store_view_from_row(ce_instance_t *inst, const ce_db_t *db, apr_pool_t *p, const char **row);

/* Parses stored JSON text (tags / configuration) of the expected type. */
apr_status_t ce_store_json_column(json_t **pj, apr_pool_t *p, const char *text, json_type type);

/* ce_store_instance_row.c: the instance of a row of
 * CE_STORE_INSTANCE_COLUMNS, read as how says, its sealed values opened. A
 * value that fails authentication fails this instance only: APR_EGENERAL,
 * *perr naming the instance and the value, never its content. */
apr_status_t ce_store_instance_from_row(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                        const char **row, const ce_catalog_t *cat,
                                        const ce_user_t *owner, unsigned how, const char **perr);

/* The instance of a row of CE_STORE_INSTANCE_COLUMNS, for a listing: one
 * whose sealed values do not open is still listed, as unreadable (not
 * valid), without its token and with every value that did not open set to
 * null; it is logged by id, since the listing itself answers 200. */
apr_status_t ce_store_instance_listed(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                      const char **row, const ce_catalog_t *cat,
                                      const ce_user_t *owner, unsigned how, const char **perr);

/* ---- instance counts (ce_store_count.c) -------------------------------- */

/* The rows each (user, element) count is spread over: an instance counts
 * in row id % CE_STORE_COUNT_SHARDS (the schema 6 migration too). */
#define CE_STORE_COUNT_SHARDS 8

/* One change of the count of user_id's instances of element_id: delta in
 * the shard of instance_id. */
typedef struct {
    apr_int64_t user_id;
    long element_id;
    apr_int64_t instance_id;
    int delta;
} ce_store_count_change_t;

/* Inside the write transaction that made them: applies the n changes to
 * ce_instance_count, one statement per row touched, rows in one order for
 * every writer (sorts changes in place). */
apr_status_t ce_store_count_apply(ce_db_t *db, apr_pool_t *p, ce_store_count_change_t *changes,
                                  int n, const char **perr);

/* ---- instances and group commit ---------------------------------------- */

/* An event's row but its instance's id, made before the write's lock
 * (ce_store_event.c): a create's event is made before its instance has an
 * id, its body holding 0 for it, which every read of it fills from the
 * row (ce_event_fill_id). */
typedef struct {
    ce_event_type_t type; /* CE_EVENT_NONE: nothing to record */
    const char *event_id, *date, *body, *url, *key, *status;
    apr_int64_t user_id, due, created;
} ce_store_event_prep_t;

apr_status_t ce_store_event_prepare(ce_store_event_prep_t *e, const ce_db_t *db, apr_pool_t *p,
                                    ce_event_type_t type, const ce_instance_t *inst,
                                    const char **perr);
/* Inside the write's transaction: e's row, for instance id. */
apr_status_t ce_store_event_insert(ce_db_t *db, apr_pool_t *p, const ce_store_event_prep_t *e,
                                   apr_int64_t instance_id, const char **perr);

/* One create, its statement arguments built before any lock is taken, and
 * (for a batched create) its outcome as the committing thread left it. */
typedef struct ce_store_create_t ce_store_create_t;
struct ce_store_create_t {
    const ce_instance_t *inst;
    const void *args[20];
    ce_store_event_prep_t event; /* its CREATED event */
    apr_int64_t id;
    apr_status_t status;
    int done;
    int lead; /* this create's thread writes the next batch */
#if APR_HAS_THREADS
    apr_thread_mutex_t *lock; /* guards done and lead once queued */
    apr_thread_cond_t *wake;  /* signalled when done or lead is set */
#endif
    char err[256]; /* the committer's message: its pool is not ours */
    ce_store_create_t *next;
};

/* Writes every create of list in one transaction and sets each id. On
 * failure nothing of list is written and *perr says why (ce_store_instance.c). */
apr_status_t ce_store_create_write(ce_db_t *db, apr_pool_t *p, ce_store_create_t *list,
                                   const char **perr);

/* Queues c on b and returns once a transaction holding it has ended
 * (c->status, c->err, c->id set), writing that transaction itself when it
 * is its turn (ce_store_batch.c). */
void ce_store_batch_write(ce_store_batch_t *b, ce_db_t *db, apr_pool_t *p, ce_store_create_t *c);

/* ce_store_sqlite.c: whether db is an SQLite connection whose native
 * handle its prepared SELECTs may use. */
int ce_store_sqlite_native(const ce_db_t *db);
/* Finalizes what ce_store_sqlite_* prepared on db (before it is closed). */
void ce_store_sqlite_done(ce_db_t *db);
/* Prepares statement label (SELECT, INSERT, UPDATE or DELETE; apr_dbd's
 * placeholders) natively too, when db allows it; nothing otherwise
 * (apr_dbd runs it). */
void ce_store_sqlite_prepare(ce_db_t *db, const char *label, const char *sql);
/* ce_store_fetch's rows (appended to rows) through the native statement
 * of label: APR_ENOTIMPL when it has none, APR_EAGAIN when the database
 * is busy (nothing appended: read it through apr_dbd). */
apr_status_t ce_store_sqlite_fetch(apr_array_header_t *rows, ce_db_t *db, apr_pool_t *p,
                                   const char *label, const void **args, const char **perr);
/* ce_store_run through the native statement of label (*pnrows: the rows
 * it changed); APR_ENOTIMPL and APR_EAGAIN as ce_store_sqlite_fetch. */
apr_status_t ce_store_sqlite_run(int *pnrows, ce_db_t *db, apr_pool_t *p, const char *label,
                                 const void **args, const char **perr);

/* ce_store_wal.c: checkpoints outside every lock (see there). Registers
 * db's WAL hook (SQLite with a native handle; nothing otherwise). */
void ce_store_wal_watch(ce_db_t *db);
/* db's checkpoints are left to whoever asks ce_store_wal_due (group
 * commit's own connection: not while the queue waits for its writer). */
void ce_store_wal_defer(ce_db_t *db);
/* Whether db's last commit asked for a checkpoint; the ask is cleared. */
int ce_store_wal_due(ce_db_t *db);
/* A PASSIVE checkpoint on db, with SQLite's own API, outside every lock;
 * when the log is long, then a short RESTART one inside the write lock
 * (db->serialize), so that it starts over. What fails is logged. */
void ce_store_wal_checkpoint(ce_db_t *db);
/* After a transaction and its write lock have ended: the checkpoint its
 * commit asked for, unless db's are deferred. */
void ce_store_wal_after_commit(ce_db_t *db);

#endif
