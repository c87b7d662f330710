/* mod_ce_watchdog: the background job — token refresh and event delivery
 * (see mod_ce_watchdog.h), read in
 * the light of mod_md's mod_md_drive.c: a mod_watchdog callback, its
 * database connection from mod_ce_dbd as a request's, the work in the
 * store (ce_store_oauth_refresh). */
#include <string.h>
#include <httpd.h>
#include <apr_atomic.h>
#include <apr_optional.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "ce_crypto.h"
#include "mod_ce_config.h"
#include "mod_ce_dbd.h"
#include "mod_ce_watchdog.h"

APLOG_USE_MODULE(ceinstances);

#define WATCHDOG_NAME "ceinstances-refresh"
#define EVENTS_WATCHDOG_NAME "ceinstances-events"

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) * wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) * wd_register_callback;

/* ---- the child's exit: no background work may hold a database connection
 * when mod_dbd's pool of them goes (apr_reslist asserts, the child aborts),
 * nor be still running when the process exits (what its threads keep,
 * freed only at their end, would be left to LeakSanitizer). mod_watchdog
 * joins its threads only when the process pool goes, after the child's
 * pool: so a pre-cleanup of the child's pool stops new work and waits for
 * a job's whole pass under way (a delivery: at most the outbound timeout;
 * its senders joined, their thread state freed). A job that finds the
 * child exiting does nothing; what it left undone is due again on the next
 * start or another node (the leases). */
#define STOP_WAIT_MAX apr_time_from_sec(120)
static apr_thread_mutex_t *bg_lock;
static apr_thread_cond_t *bg_idle;
static int bg_busy;
static volatile int bg_stopping;

/* 1: go on (and call bg_leave after); 0: the child is exiting. */
static int bg_enter(void)
{
    int go;

    if (!bg_lock) {
        return 1; /* (no child_init: nothing to wait for either) */
    }
    apr_thread_mutex_lock(bg_lock);
    if ((go = !bg_stopping)) {
        bg_busy++;
    }
    apr_thread_mutex_unlock(bg_lock);
    return go;
}

static void bg_leave(void)
{
    if (!bg_lock) {
        return;
    }
    apr_thread_mutex_lock(bg_lock);
    if (--bg_busy == 0) {
        apr_thread_cond_broadcast(bg_idle);
    }
    apr_thread_mutex_unlock(bg_lock);
}

/* Server s's database for a job's work (bg_enter, and a connection
 * acquired), or NULL: the child is exiting, or the database is away (the
 * next look tries again). Given back with bg_release. */
static ce_dbd_conn_t *bg_acquire(server_rec *s, apr_pool_t *p)
{
    ce_dbd_conn_t *conn = ce_dbd_conn(s, p, NULL);
    const char *err = NULL;

    if (!bg_enter()) {
        return NULL;
    }
    if (ce_dbd_acquire(conn, &err) != APR_SUCCESS) {
        bg_leave();
        return NULL;
    }
    return conn;
}

static void bg_release(ce_dbd_conn_t *conn)
{
    ce_dbd_release(conn);
    bg_leave();
}

static apr_status_t bg_stop(void *data)
{
    apr_time_t until = apr_time_now() + STOP_WAIT_MAX;

    apr_thread_mutex_lock(bg_lock);
    bg_stopping = 1;
    while (bg_busy > 0 && apr_time_now() < until) {
        apr_thread_cond_timedwait(bg_idle, bg_lock, apr_time_from_msec(100));
    }
    apr_thread_mutex_unlock(bg_lock);
    return APR_SUCCESS;
}

void ce_watchdog_child_init(apr_pool_t *pchild, server_rec *s)
{
    bg_stopping = 0;
    if (bg_lock) {
        apr_pool_pre_cleanup_register(pchild, NULL, bg_stop);
    }
}

/* Made before the children (post_config, in pconf): ready before any job
 * thread runs, and still there after the child's pool goes (a job thread
 * that looks then finds bg_stopping set). */
static apr_status_t bg_forget(void *data)
{
    bg_lock = NULL; /* gone with its pool (a restart makes them again) */
    bg_idle = NULL;
    return APR_SUCCESS;
}

static void bg_create(apr_pool_t *pconf)
{
    bg_busy = 0;
    bg_stopping = 0;
    if (apr_thread_mutex_create(&bg_lock, APR_THREAD_MUTEX_DEFAULT, pconf) != APR_SUCCESS ||
        apr_thread_cond_create(&bg_idle, pconf) != APR_SUCCESS) {
        bg_lock = NULL;
        return;
    }
    /* registered after the mutex's and cond's own: runs before them */
    apr_pool_cleanup_register(pconf, NULL, bg_forget, apr_pool_cleanup_null);
}

/* The lease a refresher takes: long enough for the provider's answer and
 * the write that keeps it. */
static apr_interval_time_t lease_of(const ce_server_config_t *cfg)
{
    apr_interval_time_t t =
        cfg->outbound_timeout >= 0 ? cfg->outbound_timeout : CE_OUTBOUND_TIMEOUT_DEFAULT;

    return CE_STORE_OAUTH_LEASE(t);
}

static void log_outcome(server_rec *s, const ce_store_due_t *d, ce_refresh_outcome_t out,
                        const char *why)
{
    switch (out) {
        case CE_REFRESH_DONE:
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                         "CE00041: instance %" APR_INT64_T_FMT ": access token refreshed", d->id);
            break;
        case CE_REFRESH_FAILED:
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "CE00042: instance %" APR_INT64_T_FMT
                         ": token refresh failed, tried again later: %s",
                         d->id, why ? why : "?");
            break;
        case CE_REFRESH_REFUSED:
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "CE00043: instance %" APR_INT64_T_FMT
                         ": the provider refused its refresh token; not valid until "
                         "re-authenticated: %s",
                         d->id, why ? why : "?");
            break;
        default:
            break;
    }
}

/* One look at server s's database: every token due, refreshed. */
static void refresh_due(server_rec *s, apr_pool_t *p)
{
    const ce_server_config_t *cfg = ce_config_server_of(s);
    ce_dbd_conn_t *conn = bg_acquire(s, p);
    apr_array_header_t *due = NULL;
    const char *err = NULL;
    apr_status_t rv;
    int i;

    if (!conn) {
        return;
    }
    rv = ce_store_oauth_due(&due, &conn->db, p, apr_time_as_msec(apr_time_now()), CE_REFRESH_BATCH,
                            &err);
    for (i = 0; rv == APR_SUCCESS && i < due->nelts && !bg_stopping; i++) {
        const ce_store_due_t *d = &APR_ARRAY_IDX(due, i, ce_store_due_t);
        ce_refresh_outcome_t out;
        const char *why = NULL;

        rv = ce_store_oauth_refresh(&out, &conn->db, cfg->http, p, cfg->catalog, d, lease_of(cfg),
                                    &why);
        if (rv == APR_SUCCESS) {
            log_outcome(s, d, out, why);
        } else {
            err = why;
        }
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "CE00044: token refresh: %s",
                     err ? err : "database failure");
    }
    bg_release(conn);
}

/* ---- events: the outbox sent (ce_store_event_send) ---- */

/* Events sent per server in one pass at most: the rest wait a pass. */
#define EVENT_BATCH 20
/* Events one node sends at once: a slow receiver holds up one sender, not
 * the others' events. */
#define EVENT_SENDERS 4
/* How often the log is pruned of events past their retention. */
#define PRUNE_EVERY apr_time_from_sec(60)

static void log_sent(server_rec *s, apr_int64_t id, const ce_event_sent_t *out)
{
    if (!out->status) {
        return; /* not claimed (another node has it), or the lease was lost */
    }
    if (!out->why) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "CE00055: event %s delivered (attempt %d)",
                     out->event_id, out->attempts);
    } else if (strcmp(out->status, "FAILED") != 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "CE00056: event %s not delivered (attempt %d), tried again later: %s",
                     out->event_id ? out->event_id : "?", out->attempts, out->why);
    } else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "CE00057: event %" APR_INT64_T_FMT " (%s) given up after %d attempts: %s", id,
                     out->event_id ? out->event_id : "?", out->attempts, out->why);
    }
}

/* One pass's events, shared by its senders: each takes the next one not
 * taken (next, atomic); each event's claim in the database keeps it one
 * sender's, here and on every other node. */
typedef struct {
    server_rec *s;
    ce_event_policy_t pol;
    const apr_array_header_t *due;
    volatile apr_uint32_t next;
} pass_t;

/* Event id claimed, sent and its outcome kept on conn, which goes back to
 * mod_dbd while the receiver is asked (a slow receiver holds no database
 * connection; it is taken again for the outcome). */
static apr_status_t send_one(ce_event_sent_t *out, ce_dbd_conn_t *conn, ce_http_t *h, apr_pool_t *p,
                             apr_int64_t id, const ce_event_policy_t *pol, const char **perr)
{
    ce_event_outbound_t *o = NULL;
    apr_status_t rv = ce_store_event_claim(&o, &conn->db, p, id, pol, perr);

    memset(out, 0, sizeof(*out));
    if (rv != APR_SUCCESS || !o) {
        return rv;
    }
    ce_dbd_release(conn);
    ce_store_event_post(out, h, p, o);
    if ((rv = ce_dbd_acquire(conn, perr)) != APR_SUCCESS) {
        out->status = NULL; /* not kept: the lease runs out, it is sent again */
        return rv;
    }
    return ce_store_event_keep(out, &conn->db, p, o, pol, perr);
}

/* Sends the pass's events until none is left, on a database connection of
 * its own (p: the sender's). */
static void send_events(pass_t *pass, apr_pool_t *p)
{
    const ce_server_config_t *cfg = ce_config_server_of(pass->s);
    ce_dbd_conn_t *conn = bg_acquire(pass->s, p);
    const char *err = NULL;
    apr_status_t rv = APR_SUCCESS;
    apr_uint32_t i;
    apr_pool_t *each;

    if (!conn) {
        return;
    }
    apr_pool_create(&each, p);
    while (rv == APR_SUCCESS && !bg_stopping &&
           (int)(i = apr_atomic_inc32(&pass->next)) < pass->due->nelts) {
        apr_int64_t id = APR_ARRAY_IDX(pass->due, i, apr_int64_t);
        ce_event_sent_t out;

        apr_pool_clear(each);
        if ((rv = send_one(&out, conn, cfg->http, each, id, &pass->pol, &err)) == APR_SUCCESS) {
            log_sent(pass->s, id, &out);
        } else {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, pass->s, "CE00058: event delivery: %s",
                         err ? err : "database failure");
        }
    }
    bg_release(conn);
}

/* A sender thread. It touches no pool of the thread that started it: its
 * own has an allocator of its own, and it returns rather than calling
 * apr_thread_exit (which would destroy, from this thread, the pool
 * apr_thread_create made in the starter's). */
static void *APR_THREAD_FUNC sender(apr_thread_t *t, void *data)
{
    apr_pool_t *p = NULL;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) == APR_SUCCESS) {
        send_events(data, p);
        apr_pool_destroy(p);
    }
    ce_crypto_thread_done(); /* as the watchdog's own thread, below */
    return NULL;
}

/* The events due of server s, sent by up to EVENT_SENDERS senders: this
 * thread and others started for the pass, all done when it returns. */
static void send_due(server_rec *s, apr_pool_t *p, const ce_event_policy_t *pol,
                     const apr_array_header_t *due)
{
    pass_t pass = {s, *pol, due, 0};
    apr_thread_t *threads[EVENT_SENDERS];
    apr_status_t trv;
    int n = 0, i;

    while (n < EVENT_SENDERS - 1 && n < due->nelts - 1 &&
           apr_thread_create(&threads[n], NULL, sender, &pass, p) == APR_SUCCESS) {
        n++; /* (none started: this thread sends them all) */
    }
    send_events(&pass, p);
    for (i = 0; i < n; i++) {
        apr_thread_join(&trv, threads[i]);
    }
}

/* One look at server s's outbox: every event due, sent; now and then the
 * events past their retention removed. */
static void deliver_due(server_rec *s, apr_pool_t *p, int prune)
{
    const ce_server_config_t *cfg = ce_config_server_of(s);
    ce_event_policy_t pol = {ce_config_event_retry(cfg), ce_config_event_attempts(cfg),
                             lease_of(cfg)};
    ce_dbd_conn_t *conn = bg_acquire(s, p);
    apr_array_header_t *due = NULL;
    const char *err = NULL;
    apr_status_t rv;
    int n = 0;

    if (!conn) {
        return;
    }
    rv = ce_store_event_due(&due, &conn->db, p, EVENT_BATCH, &err);
    if (rv == APR_SUCCESS && prune) {
        rv = ce_store_event_prune(&n, &conn->db, p,
                                  apr_time_as_msec(apr_time_now() - ce_config_event_retention(cfg)),
                                  &err);
    }
    bg_release(conn); /* each sender takes its own */
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, "CE00058: event delivery: %s",
                     err ? err : "database failure");
    }
    if (due && due->nelts > 0) {
        send_due(s, p, &pol, due);
    }
}

/* One pass of a job over every server that serves the API. */
static void each_server(server_rec *first, apr_pool_t *pool, int prune,
                        void (*work)(server_rec *s, apr_pool_t *p, int prune))
{
    server_rec *s;

    if (!bg_enter()) {
        return; /* the child is exiting */
    }
    for (s = first; s; s = s->next) {
        const ce_server_config_t *cfg = ce_config_server_of(s);
        apr_pool_t *p;

        if (!cfg->catalog || !cfg->http || !cfg->keys) {
            continue;
        }
        /* Servers sharing one database (vhosts) each look: the leases keep
         * it one refresh per expiry, one sender per event. */
        apr_pool_create(&p, pool);
        work(s, p, prune);
        apr_pool_destroy(p);
    }
    /* The watchdog's thread keeps no OpenSSL state (the random generators
     * sealing used) between passes: once a watchdog has run, mod_watchdog
     * ends it without calling its callbacks with STOPPING, and OpenSSL's
     * own thread-exit hook can be outrun by the child's exit, which leaves
     * them to LeakSanitizer. */
    ce_crypto_thread_done();
    bg_leave(); /* the child's exit waits for this pass, its senders joined */
}

static void refresh_server(server_rec *s, apr_pool_t *p, int prune)
{
    refresh_due(s, p);
}

static apr_status_t refresh_job(int state, void *data, apr_pool_t *pool)
{
    if (state == AP_WATCHDOG_STATE_RUNNING) {
        each_server(data, pool, 0, refresh_server);
    }
    return APR_SUCCESS;
}

/* Events have a thread of their own: a receiver that takes its time
 * delays events, never a token refresh. */
static apr_status_t events_job(int state, void *data, apr_pool_t *pool)
{
    static apr_time_t pruned;
    int prune;

    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    if ((prune = apr_time_now() - pruned > PRUNE_EVERY)) {
        pruned = apr_time_now();
    }
    each_server(data, pool, prune, deliver_due);
    return APR_SUCCESS;
}
apr_status_t ce_watchdog_register(apr_pool_t *pconf, server_rec *s)
{
    ap_watchdog_t *w = NULL;
    apr_status_t rv;

    bg_create(pconf);
    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!wd_get_instance || !wd_register_callback) {
        return APR_ENOTIMPL;
    }
    /* Child watchdogs (parent = 0), singletons: one child at a time runs
     * each, in a thread of its own. */
    if ((rv = wd_get_instance(&w, WATCHDOG_NAME, 0, 1, pconf)) != APR_SUCCESS) {
        return rv;
    }
    rv = wd_register_callback(w, CE_REFRESH_POLL, s, refresh_job);
    if (rv != APR_SUCCESS && rv != APR_EEXIST) {
        return rv;
    }
    if ((rv = wd_get_instance(&w, EVENTS_WATCHDOG_NAME, 0, 1, pconf)) != APR_SUCCESS) {
        return rv;
    }
    rv = wd_register_callback(w, CE_EVENTS_POLL, s, events_job);
    return rv == APR_EEXIST ? APR_SUCCESS : rv;
}
