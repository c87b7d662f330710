/* ce_store_batch: group commit of creates within one process (SQLite).
 *
 * Per child and per server_rec, a queue of creates. The thread that finds
 * it idle, or is handed the turn, takes the whole queue and writes it in
 * one transaction, then hands the turn to the first create that queued
 * meanwhile (per-create condition variable: one wake-up per create, no
 * thundering herd). A failing batch is retried one create per transaction,
 * so a bad create fails alone. Batches go on a connection the queue opens
 * itself (a "twin" of the first connection that writes one), never a
 * mod_dbd connection: holding one of those can deadlock when every mod_dbd
 * connection is held by a request waiting in the queue. The checkpoints
 * its commits ask for (ce_store_wal.c) run after the writer has handed
 * over, in its own create's thread, on that create's connection.
 * What fails here has no request to answer: it goes to ce_log.
 */
#include <string.h>
#include <apr_allocator.h>
#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>

#include "ce_log.h"
#include "ce_store_int.h"

/* Batches the writer writes in a row, as long as creates queue while it
 * writes, before handing the turn to one of them: the thread writing is
 * running, and the one it would wake may wait for a core (measured, see
 * ARCHITECTURE.md). It bounds what the writer's own request waits. */
#ifndef LEAD_ROUNDS
#define LEAD_ROUNDS 4
#endif

struct ce_store_batch_t {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    ce_store_create_t *head, **tail; /* waiting for the next transaction */
    int committing;                  /* a batch is being written, or its writer chosen */
    /* The connection batches are written on (used by one thread at a time):
     * the queue's own, so that its page cache stays warm between batches. */
    apr_pool_t *pool; /* own allocator: used by whichever thread writes */
    ce_db_t writer;
    int writer_state; /* 0: not opened yet, 1: open, -1: cannot (use the writing thread's) */
};

static void create_failed(ce_store_create_t *c, apr_status_t rv, const char *err)
{
    c->status = rv;
    if (rv != APR_SUCCESS) {
        apr_cpystrn(c->err, err ? err : "Database error", sizeof(c->err));
    }
}

/* Writes a batch: all in one transaction or, when that fails, each create
 * in its own, so that a bad create fails alone. Sets status and err of
 * each. */
static void create_write_batch(ce_db_t *db, apr_pool_t *p, ce_store_create_t *list)
{
    const char *err = NULL;
    apr_status_t rv = ce_store_create_write(db, p, list, &err);
    ce_store_create_t *c, *next;

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
        rv = ce_store_create_write(db, p, c, &err);
        create_failed(c, rv, err);
        c->next = next;
    }
}

static apr_status_t close_twin(void *data)
{
    ce_db_t *twin = data;

    ce_store_close(twin);
    return APR_SUCCESS;
}

/* Opens, in p, another connection to db's database (SQLite: the file db
 * has open), initialized and queued on the same write lock as db. */
static apr_status_t open_twin(ce_db_t *twin, const ce_db_t *db, apr_pool_t *p, const char **perr)
{
    const ce_store_dialect_t *d = ce_store_dialect(db->driver);
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
    twin->catalog = db->catalog;
    if (apr_dbd_open_ex(twin->driver, p, params, &twin->handle, perr) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(p, twin, close_twin, apr_pool_cleanup_null);
    if (ce_store_init(twin, perr) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    ce_store_wal_defer(twin);
    return APR_SUCCESS;
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
        if (rv != APR_SUCCESS && rv != APR_ENOTIMPL) {
            /* Creates still commit, on the requests' own connections. */
            ce_log(CE_LOG_MARK, CE_LOG_ERR, rv,
                   "CE00030: group commit cannot open its own database connection, "
                   "batches use the requests' connections: %s",
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
/* The create joins the queue and waits until it is done or it is its
 * turn to write the next batch. The wait is on the create's own mutex, not
 * the queue's: a batch's creates, woken together, would otherwise all
 * queue for the one mutex the writer holds while it wakes them, only to
 * let it go (measured: most of a create's futex calls). */
static void enqueue(ce_store_batch_t *b, ce_store_create_t *me)
{
    apr_thread_mutex_lock(b->mutex);
    *b->tail = me;
    b->tail = &me->next;
    if (!b->committing) {
        b->committing = 1;
        me->lead = 1;
    }
    apr_thread_mutex_unlock(b->mutex);
    if (!me->lead) {
        apr_thread_mutex_lock(me->lock);
        while (!me->done && !me->lead) {
            apr_thread_cond_wait(me->wake, me->lock);
        }
        apr_thread_mutex_unlock(me->lock);
    }
}

/* Tells c's thread that it is done (done) or that the turn is its (lead).
 * Under c's mutex, which that thread needs back before it can return: c
 * (on its stack) stays valid until the unlock. */
static void wake(ce_store_create_t *c, int lead)
{
    apr_thread_mutex_lock(c->lock);
    if (lead) {
        c->lead = 1;
    } else {
        c->done = 1;
    }
    apr_thread_cond_signal(c->wake);
    apr_thread_mutex_unlock(c->lock);
}

/* After a batch was written, with b->mutex held: who writes next: NULL
 * when the queue is empty (it goes idle) or the writer keeps the turn,
 * else the first create queued meanwhile. */
static ce_store_create_t *finish(ce_store_batch_t *b, int keep)
{
    if (!b->head) {
        b->committing = 0;
        return NULL;
    }
    return keep ? NULL : b->head;
}

/* Wakes list's creates, each done, but me (the caller's own). Each one's
 * next is read before it is woken: its thread may return at once. */
static void wake_done(ce_store_create_t *list, ce_store_create_t *me)
{
    ce_store_create_t *c, *next;

    for (c = list; c; c = next) {
        next = c->next;
        if (c == me) {
            c->done = 1;
        } else {
            wake(c, 0);
        }
    }
}

/* The whole queue, which is left empty. Called with b->mutex held. */
static ce_store_create_t *take_queue(ce_store_batch_t *b)
{
    ce_store_create_t *list = b->head;

    b->head = NULL;
    b->tail = &b->head;
    return list;
}

/* Group commit. The create joins the process's queue. The thread that finds
 * the queue idle, or is handed the turn, takes the whole queue and writes it
 * in one transaction, while creates arriving meanwhile queue for the next
 * one; it writes those too, up to LEAD_ROUNDS batches, then hands the turn
 * to the first create still queued. Each create learns its outcome only
 * after its commit. */
void ce_store_batch_write(ce_store_batch_t *b, ce_db_t *db, apr_pool_t *p, ce_store_create_t *me)
{
    ce_store_create_t *list, *next;
    ce_db_t *writer;
    apr_pool_t *wp = NULL;
    int checkpoint = 0, round = 0, more;

    if (apr_thread_cond_create(&me->wake, p) != APR_SUCCESS ||
        apr_thread_mutex_create(&me->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS ||
        apr_pool_create(&wp, p) != APR_SUCCESS) {
        create_failed(me, APR_ENOMEM, "Out of memory");
        return;
    }
    enqueue(b, me);
    for (more = !me->done; more;) { /* not done: this thread's turn */
        apr_thread_mutex_lock(b->mutex);
        list = take_queue(b);
        apr_thread_mutex_unlock(b->mutex);

        /* what a batch allocates is dropped with it: outcomes are copied */
        writer = batch_writer(b, db);
        create_write_batch(writer, wp, list);
        checkpoint |= ce_store_wal_due(writer);
        apr_pool_clear(wp);

        apr_thread_mutex_lock(b->mutex);
        round++;
        next = finish(b, round < LEAD_ROUNDS);
        more = b->head && round < LEAD_ROUNDS;
        apr_thread_mutex_unlock(b->mutex);
        if (next) {
            wake(next, 1); /* first: it can write while these wake */
        }
        wake_done(list, me);
    }
    apr_pool_destroy(wp);
    if (checkpoint) { /* handed over: the queue does not wait for it */
        ce_store_wal_checkpoint(db);
    }
}
#else
/* Without threads there is no one to share a transaction with. */
void ce_store_batch_write(ce_store_batch_t *b, ce_db_t *db, apr_pool_t *p, ce_store_create_t *me)
{
    const char *err = NULL;

    create_failed(me, ce_store_create_write(db, p, me, &err), err);
}
#endif
