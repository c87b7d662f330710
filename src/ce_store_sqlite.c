/* ce_store_sqlite: the gateway's one per-call statement, run with SQLite's
 * own API on the mod_dbd connection (apr_dbd_native_handle).
 *
 * Why: apr-util's sqlite3 driver holds one mutex of the whole process
 * (apr_dbd_mutex_lock) around every statement of every connection, and
 * copies each row. The gateway checks, on every call, that the instance an
 * Element token opened is unchanged (ce_store_instance_revision): measured
 * on the 2-core machine (2026-12-03, 7 rounds each), the gateway reached
 * 1.02x of plain mod_proxy without that read, 0.92x taking a connection
 * but reading nothing, 0.73-0.77x with the read through apr_dbd: the
 * threads queue on that one mutex. Here the same SELECT runs on the same
 * connection, prepared once per connection (kept in its pool, finalized
 * before apr_dbd closes it), under SQLite's own locking (its connections
 * are safe in threads of their own; mod_dbd gives each one to one thread
 * at a time). Everything else goes through apr_dbd as before. */
#include <string.h>
#include <sqlite3.h>
#include <apr_dbd.h>
#include <apr_strings.h>

#include "ce_store_int.h"

#define STMT_KEY "ce-sqlite-revision"

static const char revision_sql[] = CE_STORE_REVISION_SQL("?1", "?2", "?3", "?4");

int ce_store_sqlite_native(const ce_db_t *db)
{
    return db->pool && strcmp(apr_dbd_name(db->driver), "sqlite3") == 0 &&
           apr_dbd_native_handle(db->driver, db->handle) != NULL;
}

static apr_status_t finalize(void *data)
{
    sqlite3_finalize(data);
    return APR_SUCCESS;
}

void ce_store_sqlite_done(ce_db_t *db)
{
    void *st = NULL;

    if (db->pool && apr_pool_userdata_get(&st, STMT_KEY, db->pool) == APR_SUCCESS && st) {
        apr_pool_userdata_setn(NULL, STMT_KEY, NULL, db->pool);
        apr_pool_cleanup_kill(db->pool, st, finalize); /* (the userdata's: finalized here) */
        sqlite3_finalize(st);
    }
}

/* The connection's statement, prepared on first use; NULL on failure. */
static sqlite3_stmt *statement(ce_db_t *db, sqlite3 *h)
{
    void *st = NULL;

    apr_pool_userdata_get(&st, STMT_KEY, db->pool);
    if (st) {
        return st;
    }
    if (sqlite3_prepare_v3(h, revision_sql, (int)sizeof(revision_sql) - 1,
                           SQLITE_PREPARE_PERSISTENT, (sqlite3_stmt **)&st, NULL) != SQLITE_OK) {
        return NULL;
    }
    /* Registered after mod_dbd's close of the connection: cleanups run in
     * reverse, so the statement is finalized before its connection closes.
     * Who closes a connection himself calls ce_store_close first. */
    apr_pool_userdata_setn(st, STMT_KEY, finalize, db->pool);
    return st;
}

apr_status_t ce_store_sqlite_revision(apr_int64_t *prevision, int *pdisabled, ce_db_t *db,
                                      apr_pool_t *p, apr_int64_t id, const char *const *digests,
                                      const char **perr)
{
    sqlite3 *h = apr_dbd_native_handle(db->driver, db->handle);
    sqlite3_stmt *st = statement(db, h);
    apr_status_t rv = APR_EGENERAL;
    int i, rc = SQLITE_ERROR;

    if (!st) {
        *perr =
            apr_psprintf(p, "Database error (ce_select_instance_revision): %s", sqlite3_errmsg(h));
        return APR_EGENERAL;
    }
    rc = sqlite3_bind_int64(st, 1, id);
    for (i = 0; rc == SQLITE_OK && i < CE_STORE_CREDENTIAL_DIGESTS; i++) {
        rc = sqlite3_bind_text(st, 2 + i, digests[i], -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW) {
        *prevision = sqlite3_column_int64(st, 0);
        *pdisabled = sqlite3_column_int(st, 1);
        rv = APR_SUCCESS;
    } else if (rc == SQLITE_DONE) {
        rv = APR_NOTFOUND;
    } else if (rc == SQLITE_BUSY) {
        rv = APR_EAGAIN; /* the caller reads through apr_dbd, which waits */
    } else {
        *perr =
            apr_psprintf(p, "Database error (ce_select_instance_revision): %s", sqlite3_errmsg(h));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* (the digests are the caller's: bound static) */
    return rv;
}
