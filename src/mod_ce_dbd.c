/* mod_ce_dbd: the database layer of the glue (see mod_ce_dbd.h): mod_dbd
 * connections for requests and jobs, the SQLite write mutex, group-commit
 * queues, the child-init key check, and the core's log sink. */
#include <httpd.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <http_config.h>
#include <http_log.h>
#include <util_mutex.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "ce_log.h"
#include "mod_ce_config.h"
#include "mod_ce_dbd.h"

APLOG_USE_MODULE(ceinstances);

/* Connections tried per acquire before answering 503. */
#define CE_DB_ATTEMPTS 3

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) * dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) * dbd_close;
static apr_global_mutex_t *write_mutex;

/* Group commit (see ce_store_batch_create): this child's queue per
 * server_rec, since each may name its own database. */
static apr_hash_t *batches; /* server_rec * -> ce_store_batch_t * */

apr_status_t ce_dbd_bind(void)
{
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    return dbd_open && dbd_close ? APR_SUCCESS : APR_EGENERAL;
}

/* ---- the core's log, into httpd's ---- */

static void log_to_httpd(void *baton, const char *file, int line, ce_log_level_t level,
                         apr_status_t rv, const char *message)
{
    ap_log_error_(file, line, APLOG_MODULE_INDEX, (int)level, rv, baton, "%s", message);
}

static apr_status_t log_detach(void *data)
{
    ce_log_set(NULL, NULL, CE_LOG_WARNING);
    return APR_SUCCESS;
}

void ce_dbd_log_attach(apr_pool_t *p, server_rec *s)
{
    int level = ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX);

    ce_log_set(log_to_httpd, s, level > APLOG_DEBUG ? CE_LOG_DEBUG : (ce_log_level_t)level);
    apr_pool_cleanup_register(p, NULL, log_detach, apr_pool_cleanup_null);
}

/* ---- the SQLite write mutex and the group-commit queues ---- */

apr_status_t ce_dbd_mutex_register(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, CE_MUTEX_NAME, NULL, APR_LOCK_DEFAULT, 0);
}

/* The write mutex lives as long as the httpd parent, not one generation
 * of the configuration. Made in pconf, it was destroyed at every graceful
 * restart when the parent cleared pconf, and a child forked just before
 * the restart, which had not attached to it yet, then found it gone:
 * EINVAL on every write (503s) and its key check skipped (seen once in
 * t/29's rotation under load). Made once in the process pool, it is the
 * same lock for every generation, so old and new children still queue on
 * one lock. (A changed Mutex directive takes a full restart.) */
#define MUTEX_KEY "ceinstances-db-write-mutex"

apr_status_t ce_dbd_mutex_create(apr_pool_t *pconf, server_rec *s)
{
    apr_pool_t *pproc = s->process->pool;
    void *kept = NULL;
    apr_status_t rv;

    apr_pool_userdata_get(&kept, MUTEX_KEY, pproc);
    if (kept) {
        write_mutex = kept;
        return APR_SUCCESS;
    }
    rv = ap_global_mutex_create(&write_mutex, NULL, CE_MUTEX_NAME, NULL, s, pproc, 0);
    if (rv == APR_SUCCESS) {
        apr_pool_userdata_set(write_mutex, MUTEX_KEY, apr_pool_cleanup_null, pproc);
    }
    return rv;
}

static apr_status_t serialize_writes(void *baton, int acquire)
{
    return acquire ? apr_global_mutex_lock(write_mutex) : apr_global_mutex_unlock(write_mutex);
}

void ce_dbd_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    server_rec *sv;

    if (!write_mutex) {
        return;
    }
    rv = apr_global_mutex_child_init(&write_mutex, apr_global_mutex_lockfile(write_mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "CE00004: cannot attach the %s mutex",
                     CE_MUTEX_NAME);
        return;
    }
    batches = apr_hash_make(pchild);
    for (sv = s; sv; sv = sv->next) {
        server_rec **key = apr_palloc(pchild, sizeof(*key));
        ce_store_batch_t *batch;

        if ((rv = ce_store_batch_create(&batch, pchild)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "CE00005: cannot create the commit queue");
            continue;
        }
        *key = sv;
        apr_hash_set(batches, key, sizeof(*key), batch);
    }
}

/* db: our view of a mod_dbd connection of server s. */
static void bind_db(ce_db_t *db, ap_dbd_t *dbd, server_rec *s)
{
    memset(db, 0, sizeof(*db));
    if (!dbd->prepared) {
        dbd->prepared = apr_hash_make(dbd->pool);
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    db->pool = dbd->pool;
    db->keys = ce_config_server_of(s)->keys;
    db->catalog = ce_config_server_of(s)->catalog;
    if (write_mutex && strcmp(apr_dbd_name(dbd->driver), "sqlite3") == 0) {
        db->serialize = serialize_writes;
        db->batch = batches ? apr_hash_get(batches, &s, sizeof(server_rec *)) : NULL;
    }
}

/* ---- the child-init key check ---- */

/* The key check of the child's start-up could not be made (the database
 * is unreachable or failed otherwise): said once, as it is not fatal. Each
 * connection makes the same check before its first statement
 * (ce_store_init), so no request is ever served with an unchecked key. */
static void log_unchecked(server_rec *sv, apr_status_t rv, const char *why)
{
    ap_log_error(APLOG_MARK, APLOG_ERR, rv, sv,
                 "CE00034: cannot check the key file against the database at start-up: %s; "
                 "each connection checks it before use",
                 why);
}

/* APR_EACCES (logged) when sv's key file does not open its database. */
static apr_status_t check_server_keys(apr_pool_t *p, server_rec *sv)
{
    const ce_server_config_t *cfg = ce_config_server_of(sv);
    const char *err = NULL;
    ap_dbd_t *dbd;
    ce_db_t db;
    apr_status_t rv;

    if (!(dbd = dbd_open(p, sv))) {
        log_unchecked(sv, 0, "no database connection (mod_dbd)");
        return APR_SUCCESS; /* requests answer 503 until it is back */
    }
    bind_db(&db, dbd, sv);
    rv = ce_store_init(&db, &err);
    dbd_close(sv, dbd);
    if (rv == APR_EACCES) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, sv,
                     "CE00025: %s (CEInstancesKeyFile %s): refusing to serve with it", err,
                     cfg->key_path ? cfg->key_path : "?");
        return rv;
    }
    if (rv != APR_SUCCESS) {
        log_unchecked(sv, rv, err ? err : "?");
    } else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, sv,
                     "CE00035: the key file opens the database (checked at start-up)");
    }
    return APR_SUCCESS;
}

apr_status_t ce_dbd_check_keys(apr_pool_t *pchild, server_rec *s)
{
    server_rec *sv;

    for (sv = s; sv && dbd_open; sv = sv->next) {
        const ce_server_config_t *cfg = ce_config_server_of(sv);
        apr_pool_t *p;
        apr_status_t rv;

        if (!cfg->catalog || !cfg->keys) {
            continue;
        }
        apr_pool_create(&p, pchild);
        rv = check_server_keys(p, sv);
        apr_pool_destroy(p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* ---- connections ---- */

/* A log line about conn: on its request when it has one, else its server.
 * (ap_log_rerror has no va_list form: the caller formats.) */
static void log_conn(const ce_dbd_conn_t *conn, int level, apr_status_t rv, const char *msg)
{
    if (conn->r) {
        ap_log_rerror(APLOG_MARK, level, rv, conn->r, "%s", msg);
    } else {
        ap_log_error(APLOG_MARK, level, rv, conn->s, "%s", msg);
    }
}

ce_dbd_conn_t *ce_dbd_conn(server_rec *s, apr_pool_t *p, const request_rec *r)
{
    ce_dbd_conn_t *conn = apr_pcalloc(p, sizeof(*conn));

    conn->s = s;
    conn->pool = p;
    conn->r = r;
    return conn;
}

/* Pool cleanup: hands the connection back to mod_dbd's pool. */
static apr_status_t close_conn(void *data)
{
    ce_dbd_conn_t *conn = data;

    dbd_close(conn->s, conn->dbd);
    conn->dbd = NULL;
    return APR_SUCCESS;
}

void ce_dbd_release(ce_dbd_conn_t *conn)
{
    if (conn->dbd) {
        apr_pool_cleanup_run(conn->pool, conn, close_conn);
    }
}

apr_status_t ce_dbd_acquire(ce_dbd_conn_t *conn, const char **perr)
{
    const char *err = NULL;
    apr_status_t rv;
    int attempt;

    if (conn->dbd) {
        return APR_SUCCESS;
    }
    /* mod_dbd answers NULL when the pooled connection it picked turns out
     * dead (and drops it): after a database restart the pool may hold a
     * few of those before a fresh connection is made. */
    for (attempt = 0; attempt < CE_DB_ATTEMPTS && !conn->dbd && dbd_open; attempt++) {
        conn->dbd = dbd_open(conn->pool, conn->s);
    }
    if (!conn->dbd) {
        *perr = CE_DBD_UNAVAILABLE;
        return CE_EUNAVAILABLE;
    }
    apr_pool_cleanup_register(conn->pool, conn, close_conn, apr_pool_cleanup_null);
    bind_db(&conn->db, conn->dbd, conn->s);
    if ((rv = ce_store_init(&conn->db, &err)) != APR_SUCCESS) {
        log_conn(
            conn, APLOG_ERR, rv,
            apr_psprintf(conn->pool, "CE00001: cannot prepare the database: %s", err ? err : "?"));
        ce_dbd_release(conn);
        *perr = CE_DBD_UNAVAILABLE;
        return CE_EUNAVAILABLE;
    }
    return APR_SUCCESS;
}

int ce_dbd_lost(const ce_dbd_conn_t *conn)
{
    return conn->dbd &&
           apr_dbd_check_conn(conn->db.driver, conn->pool, conn->db.handle) != APR_SUCCESS;
}

/* After a first statement failed: makes conn fit for one more try.
 * APR_SUCCESS to retry, APR_EAGAIN when retrying would not help, or
 * CE_EUNAVAILABLE (*perr set) when no fresh connection can be had. */
static apr_status_t recover(ce_dbd_conn_t *conn, const char **perr)
{
    const char *err = NULL;

    if (ce_dbd_lost(conn)) {
        /* A pooled connection whose server went away: a fresh one. */
        ce_dbd_release(conn);
        return ce_dbd_acquire(conn, perr);
    }
    if (ce_store_reprepare(&conn->db, &err) == APR_SUCCESS) {
        /* Re-established in place, its prepared statements gone. */
        log_conn(conn, APLOG_INFO, 0,
                 "CE00007: the database connection was re-established; "
                 "statements prepared again");
        return APR_SUCCESS;
    }
    return APR_EAGAIN;
}

apr_status_t ce_dbd_first(ce_dbd_conn_t *conn, ce_dbd_statement_fn *fn, void *baton,
                          const char **perr)
{
    apr_status_t rv, rrv;

    if ((rv = ce_dbd_acquire(conn, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = fn(&conn->db, conn->pool, baton, perr);
    if (rv != APR_EGENERAL) {
        return rv;
    }
    rrv = recover(conn, perr);
    if (rrv == CE_EUNAVAILABLE) {
        return rrv;
    }
    return rrv == APR_SUCCESS ? fn(&conn->db, conn->pool, baton, perr) : rv;
}
