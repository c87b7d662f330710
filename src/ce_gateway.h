/* ce_gateway: where an element's provider API is and how an instance
 * authenticates to it, for calls that go through httpd to the provider
 * (CEInstancesProxy; the glue is mod_ce_gateway). A passthrough to the
 * provider's own API, not Cloud Elements' normalized hub resources.
 *
 * Core unit: no httpd headers.
 *
 * Catalog (an element's optional "api" object, the operator's):
 *   "api": {"url": "https://api.example.com/v2"   a fixed base URL, or
 *           "urlKey": "jira.api.url",             the instance's entry holding it
 *           "auth": "bearer" | "basic" | "header" | "query" | "none",
 *           "username": "jira.username",          basic: the entries holding
 *           "password": "jira.password",          user and password
 *           "name": "X-Api-Key",                  header / query: its name
 *           "value": "api.key"}                   bearer / header / query: the
 *                                                 entry holding the credential
 * A bearer without "value" on an OAuth element is the instance's access
 * token (oauth.user.token), refreshed when it is about to expire. Every
 * key named must be one of the element's configuration entries. */
#ifndef CE_GATEWAY_H
#define CE_GATEWAY_H

#include <apr_pools.h>
#include <jansson.h>

typedef enum {
    CE_GATEWAY_NONE,
    CE_GATEWAY_BEARER,
    CE_GATEWAY_BASIC,
    CE_GATEWAY_HEADER,
    CE_GATEWAY_QUERY
} ce_gateway_auth_t;

typedef struct {
    const char *url;     /* a fixed base URL, or NULL */
    const char *url_key; /* the entry holding the base URL, or NULL */
    ce_gateway_auth_t auth;
    const char *username; /* entry keys (basic) */
    const char *password;
    const char *name;  /* header or query parameter name */
    const char *value; /* entry key of the credential (bearer, header, query) */
} ce_gateway_api_t;

/* What the gateway puts into the outgoing request. */
typedef struct {
    const char *header; /* a header to set ("Authorization", "X-Api-Key"), or NULL */
    const char *header_value;
    const char *param; /* a query parameter to set, or NULL */
    const char *param_value;
} ce_gateway_cred_t;

/* Reads an element's "api" object (j) into *papi, in p; keyok(ctx, key)
 * says whether key is one of the element's entries. APR_EINVAL with *perr
 * (without where's prefix) on a mistake. */
apr_status_t ce_gateway_read_api(const ce_gateway_api_t **papi, apr_pool_t *p, const json_t *j,
                                 int (*keyok)(const void *ctx, const char *key), const void *ctx,
                                 const char **perr);

/* Whether api's bearer is the instance's OAuth access token. */
int ce_gateway_oauth_bearer(const ce_gateway_api_t *api);

/* The credential of an instance whose configuration is config: bearer is
 * the OAuth access token when ce_gateway_oauth_bearer (else unused).
 * APR_EINVAL with *perr (naming the entry, never its value) when an entry
 * is missing, not a string, or cannot travel in a header (control
 * characters; a ':' in a Basic user name). */
apr_status_t ce_gateway_credential(ce_gateway_cred_t *out, apr_pool_t *p,
                                   const ce_gateway_api_t *api, const json_t *config,
                                   const char *bearer, const char **perr);

/* The URL to send to: the base (api's, or the instance's entry, checked
 * as an outbound URL: http(s), no user, password, query or fragment),
 * without its trailing '/', then rest (an escaped path, "" or starting
 * with '/'), then the query: args (or none) without any parameter named
 * cred->param, then cred's parameter. APR_EINVAL with *perr; APR_EBADPATH
 * when rest or args hold a space or a control character, or rest a '?' or
 * '#' (it is an escaped path), or args a '#' (the caller's). */
apr_status_t ce_gateway_url(const char **purl, apr_pool_t *p, const ce_gateway_api_t *api,
                            const json_t *config, const char *rest, const char *args,
                            const ce_gateway_cred_t *cred, const char **perr);

#endif
