/* mod_ce_guard: what keeps the API's credentials out of httpd's logs and
 * httpd's own error pages out of the API.
 *
 * - The Authorization header of a request to a server that serves the API
 *   is hidden (post_read_request) before httpd's trace4 header dump can log
 *   it, read back by the authenticator (ce_guard_authorization), and put
 *   back at translate_name for requests that are not the API's.
 * - A connection input filter replaces an Authorization line with control
 *   characters (which httpd would log at debug, AH02427) by one the API
 *   refuses (401), and masks apiSecret in a request line's query (httpd
 *   logs the request line at trace before any hook runs).
 * - httpd's own error responses to API requests get the API's JSON body.
 * - Every 401 says how to authenticate (ce_guard_challenge).
 */
#ifndef MOD_CE_GUARD_H
#define MOD_CE_GUARD_H

#include <httpd.h>

/* post_read_request, in a server that serves the API: moves the
 * Authorization header, whatever its scheme, out of r->headers_in, before
 * httpd's trace4 dump of the request headers can log it (clients send our
 * credentials in malformed shapes too: "Bearer <token>", "<secret>,
 * <secret>"). ce_guard_authorization reads it from where it was put. */
void ce_guard_hide_credentials(request_rec *r);

/* translate_name, for a request that is not the API's: puts the header
 * back for whoever reads it (mod_rewrite, authentication modules). */
void ce_guard_restore_credentials(request_rec *r);

/* The request's Authorization value: as hidden, or as received (NULL when
 * there is none). */
const char *ce_guard_authorization(request_rec *r);

/* The connection input filter that keeps control characters in an
 * Authorization header line from reaching httpd's own logs (see
 * ce_auth_line_has_ctl): registered with the hooks, told after
 * configuration whether any server serves the API, added to each
 * connection (pre_connection) when one does. Also registers the output
 * filter ce_guard_error_json uses. */
void ce_guard_filters_register(void);
void ce_guard_filters_configure(server_rec *s);
void ce_guard_filters_add(conn_rec *c);

/* insert_error_filter, for a request to the API that httpd answers with
 * an error itself: the body becomes {"requestId", "message"} JSON
 * (ce_json_error) with Content-Type application/json. */
void ce_guard_error_json(request_rec *r);

/* The scheme of the challenge every 401 carries: the Authorization
 * header is "User <secret>, Organization <secret>[, Element <token>]". */
#define CE_GUARD_SCHEME "User"
/* Its realm where no AuthName says otherwise. */
#define CE_GUARD_REALM "Cloud Elements Instances API"

/* For an answer of status: when it is 401, sets (in err_headers_out, so
 * httpd's own error answers carry it too) WWW-Authenticate: User
 * realm="<AuthName of r's Location, else CE_GUARD_REALM>". The one place
 * the challenge is made: the API's errors (ce_request_fail_status),
 * httpd's errors for the API and AuthType CEInstances Locations
 * (ce_guard_error_json) and mod_authz_core's ap_note_auth_failure for
 * AuthType CEInstances all call it. */
void ce_guard_challenge(request_rec *r, int status);

/* A note naming the message ce_guard_error_json gives (else the status's
 * reason phrase), set by code that refuses a request with a status. */
#define CE_GUARD_ERROR_NOTE "ce-error-message"

/* The id of API request r (made on first use, 32 hex digits, in r's
 * notes): sent on every answer as Elements-Request-Id, and as requestId in
 * error bodies, so a client's report names the log line (CE00003). */
const char *ce_guard_request_id(request_rec *r);

#endif
