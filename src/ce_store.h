/* ce_store: all SQL, through apr_dbd.
 *
 * Core unit: no httpd headers. Used by the module (on a connection acquired
 * from mod_dbd) and by ceadmin (on a connection it opens itself), so both
 * share one schema and one set of statements. Driver-specific SQL (DDL,
 * pragmas) is chosen in one place by apr_dbd_name(); everything else is
 * portable SQL with apr_dbd placeholders.
 *
 * Errors: APR_NOTFOUND when the row does not exist or is not the caller's;
 * APR_EGENERAL for a database failure, with the driver's message in *perr
 * where the function takes perr (never containing secrets or values).
 */
#ifndef CE_STORE_H
#define CE_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_hash.h>
#include <apr_dbd.h>

#include "ce_catalog.h"
#include "ce_crypto.h"
#include "ce_http.h"
#include "ce_event.h"
#include "ce_instance.h"
#include "ce_page.h"

/* Group commit of creates within one process (see ce_store_batch_create). */
typedef struct ce_store_batch_t ce_store_batch_t;

/* One open database connection. Field for field what mod_dbd's ap_dbd_t
 * holds, so the module copies it over; ceadmin fills it from apr_dbd_open. */
typedef struct {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared; /* label -> apr_dbd_prepared_t*, per connection */
    apr_pool_t *pool;     /* lives as long as the connection */
    /* Required: the keys secrets are sealed and digests keyed with. A
     * database remembers its keys (ce_key_check); others are refused. */
    const ce_keys_t *keys;
    /* Optional: called with acquire=1 before and acquire=0 after every write
     * transaction (and the one-time journal setup), so that writers queue
     * for the database instead of meeting "database is locked". The module
     * sets it for sqlite3 (see mod_ce_request.c); NULL: no queueing. */
    apr_status_t (*serialize)(void *baton, int acquire);
    void *serialize_baton;
    /* Optional, shared by the threads of one process: creates arriving while
     * another thread commits are written together in its next transaction
     * (one commit for many; each still answered only after its commit).
     * For SQLite, where writers queue anyway. NULL: one transaction each. */
    ce_store_batch_t *batch;
    /* Optional: the catalog, which names the element of an instance whose
     * row a write reads for its event (a delete's); NULL: events of those
     * name no element. */
    const ce_catalog_t *catalog;
} ce_db_t;

/* Closes db's connection (apr_dbd_close), after what the store prepared
 * on it itself. For connections the caller opened (ceadmin, tests);
 * mod_dbd closes its own. */
void ce_store_close(ce_db_t *db);

typedef struct {
    apr_int64_t id;
    const char *name;
    const char *created_date;
} ce_organization_t;

/* A group-commit queue for the threads of one process, in p (which must
 * outlive every ce_db_t using it). Batches are written on a connection of
 * the queue's own, opened to the same database as the first connection
 * that writes one (SQLite), else on the writing thread's connection. */
apr_status_t ce_store_batch_create(ce_store_batch_t **pbatch, apr_pool_t *p);

/* After a failed statement on a connection that is up: if the server has
 * lost this connection's prepared statements (apr-util's pgsql driver
 * reconnects in place, PQreset, when mod_dbd checks a dropped connection),
 * prepares them again and returns APR_SUCCESS (worth a retry); APR_EAGAIN
 * when they are there (the failure was something else). */
apr_status_t ce_store_reprepare(ce_db_t *db, const char **perr);

/* What a rekey or a verify found: sealed values looked at, how many each
 * key sealed (key id, "" for a value sealed before key ids -> apr_int64_t
 * *), how many were re-sealed and in how many passes (rekey), and every
 * value that does not open ("Instance 12: configuration entry
 * aws.secret"; never its content). */
typedef struct {
    apr_int64_t values;
    apr_hash_t *by_key;
    apr_int64_t resealed;
    int passes;
    apr_array_header_t *unreadable; /* const char * */
} ce_store_rekey_report_t;

/* Online key rotation: re-seals every sealed value that db->keys'
 * encryption key did not seal (opened with whichever of its keys sealed
 * it), batch rows at a time, each batch a short transaction of its own
 * (rows locked): servers keep serving meanwhile. Passes over everything
 * until one finds nothing left to re-seal (values written meanwhile by a
 * server still sealing with an older key), at most 10. Values that open
 * with no key are left as they are and listed. */
apr_status_t ce_store_rekey(ce_store_rekey_report_t **preport, ce_db_t *db, apr_pool_t *p,
                            int batch, const char **perr);

/* Opens every sealed value with db->keys, changes nothing. */
apr_status_t ce_store_verify(ce_store_rekey_report_t **preport, ce_db_t *db, apr_pool_t *p,
                             const char **perr);

/* SQLite in multi-thread mode for this process (each connection used by
 * one thread at a time, as mod_dbd hands them out and the group-commit
 * writer is used), without its per-connection mutexes, and without its
 * memory statistics (a global mutex on every allocation). Works only
 * before SQLite's first use in the process: 1 if set, 0 if SQLite was in
 * use already (then it keeps its serialized mode). */
int ce_store_sqlite_threading(void);

/* Idempotent, cheap after the first call on a connection: applies driver
 * pragmas (SQLite: busy_timeout, WAL, foreign_keys), creates the schema if
 * missing (CREATE ... IF NOT EXISTS; records schema version 1), and prepares
 * every statement into db->prepared (allocated in db->pool), then sets the
 * "ce_ready" marker. Unsupported driver → APR_ENOTIMPL with *perr. */
apr_status_t ce_store_init(ce_db_t *db, const char **perr);

/* --- organizations and users (ceadmin, authentication) --- */

/* Creates an organization and its first user in one transaction, each with
 * a fresh secret (ce_crypto_token) of which only the digest is stored. The
 * plaintext secrets are returned once, in p. */
apr_status_t ce_store_signup(ce_organization_t **porg, ce_user_t **puser, const char **porg_secret,
                             const char **puser_secret, ce_db_t *db, apr_pool_t *p,
                             const char *org_name, const char *email, const char *first_name,
                             const char *last_name, const char **perr);

/* Adds a user (with a fresh secret) to organization org_id.
 * APR_NOTFOUND if there is no such organization. */
apr_status_t ce_store_user_add(ce_user_t **puser, const char **puser_secret, ce_db_t *db,
                               apr_pool_t *p, apr_int64_t org_id, const char *email,
                               const char *first_name, const char *last_name, const char **perr);

/* Replace a user's / an organization's secret digest with that of a fresh
 * secret, returned in *psecret. The old secret stops working at once.
 * APR_NOTFOUND if there is no such row. */
apr_status_t ce_store_user_rotate(const char **psecret, ce_db_t *db, apr_pool_t *p,
                                  apr_int64_t user_id, const char **perr);
apr_status_t ce_store_organization_rotate(const char **psecret, ce_db_t *db, apr_pool_t *p,
                                          apr_int64_t org_id, const char **perr);

/* All organizations (ce_organization_t *), by id. */
apr_status_t ce_store_organization_list(apr_array_header_t **porgs, ce_db_t *db, apr_pool_t *p,
                                        const char **perr);

/* The user whose secret digest is digest(user_secret) and whose
 * organization's secret digest is digest(org_secret), in one query.
 * APR_NOTFOUND if none (unknown, rotated, or mismatched pair); a database
 * failure is APR_EGENERAL with *perr. */
apr_status_t ce_store_authenticate(ce_user_t **puser, ce_db_t *db, apr_pool_t *p,
                                   const char *user_secret, const char *org_secret,
                                   const char **perr);

/* --- instances --- */

/* Inserts inst (its id must be 0) and its tag rows in one transaction;
 * sets inst->id. */
apr_status_t ce_store_instance_create(ce_db_t *db, apr_pool_t *p, ce_instance_t *inst,
                                      const char **perr);

/* How an instance is read: in full (tags and configuration parsed, every
 * sealed value opened: what a write or a configuration answer needs), or
 * for an answer only: the view its last write stored (ce_instance_t.view)
 * and its token, nothing parsed (rows without a usable view are read in
 * full). Both: in full, and the view too (to compare them). */
#define CE_STORE_READ_FULL 1u
#define CE_STORE_READ_VIEW 2u

/* ce_store_instance_get, read as how says. */
apr_status_t ce_store_instance_read(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                    const ce_catalog_t *cat, const ce_user_t *owner, apr_int64_t id,
                                    unsigned how, const char **perr);

/* Instance id, read as how says, if it belongs to the user of these
 * secrets (the user, from the same row, set as inst->user): an answer's
 * read and its caller's authentication in one statement. APR_NOTFOUND when
 * the secrets name no user or the instance is not theirs (the caller tells
 * which apart the usual way); APR_EGENERAL as ce_store_instance_get. */
apr_status_t ce_store_instance_read_as(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                       const ce_catalog_t *cat, const char *user_secret,
                                       const char *org_secret, apr_int64_t id, unsigned how,
                                       const char **perr);

/* Loads instance id if it belongs to owner (owner is set as inst->user);
 * element resolved through cat; sealed values opened. APR_NOTFOUND
 * otherwise; APR_EGENERAL with *perr for a database failure or a stored
 * value that fails authentication (the message names no content). */
apr_status_t ce_store_instance_get(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                   const ce_catalog_t *cat, const ce_user_t *owner, apr_int64_t id,
                                   const char **perr);

/* Any instance by id, whoever owns it (inst->user is an empty user but for
 * its id), its sealed values opened: for the administrator (ceadmin
 * instance-config, oauth-refresh). */
apr_status_t ce_store_instance_admin_get(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                         const ce_catalog_t *cat, apr_int64_t id,
                                         const char **perr);

/* What ce_store_instance_by_token says of a disabled instance's token. */
#define CE_STORE_EDISABLED (APR_OS_START_USERERR + 1403)

/* The id of owner's instance whose token is token (looked up by digest).
 * APR_NOTFOUND if none (deleted, another tenant's, or never issued);
 * CE_STORE_EDISABLED, with *pid set, when that instance is disabled;
 * APR_EGENERAL with *perr for a database failure. */
apr_status_t ce_store_instance_by_token(apr_int64_t *pid, ce_db_t *db, apr_pool_t *p,
                                        const ce_user_t *owner, const char *token,
                                        const char **perr);

/* Owner's instance whose token is token, loaded as ce_store_instance_get
 * loads one: what ce_store_instance_by_token and ce_store_instance_get do,
 * in one statement. APR_NOTFOUND; CE_STORE_EDISABLED (*pinst set) when it
 * is disabled; a database failure with *perr. */
apr_status_t ce_store_instance_get_by_token(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                            const ce_catalog_t *cat, const ce_user_t *owner,
                                            const char *token, const char **perr);

/* The instance whose token is token, of the user whose secret is
 * user_secret in the organization whose secret is org_secret, with that
 * user as its owner: ce_store_authenticate and
 * ce_store_instance_get_by_token in one statement. APR_NOTFOUND when any of
 * the three does not match (which one, the two-step lookup tells);
 * CE_STORE_EDISABLED (*pinst set) when it is disabled. digests (NULL, or
 * room for CE_STORE_CREDENTIAL_DIGESTS) gets the keyed digests looked up:
 * token, user secret, organization secret. */
#define CE_STORE_CREDENTIAL_DIGESTS 3
apr_status_t ce_store_instance_of_credentials(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                              const ce_catalog_t *cat, const char *user_secret,
                                              const char *org_secret, const char *token,
                                              const char **digests, const char **perr);

/* Whether instance id is still the instance of the credentials whose keyed
 * digests ce_store_instance_of_credentials gave: *prevision its revision
 * (which every write of it changes), *pdisabled whether it is disabled.
 * APR_NOTFOUND when it is gone, or a secret, the token or the digest key
 * changed. One small read, for ce_authcache. */
apr_status_t ce_store_instance_revision(apr_int64_t *prevision, int *pdisabled, ce_db_t *db,
                                        apr_pool_t *p, apr_int64_t id, const char *const *digests,
                                        const char **perr);

/* Rewrites every mutable column of inst (name, element_id, tags,
 * configuration, disabled, cache/trace settings, updated_date) and replaces
 * its tag rows, in one transaction. APR_NOTFOUND if the row is gone or not
 * inst->user's. */
apr_status_t ce_store_instance_update(ce_db_t *db, apr_pool_t *p, const ce_instance_t *inst,
                                      const char **perr);

/* Changes an instance: modify(inst, baton, perr) is handed owner's
 * instance id as stored now; when it returns APR_SUCCESS the instance as it
 * left it is written back (as ce_store_instance_update), otherwise nothing
 * is written and its status is returned (CE_STORE_DELETE: deleted).
 * The revision is counted up by every write. Read, modify and write are one
 * transaction with the row locked (PostgreSQL: SELECT ... FOR UPDATE;
 * SQLite: the write lock), so concurrent changes of one instance, on any
 * node, never undo each other. *pinst: the instance written, or NULL.
 * APR_NOTFOUND when there is no such instance of owner's. */
typedef apr_status_t ce_store_modify_fn(ce_instance_t *inst, void *baton, const char **perr);

/* What a modify callback returns to delete the instance instead (in the
 * same transaction; ce_store_instance_modify then returns APR_SUCCESS with
 * *pinst the instance as it was). */
#define CE_STORE_DELETE (APR_OS_START_USERERR + 1204)
apr_status_t ce_store_instance_modify(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                      const ce_catalog_t *cat, const ce_user_t *owner,
                                      apr_int64_t id, ce_store_modify_fn *modify, void *baton,
                                      const char **perr);

/* Deletes owner's instance id and its tag rows in one transaction.
 * APR_NOTFOUND if it is not there or not owner's. */
apr_status_t ce_store_instance_delete(ce_db_t *db, apr_pool_t *p, const ce_user_t *owner,
                                      apr_int64_t id, const char **perr);

/* A page stops early (with *pmore set) once the stored configurations of
 * its instances pass this many bytes: what one list request holds in
 * memory is bounded, whatever pageSize asks (clients follow nextPage). */
#define CE_PAGE_BYTES_MAX (4 * 1024 * 1024)

/* owner's instances matching q, newest (highest id) first, at most
 * q->limit of them (fewer past CE_PAGE_BYTES_MAX), as ce_instance_t * in
 * *pinsts; *pmore = 1 when at least one more matching instance exists after
 * the last returned. The cost of a call does not grow with the number of
 * instances the owner has beyond those scanned for the page. */
apr_status_t ce_store_instance_list(apr_array_header_t **pinsts, int *pmore, ce_db_t *db,
                                    apr_pool_t *p, const ce_catalog_t *cat, const ce_user_t *owner,
                                    const ce_instance_query_t *q, const char **perr);

/* Tags a total is counted with at most (distinct ones). */
#define CE_STORE_COUNT_TAGS_MAX 4

/* *ptotal = how many of owner's instances match q's filters (element,
 * tags) on all pages together (q->before_id and q->limit do not matter).
 * Its cost does not grow with the owner's instances: without tags, a sum
 * over the counts the writes keep (ce_store_count.c); with tags, the
 * owner's instances carrying the first one. APR_ENOTIMPL (*perr says so)
 * when q has more than CE_STORE_COUNT_TAGS_MAX distinct tags: not
 * counted. */
apr_status_t ce_store_instance_count(apr_int64_t *ptotal, ce_db_t *db, apr_pool_t *p,
                                     const ce_user_t *owner, const ce_instance_query_t *q,
                                     const char **perr);

/* --- OAuth token refresh (ce_store_oauth.c) --- */

/* An OAuth instance whose access token is due for a refresh. */
typedef struct {
    apr_int64_t id;
    apr_int64_t user_id;
    apr_int64_t due; /* epoch ms */
} ce_store_due_t;

/* Instances due at now_ms that nobody holds, earliest first, at most limit,
 * as ce_store_due_t in *pdue. */
apr_status_t ce_store_oauth_due(apr_array_header_t **pdue, ce_db_t *db, apr_pool_t *p,
                                apr_int64_t now_ms, int limit, const char **perr);

/* Takes d for a refresh until until_ms, in a transaction of its own: *pclaimed
 * = 1 only when it is still due as d says and nobody else holds it (the
 * lease: one refresher of all, on every node). A write that moves its due
 * time (a refresh kept, a re-authentication) ends the lease. */
apr_status_t ce_store_oauth_claim(int *pclaimed, ce_db_t *db, apr_pool_t *p,
                                  const ce_store_due_t *d, apr_int64_t now_ms, apr_int64_t until_ms,
                                  const char **perr);

typedef enum {
    CE_REFRESH_NOT_MINE, /* another refresher has it, or it is no longer due */
    CE_REFRESH_DONE,     /* new tokens kept */
    CE_REFRESH_FAILED,   /* the provider could not be asked: tried again later */
    CE_REFRESH_REFUSED,  /* the provider refused: not valid until re-authenticated */
    CE_REFRESH_GONE      /* deleted or re-authenticated meanwhile */
} ce_refresh_outcome_t;

/* The lease a refresher takes for outbound calls bounded by timeout: long
 * enough for the provider's answer and the write that keeps it. Every
 * refresher (the servers' job, ceadmin, a gateway) uses this one rule. */
#define CE_STORE_OAUTH_LEASE(timeout) (2 * (timeout) + apr_time_from_sec(5))

/* Refreshes d's access token: claims it (lease: the request's time, say
 * twice the outbound timeout), asks the provider through h with no
 * transaction open, then keeps the answer in one transaction with the row
 * locked (ce_oauth_apply: a rotated refresh token and its access token in
 * one write; ce_oauth_failed otherwise: the tokens never erased). *pout
 * says what happened (*perr the provider's words when it failed); the
 * return value is a database failure's. */
apr_status_t ce_store_oauth_refresh(ce_refresh_outcome_t *pout, ce_db_t *db, ce_http_t *h,
                                    apr_pool_t *p, const ce_catalog_t *cat, const ce_store_due_t *d,
                                    apr_interval_time_t lease, const char **perr);

/* An access token for immediate use (in p). */
typedef struct {
    const char *token;
    apr_int64_t expires; /* epoch ms; 0: the provider did not say */
    int refreshed;       /* this call obtained it */
} ce_fresh_token_t;

/* The one way for other code (a gateway, ceadmin) to get instance id's
 * access token fresh: the stored one while it has min_ms of life left, or
 * (min_ms < 0) a newer one than the call found; otherwise a refresh now,
 * claimed through the same lease as the background job's, so each token is
 * still refreshed once of all; while another refresher holds the lease, it
 * waits for that one's answer (at most lease and a second). owner NULL:
 * whoever owns it (the administrator). APR_SUCCESS; APR_NOTFOUND;
 * APR_EINVAL: not an OAuth instance with a refresh token; CE_OAUTH_REFUSED:
 * not valid (refused by the provider, now or before: re-authenticate);
 * CE_OAUTH_UNAVAILABLE, CE_HTTP_REFUSED or CE_HTTP_UNREACHABLE: the
 * provider could not be asked; APR_TIMEUP: the lease was never free; or a
 * database failure. *perr says why. */
apr_status_t ce_store_oauth_fresh(ce_fresh_token_t *out, ce_db_t *db, ce_http_t *h, apr_pool_t *p,
                                  const ce_catalog_t *cat, const ce_user_t *owner, apr_int64_t id,
                                  apr_int64_t min_ms, apr_interval_time_t lease, const char **perr);

/* ---- events (ce_store_event.c) ---------------------------------------- */

/* Inside the transaction of the write it tells of: records the event type
 * (CE_EVENT_NONE: nothing) of inst (as written; a deleted one as it was),
 * PENDING and due now when inst asks for its events to be sent
 * (ce_event_wanted), DISABLED otherwise; its signature key sealed. */
apr_status_t ce_store_event_record(ce_db_t *db, apr_pool_t *p, ce_event_type_t type,
                                   const ce_instance_t *inst, const char **perr);

/* owner's events, newest first (of instance_id only, unless 0), with row
 * ids below before (0: from the newest), at most limit: *pevents of
 * ce_event_row_t *, *pmore whether more are older. */
apr_status_t ce_store_event_list(apr_array_header_t **pevents, int *pmore, ce_db_t *db,
                                 apr_pool_t *p, const ce_user_t *owner, apr_int64_t instance_id,
                                 apr_int64_t before, int limit, const char **perr);

/* owner's event event_id; APR_NOTFOUND when there is none such. */
apr_status_t ce_store_event_get(ce_event_row_t **pev, ce_db_t *db, apr_pool_t *p,
                                const ce_user_t *owner, const char *event_id, const char **perr);

/* Sends owner's FAILED event event_id again (PENDING, due now, attempts
 * from 0); *pev as it is then. APR_NOTFOUND; APR_EEXIST (*perr says why)
 * when it is not FAILED. */
apr_status_t ce_store_event_redeliver(ce_event_row_t **pev, ce_db_t *db, apr_pool_t *p,
                                      const ce_user_t *owner, const char *event_id,
                                      const char **perr);

/* ---- event delivery (ce_store_event_send.c) ---------------------------- */

/* A stored value that does not open (another key, tampering). */
#define CE_STORE_EUNREADABLE (APR_OS_START_USERERR + 1422)

/* How events are sent: the first wait after a failure (ce_event_backoff),
 * the attempts before an event is given up (FAILED), how long a claim
 * holds (longer than a request to the receiver may take). */
typedef struct {
    apr_interval_time_t retry_base;
    int max_attempts;
    apr_interval_time_t lease;
} ce_event_policy_t;

/* What one ce_store_event_send did. */
typedef struct {
    const char *event_id; /* NULL when not sent */
    const char *status;   /* DELIVERED, RETRYING, FAILED; NULL: nothing kept (not
                             claimed, or the lease was lost meanwhile) */
    const char *why;      /* why the attempt failed, NULL when delivered */
    int attempts;         /* attempts made so far */
} ce_event_sent_t;

/* The row ids of events due now (at most limit), soonest first. */
apr_status_t ce_store_event_due(apr_array_header_t **pids, ce_db_t *db, apr_pool_t *p, int limit,
                                const char **perr);

/* ce_store_event_send in its three steps, so that no database connection
 * need be held while the receiver is asked: the claim (*po NULL when the
 * event is not this caller's: another sender has it, or it is no longer
 * due), the POST (no database), the outcome kept (nothing when the lease
 * was lost meanwhile: out->status NULL). */
typedef struct ce_event_outbound_t ce_event_outbound_t;
apr_status_t ce_store_event_claim(ce_event_outbound_t **po, ce_db_t *db, apr_pool_t *p,
                                  apr_int64_t id, const ce_event_policy_t *pol, const char **perr);
void ce_store_event_post(ce_event_sent_t *out, ce_http_t *h, apr_pool_t *p,
                         const ce_event_outbound_t *o);
apr_status_t ce_store_event_keep(ce_event_sent_t *out, ce_db_t *db, apr_pool_t *p,
                                 const ce_event_outbound_t *o, const ce_event_policy_t *pol,
                                 const char **perr);

/* Claims event id (a lease of pol->lease) and, if that succeeds, POSTs it
 * through h to its callback URL (Elements-Webhook-Id, and
 * Elements-Webhook-Signature when it has a key), with no transaction open,
 * and keeps the outcome: DELIVERED on any 2xx, else RETRYING (due after
 * ce_event_backoff) or FAILED after pol->max_attempts. *out says what
 * happened; APR_SUCCESS unless the database failed. */
apr_status_t ce_store_event_send(ce_event_sent_t *out, ce_db_t *db, ce_http_t *h, apr_pool_t *p,
                                 apr_int64_t id, const ce_event_policy_t *pol, const char **perr);

/* Removes the events recorded before before_ms (epoch ms); *pn how many. */
apr_status_t ce_store_event_prune(int *pn, ce_db_t *db, apr_pool_t *p, apr_int64_t before_ms,
                                  const char **perr);

#endif
