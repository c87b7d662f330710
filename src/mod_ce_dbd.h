/* mod_ce_dbd: the database layer of the glue — how a request, or work
 * without one (a background job, an auth provider), gets a connection.
 *
 * Connections come from mod_dbd's pool (its optional functions, bound once
 * after configuration) and are readied for our schema and statements
 * (ce_store_init) on first use. This file also owns what every connection
 * of a child shares: the SQLite write mutex, the per-server group-commit
 * queues, the child-init key check, and the core's log sink (ce_log),
 * pointed at httpd's error log.
 */
#ifndef MOD_CE_DBD_H
#define MOD_CE_DBD_H

#include <httpd.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "ce_store.h"

/* No connection could be had, or the one held was lost: HTTP 503. */
#define CE_EUNAVAILABLE (APR_OS_START_USERERR + 503)

/* The message for CE_EUNAVAILABLE, safe to send to a client. */
#define CE_DBD_UNAVAILABLE "The database is unavailable"

/* The cross-process lock that queues SQLite writers (apr-util's sqlite3
 * driver holds a process-wide mutex while SQLite waits on a busy database,
 * so writers must not meet inside SQLite). Named for httpd's Mutex
 * directive: "Mutex <mechanism> ceinstances-db". */
#define CE_MUTEX_NAME "ceinstances-db"

/* A database connection of server s, held by whoever made it (a request, a
 * job). Made empty by ce_dbd_conn; a mod_dbd connection is taken on
 * ce_dbd_acquire and given back on ce_dbd_release, or when pool is
 * cleaned up, whichever comes first. */
typedef struct {
    server_rec *s;
    apr_pool_t *pool;     /* the holder's: the cleanup, scratch for checks */
    const request_rec *r; /* log context, or NULL outside a request */
    ap_dbd_t *dbd;        /* the mod_dbd connection held, or NULL */
    ce_db_t db;           /* our view of dbd: valid while dbd is set */
} ce_dbd_conn_t;

/* check_config: binds mod_dbd's optional functions. APR_EGENERAL when
 * mod_dbd is not loaded (the caller refuses to start, saying so). */
apr_status_t ce_dbd_bind(void);

/* pre_config: registers the mutex type for httpd's Mutex directive. */
apr_status_t ce_dbd_mutex_register(apr_pool_t *pconf);

/* post_config (in the parent): creates the mutex. */
apr_status_t ce_dbd_mutex_create(apr_pool_t *pconf, server_rec *s);

/* post_config and child_init: points the core's log (ce_log) at s's error
 * log, at s's LogLevel for this module, until p is cleaned up (then back to
 * the core's stderr default). s is the main server. */
void ce_dbd_log_attach(apr_pool_t *p, server_rec *s);

/* child_init: re-attaches the mutex in the child and makes the child's
 * group-commit queue per server_rec (CE00004, CE00005 when it cannot). */
void ce_dbd_child_init(apr_pool_t *pchild, server_rec *s);

/* child_init, after mod_dbd's: readies the database of every server that
 * serves the API and checks that its key file opens it. APR_EACCES (logged,
 * CE00025) when a key file is not the one a database was written with: the
 * caller then exits the child with APEXIT_CHILDFATAL, which stops httpd. A
 * database that cannot be reached is no reason to stop (requests answer
 * 503 until it is back). */
apr_status_t ce_dbd_check_keys(apr_pool_t *pchild, server_rec *s);

/* An empty connection handle of server s, in p (which the handle must not
 * outlive); r, when not NULL, is the request log lines are about. Cheap:
 * nothing is taken from mod_dbd until ce_dbd_acquire. */
ce_dbd_conn_t *ce_dbd_conn(server_rec *s, apr_pool_t *p, const request_rec *r);

/* Takes a connection from mod_dbd's pool (nothing to do when one is held)
 * and readies it (ce_store_init). mod_dbd answers NULL when the pooled
 * connection it picked is dead, so it is asked up to 3 times. On failure
 * returns CE_EUNAVAILABLE, *perr = CE_DBD_UNAVAILABLE (a failed init is
 * logged, CE00001, and the connection given back). */
apr_status_t ce_dbd_acquire(ce_dbd_conn_t *conn, const char **perr);

/* Gives the held connection back to mod_dbd's pool (nothing when none is
 * held). A request calls it as soon as its answer is made. */
void ce_dbd_release(ce_dbd_conn_t *conn);

/* Whether a connection is held and known dead (apr_dbd_check_conn: the
 * database went away). */
int ce_dbd_lost(const ce_dbd_conn_t *conn);

/* A first statement on a connection, as ce_dbd_first runs it. */
typedef apr_status_t ce_dbd_statement_fn(ce_db_t *db, apr_pool_t *p, void *baton,
                                         const char **perr);

/* Acquires if needed, then runs fn on conn's database; when it fails with
 * APR_EGENERAL (a database failure) it runs it once more: on a fresh
 * connection when the one held is lost (CE_EUNAVAILABLE when none can be
 * had), or after preparing the statements again when the connection was
 * re-established in place (pgsql) and lost them (CE00007). For the first
 * statement of a unit of work, which is the one to meet a dead pooled
 * connection. Returns fn's result, *perr as fn sets it. */
apr_status_t ce_dbd_first(ce_dbd_conn_t *conn, ce_dbd_statement_fn *fn, void *baton,
                          const char **perr);

#endif
