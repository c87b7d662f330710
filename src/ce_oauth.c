/* ce_oauth: OAuth 2 authorization-code messages, built and read (see
 * ce_oauth.h). Form encoding is APR's (apr_pescape_urlencoded), JSON
 * jansson's (through ce_json). */
#include <string.h>
#include <apr_escape.h>
#include <apr_strings.h>

#include "ce_json.h"
#include "ce_oauth.h"

/* Longest error or description kept from a provider's refusal. */
#define ERROR_TEXT_MAX 512

/* "&name=value", form-encoded, or "" when value is NULL. */
static const char *param(apr_pool_t *p, const char *name, const char *value)
{
    if (!value) {
        return "";
    }
    return apr_pstrcat(p, "&", apr_pescape_urlencoded(p, name), "=",
                       apr_pescape_urlencoded(p, value), NULL);
}

static int is_http_url(const char *url)
{
    return url && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0) &&
           !strpbrk(url, " \t\r\n#");
}

typedef struct {
    apr_pool_t *p;
    const char *out;
} extra_t;

static int add_extra(void *data, const char *name, const char *value)
{
    extra_t *e = data;

    e->out = apr_pstrcat(e->p, e->out, param(e->p, name, value), NULL);
    return 1;
}

const char *ce_oauth_authorize_url(apr_pool_t *p, const ce_oauth_authorize_t *a, const char **perr)
{
    extra_t extra = {p, ""};
    const char *query;

    if (!is_http_url(a->authorization_url)) {
        *perr = "The element's oauth.authorization.url is not an http(s) URL";
        return NULL;
    }
    if (!a->client_id || !*a->client_id || !a->redirect_uri || !*a->redirect_uri) {
        *perr = "An authorization URL needs a client id and a redirect URI";
        return NULL;
    }
    if (a->extra) {
        apr_table_do(add_extra, &extra, a->extra, NULL);
    }
    query = apr_pstrcat(p, "response_type=code", param(p, "client_id", a->client_id),
                        param(p, "redirect_uri", a->redirect_uri),
                        param(p, "scope", a->scope && *a->scope ? a->scope : NULL),
                        param(p, "state", a->state), extra.out, NULL);
    return apr_pstrcat(p, a->authorization_url, strchr(a->authorization_url, '?') ? "&" : "?",
                       query, NULL);
}

/* The parameter's non-empty value, or NULL (adding name to *pmissing). */
static const char *required(apr_pool_t *p, const apr_table_t *params, const char *name,
                            const char **pmissing)
{
    const char *v = apr_table_get(params, name);

    if (v && *v) {
        return v;
    }
    *pmissing = *pmissing ? apr_pstrcat(p, *pmissing, ", ", name, NULL) : name;
    return NULL;
}

apr_status_t ce_oauth_element_url(const char **purl, apr_pool_t *p, const ce_element_t *e,
                                  const apr_table_t *params, const char **perr)
{
    ce_oauth_authorize_t a = {0};
    const char *missing = NULL, *scope = apr_table_get(params, "scope");
    const char *state = apr_table_get(params, "state");

    if (!e->oauth) {
        *perr = apr_psprintf(p, "Element '%s' does not use OAuth", e->key);
        return APR_EINVAL;
    }
    a.client_id = required(p, params, "apiKey", &missing);
    (void)required(p, params, "apiSecret", &missing);
    a.redirect_uri = required(p, params, "callbackUrl", &missing);
    if (missing) {
        *perr = apr_psprintf(p, "Missing parameters: %s", missing);
        return APR_EINVAL;
    }
    a.authorization_url = e->oauth->authorization_url;
    a.scope = scope && *scope ? scope : e->oauth->scope;
    a.state = state && *state ? state : e->key;
    a.extra = e->oauth->params;
    *purl = ce_oauth_authorize_url(p, &a, perr);
    return *purl ? APR_SUCCESS : APR_EINVAL;
}

const char *ce_oauth_token_body(apr_pool_t *p, const ce_oauth_token_request_t *t)
{
    int code = strcmp(t->grant, "authorization_code") == 0;
    const char *body = apr_pstrcat(p, "grant_type=", apr_pescape_urlencoded(p, t->grant), NULL);

    if (code) {
        body = apr_pstrcat(p, body, param(p, "code", t->code),
                           param(p, "redirect_uri", t->redirect_uri), NULL);
    } else {
        body = apr_pstrcat(p, body, param(p, "refresh_token", t->refresh_token), NULL);
    }
    return apr_pstrcat(p, body, param(p, "client_id", t->client_id),
                       param(p, "client_secret", t->client_secret), NULL);
}

/* o's member name as a string of at most max bytes (copied into p): *pv,
 * NULL when absent. APR_EGENERAL when present and not such a string. */
static apr_status_t string_member(const char **pv, apr_pool_t *p, const json_t *o, const char *name,
                                  apr_size_t max)
{
    const json_t *v = json_object_get(o, name);

    *pv = NULL;
    if (!v || json_is_null(v)) {
        return APR_SUCCESS;
    }
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return APR_EGENERAL;
    }
    *pv = apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    return APR_SUCCESS;
}

/* expires_in: a number of seconds, or a string of digits (some providers
 * send one); -1 when absent or unusable. */
static apr_int64_t expires_in(const json_t *o)
{
    const json_t *v = json_object_get(o, "expires_in");
    const char *s;
    char *end;
    apr_int64_t n;

    if (json_is_integer(v)) {
        n = json_integer_value(v);
        return n > 0 ? n : -1;
    }
    if (json_is_string(v) && *(s = json_string_value(v)) >= '0' && *s <= '9') {
        n = apr_strtoi64(s, &end, 10);
        return *end == '\0' && n > 0 ? n : -1;
    }
    return -1;
}

apr_status_t ce_oauth_token_parse(ce_oauth_token_t *pt, apr_pool_t *p, int status, const char *body,
                                  apr_size_t len, const char **perr)
{
    const char *err = NULL;
    json_t *o;

    memset(pt, 0, sizeof(*pt));
    pt->expires_in = -1;
    if (ce_json_parse(&o, p, body ? body : "", body ? len : 0, &err) != APR_SUCCESS ||
        !json_is_object(o)) {
        *perr =
            apr_psprintf(p, "The provider's token answer (HTTP %d) is not a JSON object", status);
        return APR_EGENERAL;
    }
    if (string_member(&pt->error, p, o, "error", ERROR_TEXT_MAX) == APR_SUCCESS && pt->error) {
        string_member(&pt->error_description, p, o, "error_description", ERROR_TEXT_MAX);
        return CE_OAUTH_REFUSED;
    }
    if (status < 200 || status > 299 ||
        string_member(&pt->access_token, p, o, "access_token", CE_OAUTH_TOKEN_MAX) != APR_SUCCESS ||
        !pt->access_token || !*pt->access_token ||
        string_member(&pt->refresh_token, p, o, "refresh_token", CE_OAUTH_TOKEN_MAX) !=
            APR_SUCCESS ||
        string_member(&pt->token_type, p, o, "token_type", 64) != APR_SUCCESS ||
        string_member(&pt->scope, p, o, "scope", 4096) != APR_SUCCESS) {
        memset(pt, 0, sizeof(*pt));
        *perr = apr_psprintf(p,
                             "The provider's token answer (HTTP %d) has no usable access "
                             "token",
                             status);
        return APR_EGENERAL;
    }
    pt->expires_in = expires_in(o);
    return APR_SUCCESS;
}
