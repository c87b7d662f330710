/* mod_ce_authn: who is calling — the API's one authentication function.
 *
 * An Authorization header value ("User <secret>, Organization <secret>[,
 * Element <token>]") and a database connection give the user and, when an
 * Element token was given, the instance it belongs to. No request in the
 * signature: the handler uses it today (ce_authn_request), an httpd auth
 * provider or a background job can use it as it is.
 */
#ifndef MOD_CE_AUTHN_H
#define MOD_CE_AUTHN_H

#include <httpd.h>

#include "ce_authcache.h"
#include "ce_store.h"
#include "mod_ce_dbd.h"
#include "mod_ce_request.h"

/* Who authenticated. */
typedef struct {
    const ce_user_t *user;   /* the caller */
    apr_int64_t instance_id; /* the Element token's instance; 0 when none was given */
} ce_authn_t;

/* Authenticates authorization (a header value; NULL when there is none)
 * against conn's database, results in p. A malformed value is refused
 * before any database work; the connection is acquired then (if not held)
 * and the lookup is conn's first statement (ce_dbd_first: one retry on a
 * fresh or re-prepared connection). Returns
 * - APR_SUCCESS, *out filled;
 * - APR_EACCES, *perr a message for the client (the parser's, "Invalid
 *   Organization or User secret, or not authorized", "Invalid Element
 *   token");
 * - CE_EFORBIDDEN, *perr a message for the client, for the token of a disabled
 *   instance (the API answers 403, as Cloud Elements does);
 * - CE_EUNAVAILABLE (*perr CE_DBD_UNAVAILABLE) when no connection can be
 *   had;
 * - APR_EGENERAL for a database failure, *perr the driver's message (for
 *   the log, never for the client). */
apr_status_t ce_authn_check(ce_authn_t *out, ce_dbd_conn_t *conn, apr_pool_t *p,
                            const char *authorization, const char **perr);

/* ce_authn_check for a caller who must name an instance (the auth
 * provider): the Element token's instance itself, decrypted, in *pinst, in
 * one statement. With a cache (NULL: none), an instance it remembers for
 * these credentials in scope (the server's configuration) is used when one
 * small read finds it unchanged (see ce_authcache.h), and an instance read
 * is remembered. No Element token: APR_EACCES; otherwise the returns of
 * ce_authn_check. */
apr_status_t ce_authn_check_instance(ce_instance_t **pinst, ce_dbd_conn_t *conn, apr_pool_t *p,
                                     const ce_catalog_t *cat, ce_authcache_t *cache,
                                     const void *scope, const char *authorization,
                                     const char **perr);

/* The handler's authentication: ce_authn_check on req's Authorization
 * header (ce_guard_authorization) and connection. Sets req->user,
 * req->token_instance_id and, for the access log, r->user to the user's
 * id (never a secret). On failure req->err is *perr as above, and the
 * status goes to ce_request_fail. */
apr_status_t ce_authn_request(ce_request_t *req);

/* ce_authn_request for a call that reads req's instance (req->instance_id)
 * to answer: with User and Organization secrets and no Element token, the
 * authentication and the instance (read as how says, ce_store.h) are one
 * statement, and *pinst is that instance. Otherwise (an Element token, no
 * such instance of theirs, bad secrets) ce_authn_request as usual and
 * *pinst NULL: the caller reads the instance itself, and answers 404. */
apr_status_t ce_authn_request_reading(ce_request_t *req, unsigned how, ce_instance_t **pinst);

/* Names instance id, which an Element token authenticated, on every
 * answer to r (Elements-Element-Instance-Id; errors too). */
void ce_authn_name_instance(request_rec *r, apr_int64_t id);

#endif
