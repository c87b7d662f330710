/* ce_store_wal: SQLite's checkpoints, run outside every lock.
 *
 * In WAL mode a commit appends the pages it changed to the log; a
 * checkpoint copies them back into the database file and syncs both files
 * (with synchronous=NORMAL, the only fsyncs SQLite does). SQLite's own
 * autocheckpoint runs inside the commit that crosses its limit: inside the
 * module's write lock, where every writer of every child waits, and inside
 * the one mutex of the whole process that apr-util's sqlite3 driver holds
 * around every statement it runs (BEGIN and COMMIT are apr_dbd's), where
 * every BEGIN, COMMIT and apr_dbd statement of the child waits.
 *
 * Measured on the 2-core machine (2026-12-05): a checkpoint's two fsyncs
 * took 25-60 ms each. Group commit's checkpoint, then a PRAGMA through
 * apr_dbd run every 1000 creates, held that mutex for as long, and every
 * batch's BEGIN queued behind it: POST 3,800-3,950 req/s; 4,350-4,480
 * with the same checkpoint through SQLite's own API; 5,500-5,950 with no
 * checkpoint at all (a log that only grows: not an option).
 *
 * So every connection gets a WAL hook (which replaces SQLite's
 * autocheckpoint on it): a commit that leaves WAL_PAGES pages or more in
 * the log, or WAL_PAGES more than when the connection last asked, marks
 * its connection due, and a PASSIVE checkpoint runs with SQLite's own API
 * once the transaction has ended and the write lock is free
 * (ce_store_tx_end), in the thread that committed; for group commit's own
 * connection, in the create thread the writer hands over from
 * (ce_store_batch.c), never while the queue waits for the writer. A
 * PASSIVE checkpoint runs beside readers and writers and waits for none;
 * one that cannot finish (a reader still on older pages, another
 * connection's checkpoint under way) leaves the rest to the next.
 *
 * But the log starts over (its file written again from the start) only
 * when a write begins after a checkpoint that copied all of it, and under
 * steady writes a checkpoint beside them never does: the log grew by
 * ~150 MB/s here (t/18-load.t: 1.2 GB). So once it holds
 * WAL_RESTART_PAGES, the checkpoint ends with a RESTART one inside the
 * write lock: it copies only what came during the PASSIVE one, and the
 * next commit starts the log over. The log stays under ~50 MB (40 MB
 * before this file, with SQLite's autocheckpoint at 10000 pages), and the
 * writers wait only for that short catch-up: POST 4,350-4,680 req/s in
 * the same harness (4,880-5,240 letting the log reach 30000
 * pages, 4,490-4,560 at 4000).
 */
#include <sqlite3.h>
#include <apr_dbd.h>
#include <apr_strings.h>

#include "ce_log.h"
#include "ce_store_int.h"

/* Pages in the log from which a commit asks for a checkpoint: SQLite's
 * own default autocheckpoint (4 MB of 4 KB pages). */
#ifndef WAL_PAGES
#define WAL_PAGES 1000
#endif

/* Pages in the log from which a checkpoint ends with a RESTART one inside
 * the write lock (see checkpoint_restart), and the longest that one
 * waits for readers. */
#ifndef WAL_RESTART_PAGES
#define WAL_RESTART_PAGES 10000
#endif
#define RESTART_WAIT_MS 200

#define WAL_KEY "ce-sqlite-wal"

/* A connection's log state, kept with its statements (db->prepared). */
typedef struct {
    int due;      /* its last commit asked for a checkpoint */
    int asked;    /* the log's pages when it last asked (0: not since the log restarted) */
    int deferred; /* its checkpoints are run by whoever asks ce_store_wal_due */
} wal_t;

static wal_t *wal_of(const ce_db_t *db)
{
    return db->prepared ? apr_hash_get(db->prepared, WAL_KEY, APR_HASH_KEY_STRING) : NULL;
}

/* After every commit on the connection, with the pages now in the log:
 * it asks for a checkpoint from WAL_PAGES pages on, and again each time
 * WAL_PAGES more have come since it last asked (the log restarts only
 * once a checkpoint has copied all of it: not after every commit). */
static int wal_hook(void *data, sqlite3 *h, const char *name, int pages)
{
    wal_t *w = data;

    (void)h;
    (void)name;
    if (pages < w->asked) {
        w->asked = 0; /* the log restarted */
    }
    if (pages >= w->asked + WAL_PAGES) {
        w->due = 1;
        w->asked = pages;
    }
    return SQLITE_OK;
}

void ce_store_wal_watch(ce_db_t *db)
{
    wal_t *w;

    if (wal_of(db) || !ce_store_sqlite_native(db)) {
        return; /* SQLite's autocheckpoint stays (ce_store_db.c's setup) */
    }
    w = apr_pcalloc(db->pool, sizeof(*w));
    apr_hash_set(db->prepared, WAL_KEY, APR_HASH_KEY_STRING, w);
    sqlite3_wal_hook(apr_dbd_native_handle(db->driver, db->handle), wal_hook, w);
}

void ce_store_wal_defer(ce_db_t *db)
{
    wal_t *w = wal_of(db);

    if (w) {
        w->deferred = 1;
    }
}

int ce_store_wal_due(ce_db_t *db)
{
    wal_t *w = wal_of(db);
    int due = w && w->due;

    if (due) {
        w->due = 0;
    }
    return due;
}

/* Logs what a checkpoint's rc says, unless it is SQLITE_OK. */
static void checkpoint_failed(sqlite3 *h, int rc)
{
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        /* another checkpoint under way, or this connection inside a
         * transaction: the next commit asks again */
        ce_log(CE_LOG_MARK, CE_LOG_DEBUG, APR_SUCCESS, "CE00063: checkpoint left for later: %s",
               sqlite3_errstr(rc));
    } else if (rc != SQLITE_OK) {
        ce_log(CE_LOG_MARK, CE_LOG_WARNING, APR_EGENERAL,
               "CE00031: checkpoint failed (retried later): %s", sqlite3_errmsg(h));
    }
}

/* The log's catch-up: inside the write lock no writer appends, so a
 * RESTART checkpoint copies the few pages the PASSIVE one could not and
 * waits (briefly: readers' transactions are short) until no reader uses
 * the log, after which the next commit writes the log from its start. */
static void checkpoint_restart(ce_db_t *db, sqlite3 *h)
{
    int rc;

    if (ce_store_serialize(db, 1, NULL) != APR_SUCCESS) {
        return;
    }
    sqlite3_busy_timeout(h, RESTART_WAIT_MS);
    rc = sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    checkpoint_failed(h, rc); /* (while its message is the connection's last) */
    sqlite3_busy_timeout(h, CE_SQLITE_BUSY_MS);
    ce_store_serialize(db, 0, NULL);
}

void ce_store_wal_checkpoint(ce_db_t *db)
{
    sqlite3 *h;
    int rc, pages = 0, copied = 0;

    if (!ce_store_sqlite_native(db)) {
        return;
    }
    h = apr_dbd_native_handle(db->driver, db->handle);
    rc = sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, &pages, &copied);
    checkpoint_failed(h, rc);
    if (rc == SQLITE_OK && pages >= WAL_RESTART_PAGES) {
        checkpoint_restart(db, h);
    }
}

void ce_store_wal_after_commit(ce_db_t *db)
{
    wal_t *w = wal_of(db);

    if (w && !w->deferred && w->due) {
        w->due = 0;
        ce_store_wal_checkpoint(db);
    }
}
