/* ce_gateway: an element's provider API and an instance's credential for
 * it (see ce_gateway.h). Escapes are APR's (apr_escape), base64 apr_encode's. */
#include <string.h>
#include <apr_encode.h>
#include <apr_escape.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "ce_gateway.h"
#include "ce_instance.h"
#include "ce_outbound.h"

static const char *const api_fields[] = {"url",      "urlKey", "auth",  "username",
                                         "password", "name",   "value", NULL};
static const char *const auth_names[] = {"none", "bearer", "basic", "header", "query", NULL};

static apr_status_t bad(apr_pool_t *p, const char **perr, const char *what, const char *field)
{
    *perr = apr_psprintf(p, "api: %s%s%s", field ? "'" : "", field ? field : "",
                         apr_pstrcat(p, field ? "' " : "", what, NULL));
    return APR_EINVAL;
}

/* A string field, or NULL when absent. */
static apr_status_t field(const char **pv, apr_pool_t *p, const json_t *j, const char *name,
                          const char **perr)
{
    const json_t *v = json_object_get(j, name);

    *pv = NULL;
    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_string(v) || !*json_string_value(v)) {
        return bad(p, perr, "must be a non-empty string", name);
    }
    *pv = apr_pstrdup(p, json_string_value(v));
    return APR_SUCCESS;
}

/* A header field name (RFC 9110 token) or a query parameter name. */
static int is_token(const char *s)
{
    return *s && strspn(s, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(s);
}

static apr_status_t read_fields(ce_gateway_api_t *a, apr_pool_t *p, const json_t *j,
                                const char **perr)
{
    const char *auth = NULL;
    const char **dst[] = {&a->url,      &a->url_key, &auth,     &a->username,
                          &a->password, &a->name,    &a->value, NULL};
    const char *name;
    const json_t *v;
    int i;
    apr_status_t rv;

    if (!json_is_object(j)) {
        return bad(p, perr, "must be an object", NULL);
    }
    json_object_foreach((json_t *)j, name, v)
    {
        for (i = 0; api_fields[i] && strcmp(api_fields[i], name); i++)
            ;
        if (!api_fields[i]) {
            return bad(p, perr, "is not a field of api", name);
        }
    }
    for (i = 0; dst[i]; i++) {
        if ((rv = field(dst[i], p, j, api_fields[i], perr)) != APR_SUCCESS) {
            return rv;
        }
    }
    for (i = 0; auth && auth_names[i] && strcmp(auth_names[i], auth); i++)
        ;
    if (!auth || !auth_names[i]) {
        return bad(p, perr, "must be one of none, bearer, basic, header, query", "auth");
    }
    a->auth = (ce_gateway_auth_t)i;
    return APR_SUCCESS;
}

/* What each scheme needs, and nothing it does not use. */
static apr_status_t check_scheme(const ce_gateway_api_t *a, apr_pool_t *p, const char **perr)
{
    int basic = a->auth == CE_GATEWAY_BASIC, named = a->auth >= CE_GATEWAY_HEADER;

    if (basic != (a->username && a->password) || (!basic && (a->username || a->password))) {
        return bad(p, perr, "username and password are for (and needed by) basic", "auth");
    }
    if (named != (a->name && a->value) || (!named && a->name)) {
        return bad(p, perr, "name and value are for (and needed by) header and query", "auth");
    }
    if (a->value && a->auth != CE_GATEWAY_BEARER && !named) {
        return bad(p, perr, "is only for bearer, header and query", "value");
    }
    if (a->name && !is_token(a->name)) {
        return bad(p, perr, "is not a header or parameter name", "name");
    }
    return APR_SUCCESS;
}

apr_status_t ce_gateway_read_api(const ce_gateway_api_t **papi, apr_pool_t *p, const json_t *j,
                                 int (*keyok)(const void *ctx, const char *key), const void *ctx,
                                 const char **perr)
{
    ce_gateway_api_t *a = apr_pcalloc(p, sizeof(*a));
    const char *keys[4], *err = NULL;
    int i, https;
    apr_status_t rv;

    if ((rv = read_fields(a, p, j, perr)) != APR_SUCCESS ||
        (rv = check_scheme(a, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (!a->url == !a->url_key) {
        return bad(p, perr, "needs one of url (fixed) and urlKey (the instance's entry)", NULL);
    }
    if (a->url && ce_outbound_check_url(p, a->url, &https, &err) != APR_SUCCESS) {
        return bad(p, perr, err, "url");
    }
    if (a->url && strchr(a->url, '?')) {
        return bad(p, perr, "cannot carry a query", "url");
    }
    keys[0] = a->url_key, keys[1] = a->username, keys[2] = a->password, keys[3] = a->value;
    for (i = 0; i < 4; i++) {
        if (keys[i] && !keyok(ctx, keys[i])) {
            return bad(p, perr,
                       apr_psprintf(p, "names '%s', not an entry of this element", keys[i]),
                       i == 0 ? "urlKey" : api_fields[i + 2]);
        }
    }
    *papi = a;
    return APR_SUCCESS;
}

int ce_gateway_oauth_bearer(const ce_gateway_api_t *api)
{
    return api->auth == CE_GATEWAY_BEARER &&
           (!api->value || strcmp(api->value, CE_OAUTH_USER_TOKEN) == 0);
}

/* v, the value of entry key, if it is a non-empty string that can travel
 * in a header. */
static apr_status_t usable(const char *v, apr_pool_t *p, const char *key, const char **perr)
{
    const char *c;

    if (!v || !*v) {
        *perr = apr_psprintf(p, "the instance has no value for '%s'", key);
        return APR_EINVAL;
    }
    for (c = v; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            *perr = apr_psprintf(p, "the instance's '%s' holds control characters", key);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t usable_or_empty(const char *v)
{
    for (; *v; v++) {
        if ((unsigned char)*v < 0x20 || *v == 0x7f) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t entry(const char **pv, apr_pool_t *p, const json_t *config, const char *key,
                          const char **perr)
{
    *pv = json_string_value(json_object_get(config, key));
    return usable(*pv, p, key, perr);
}

static apr_status_t basic(ce_gateway_cred_t *out, apr_pool_t *p, const ce_gateway_api_t *api,
                          const json_t *config, const char **perr)
{
    const char *user = NULL, *pass = NULL, *pair;
    apr_status_t rv;

    if ((rv = entry(&user, p, config, api->username, perr)) != APR_SUCCESS ||
        (rv = entry(&pass, p, config, api->password, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (strchr(user, ':')) {
        *perr = apr_psprintf(p, "the instance's '%s' holds a ':' (HTTP Basic cannot carry it)",
                             api->username);
        return APR_EINVAL;
    }
    pair = apr_pstrcat(p, user, ":", pass, NULL);
    out->header = "Authorization";
    out->header_value =
        apr_pstrcat(p, "Basic ", apr_pencode_base64(p, pair, APR_ENCODE_STRING, 0, NULL), NULL);
    return APR_SUCCESS;
}

apr_status_t ce_gateway_credential(ce_gateway_cred_t *out, apr_pool_t *p,
                                   const ce_gateway_api_t *api, const json_t *config,
                                   const char *bearer, const char **perr)
{
    const char *v = NULL;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    switch (api->auth) {
        case CE_GATEWAY_NONE:
            return APR_SUCCESS;
        case CE_GATEWAY_BASIC:
            return basic(out, p, api, config, perr);
        case CE_GATEWAY_BEARER:
            if (ce_gateway_oauth_bearer(api) && bearer) {
                rv = usable(v = bearer, p, CE_OAUTH_USER_TOKEN, perr);
            } else {
                rv = entry(&v, p, config, api->value ? api->value : CE_OAUTH_USER_TOKEN, perr);
            }
            out->header = "Authorization";
            out->header_value = rv == APR_SUCCESS ? apr_pstrcat(p, "Bearer ", v, NULL) : NULL;
            return rv;
        default:
            if ((rv = entry(&v, p, config, api->value, perr)) != APR_SUCCESS) {
                return rv;
            }
            *(api->auth == CE_GATEWAY_HEADER ? &out->header : &out->param) = api->name;
            *(api->auth == CE_GATEWAY_HEADER ? &out->header_value : &out->param_value) = v;
            return APR_SUCCESS;
    }
}

/* args without the pairs named name (NULL: all kept). */
static const char *without(apr_pool_t *p, const char *args, const char *name)
{
    char *copy, *pair, *last = NULL;
    const char *kept = NULL;

    if (!args || !*args || !name) {
        return args && *args ? args : NULL;
    }
    copy = apr_pstrdup(p, args);
    for (pair = apr_strtok(copy, "&", &last); pair; pair = apr_strtok(NULL, "&", &last)) {
        const char *eq = strchr(pair, '=');
        char *raw = apr_pstrmemdup(p, pair, eq ? (apr_size_t)(eq - pair) : strlen(pair));
        const char *key = apr_punescape_url(p, raw, NULL, NULL, 1);

        if (key && strcmp(key, name) == 0) {
            continue;
        }
        kept = kept ? apr_pstrcat(p, kept, "&", pair, NULL) : pair;
    }
    return kept;
}

apr_status_t ce_gateway_url(const char **purl, apr_pool_t *p, const ce_gateway_api_t *api,
                            const json_t *config, const char *rest, const char *args,
                            const ce_gateway_cred_t *cred, const char **perr)
{
    const char *base = api->url, *err = NULL, *query;
    apr_size_t n;
    int https;

    if ((rest && (strpbrk(rest, " ?#") || usable_or_empty(rest) != APR_SUCCESS)) ||
        (args && (strpbrk(args, " #") || usable_or_empty(args) != APR_SUCCESS))) {
        *perr = "the path or query holds characters a URL cannot carry";
        return APR_EBADPATH;
    }
    if (!base && entry(&base, p, config, api->url_key, perr) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (ce_outbound_check_url(p, base, &https, &err) != APR_SUCCESS || strchr(base, '?')) {
        *perr =
            apr_psprintf(p, "the provider URL%s%s is not usable: %s", api->url_key ? " in " : "",
                         api->url_key ? api->url_key : "", err ? err : "it carries a query");
        return APR_EINVAL;
    }
    for (n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
        ;
    query = without(p, args, cred->param);
    if (cred->param) {
        const char *pair = apr_pstrcat(p, apr_pescape_urlencoded(p, cred->param), "=",
                                       apr_pescape_urlencoded(p, cred->param_value), NULL);

        query = query ? apr_pstrcat(p, query, "&", pair, NULL) : pair;
    }
    *purl = apr_pstrcat(p, apr_pstrmemdup(p, base, n), rest ? rest : "", query ? "?" : "",
                        query ? query : "", NULL);
    return APR_SUCCESS;
}
