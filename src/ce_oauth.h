/* ce_oauth: the OAuth 2 authorization-code flow's messages (RFC 6749),
 * built and read; no I/O. The glue sends what this builds over the
 * outbound HTTP layer and hands the answers back here.
 *
 * Core unit: no httpd headers. Everything read here comes from a provider,
 * so it is untrusted: sizes are bounded, types checked, and messages never
 * quote a token.
 */
#ifndef CE_OAUTH_H
#define CE_OAUTH_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "ce_catalog.h"
#include "ce_http.h"
#include "ce_instance.h"

/* Longest token (access or refresh) accepted from a provider. */
#define CE_OAUTH_TOKEN_MAX 8192

/* What a client asks the authorization endpoint for. */
typedef struct {
    const char *authorization_url; /* the element's oauth.authorization.url */
    const char *client_id;         /* oauth.api.key */
    const char *redirect_uri;      /* oauth.callback.url */
    const char *scope;             /* oauth.scope, or NULL */
    const char *state;             /* defaults to the element key (caller's) */
    const apr_table_t *extra;      /* further parameters the element needs, or NULL */
} ce_oauth_authorize_t;

/* The URL to send a user's browser to: authorization_url with
 * response_type=code, client_id, redirect_uri, scope (when given), state
 * and extra, form-encoded, appended with '?' or '&' (it may carry a query
 * already). NULL with *perr when the URL is not an absolute http(s) URL or
 * a required field is missing. */
const char *ce_oauth_authorize_url(apr_pool_t *p, const ce_oauth_authorize_t *a, const char **perr);

/* GET/POST /elements/{key}/oauth/url: the authorization URL of OAuth
 * element e (e->oauth) for a client's parameters: apiKey, apiSecret and
 * callbackUrl (required, non-empty), scope (default the element's) and
 * state (default the element's key). APR_EINVAL with *perr naming every
 * missing parameter, or saying e does not use OAuth. */
apr_status_t ce_oauth_element_url(const char **purl, apr_pool_t *p, const ce_element_t *e,
                                  const apr_table_t *params, const char **perr);

/* A token request's body (application/x-www-form-urlencoded). grant is
 * "authorization_code" (code and redirect_uri used) or "refresh_token"
 * (refresh_token used); the client's id and secret go in the body
 * (client_secret_post), as Cloud Elements' providers take them. */
typedef struct {
    const char *grant;
    const char *code;
    const char *redirect_uri;
    const char *refresh_token;
    const char *client_id;
    const char *client_secret;
} ce_oauth_token_request_t;

const char *ce_oauth_token_body(apr_pool_t *p, const ce_oauth_token_request_t *t);

/* A token endpoint's answer, read. */
typedef struct {
    const char *access_token;
    const char *refresh_token; /* NULL when the provider sent none */
    const char *token_type;
    const char *scope;
    apr_int64_t expires_in; /* seconds; -1 when the provider said nothing */
    const char *error;      /* RFC 6749 5.2 error code, or NULL */
    const char *error_description;
} ce_oauth_token_t;

/* Parses a token endpoint's answer (status and body, len bytes) into *pt,
 * in p. APR_SUCCESS: a 2xx with an access token. CE_OAUTH_REFUSED: the
 * provider refused (an RFC 6749 error object, any status; error and
 * error_description set). APR_EGENERAL with *perr: anything else (not
 * JSON, no access token, a token too long or of the wrong type). */
#define CE_OAUTH_REFUSED (APR_OS_START_USERERR + 2401)
apr_status_t ce_oauth_token_parse(ce_oauth_token_t *pt, apr_pool_t *p, int status, const char *body,
                                  apr_size_t len, const char **perr);

/* The provider could not give tokens for a passing reason: a 5xx or 429,
 * or an answer that is not a token answer. */
#define CE_OAUTH_UNAVAILABLE (APR_OS_START_USERERR + 2402)

/* Obtains tokens for inst (an OAuth element's) from its provider through
 * h: exchanges inst->provider_code at the token URL (redirect_uri
 * oauth.callback.url), otherwise trades the stored refresh token at the
 * refresh URL; the client authenticates with oauth.api.key / .secret in
 * the body. *tok in p. APR_SUCCESS; CE_OAUTH_REFUSED with *perr the
 * provider's words; CE_OAUTH_UNAVAILABLE, CE_HTTP_REFUSED or
 * CE_HTTP_UNREACHABLE with *perr (never quoting a token or secret);
 * APR_EINVAL when inst lacks what a request needs. */
apr_status_t ce_oauth_obtain(ce_oauth_token_t *tok, ce_http_t *h, apr_pool_t *p,
                             const ce_instance_t *inst, const char **perr);

/* Keeps tok in inst: oauth.user.token, oauth.user.refresh_token (the one
 * stored stays when the provider sent none), oauth.user.refresh_time (now,
 * epoch ms) and oauth.user.refresh_interval (expires_in, else the
 * element's interval), all in one change of the configuration; the next
 * refresh is due a quarter of the lifetime (at most 5 minutes) before
 * expiry; failures and status cleared. */
void ce_oauth_apply(ce_instance_t *inst, apr_pool_t *p, const ce_oauth_token_t *tok,
                    apr_time_t now);

/* After a refresh failed with rv: a refusal (CE_OAUTH_REFUSED) makes inst
 * not valid, saying why, with nothing more due until re-authentication;
 * anything else is tried again after a pause doubling from 1 s (at most 5
 * minutes). Never touches the stored tokens. */
void ce_oauth_failed(ce_instance_t *inst, apr_pool_t *p, apr_status_t rv, const char *why,
                     apr_time_t now);

/* Revokes inst's refresh token (else its access token) at the element's
 * revocation URL (RFC 7009: token, token_type_hint, the client's id and
 * secret in the body). APR_NOTFOUND when there is nothing to revoke or no
 * URL; otherwise as ce_oauth_obtain (a non-2xx answer is
 * CE_OAUTH_UNAVAILABLE). */
apr_status_t ce_oauth_revoke(ce_http_t *h, apr_pool_t *p, const ce_instance_t *inst,
                             const char **perr);

#endif
