/* ce_oauth_grant: obtaining an OAuth instance's tokens from its provider
 * (the code exchange, the refresh) over ce_http, and what a success or a
 * failure changes in the instance (see ce_oauth.h). No database: callers
 * hold no transaction while this talks to the provider. */
#include <string.h>
#include <apr_escape.h>
#include <apr_strings.h>

#include "ce_http.h"
#include "ce_oauth.h"

/* Refresh this long before expiry: a quarter of the lifetime, at most 5
 * minutes (ms). */
#define REFRESH_MARGIN_MAX (300 * 1000)
/* Longest pause before retrying a refresh that failed for a passing
 * reason (ms); it doubles from 1 s per failure in a row. */
#define RETRY_PAUSE_MAX (300 * 1000)

static const char *entry(const ce_instance_t *inst, const char *key)
{
    const json_t *v = json_object_get(inst->configuration, key);

    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

/* The token request inst's state calls for, NULL with *perr when a piece
 * is missing. */
static const char *request_for(const ce_instance_t *inst, apr_pool_t *p, const char **purl,
                               const char **perr)
{
    const ce_oauth_provider_t *o = inst->element->oauth;
    ce_oauth_token_request_t t = {0};

    t.client_id = entry(inst, "oauth.api.key");
    t.client_secret = entry(inst, "oauth.api.secret");
    if (inst->provider_code) {
        t.grant = "authorization_code";
        t.code = inst->provider_code;
        t.redirect_uri = entry(inst, "oauth.callback.url");
        *purl = o->token_url;
    } else {
        t.grant = "refresh_token";
        t.refresh_token = entry(inst, CE_OAUTH_USER_REFRESH_TOKEN);
        *purl = o->refresh_url;
        if (!t.refresh_token) {
            *perr = "The instance has no refresh token";
            return NULL;
        }
    }
    if (!t.client_id || !t.client_secret) {
        *perr = "The instance has no oauth.api.key or oauth.api.secret";
        return NULL;
    }
    return ce_oauth_token_body(p, &t);
}

apr_status_t ce_oauth_obtain(ce_oauth_token_t *tok, ce_http_t *h, apr_pool_t *p,
                             const ce_instance_t *inst, const char **perr)
{
    ce_http_request_t rq = {.method = "POST",
                            .content_type = "application/x-www-form-urlencoded",
                            .accept = "application/json"};
    ce_http_response_t rs;
    const char *err = NULL;
    apr_status_t rv;

    memset(tok, 0, sizeof(*tok));
    if (!inst->element || !inst->element->oauth) {
        *perr = "The instance's element does not use OAuth";
        return APR_EINVAL;
    }
    if (!(rq.body = request_for(inst, p, &rq.url, perr))) {
        return APR_EINVAL;
    }
    rq.body_len = strlen(rq.body);
    if ((rv = ce_http_perform(h, p, &rq, &rs, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (rs.status >= 500 || rs.status == 429) {
        *perr = apr_psprintf(p, "The provider's token endpoint answered %d", rs.status);
        return CE_OAUTH_UNAVAILABLE;
    }
    rv = ce_oauth_token_parse(tok, p, rs.status, rs.body, rs.len, &err);
    if (rv == CE_OAUTH_REFUSED) {
        *perr =
            tok->error_description && *tok->error_description ? tok->error_description : tok->error;
        return rv;
    }
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "The provider's token endpoint answered %d: %s", rs.status, err);
        return CE_OAUTH_UNAVAILABLE;
    }
    return APR_SUCCESS;
}

static json_t *number_text(apr_int64_t n)
{
    char buf[32];

    apr_snprintf(buf, sizeof(buf), "%" APR_INT64_T_FMT, n);
    return json_string(buf);
}

void ce_oauth_apply(ce_instance_t *inst, apr_pool_t *p, const ce_oauth_token_t *tok, apr_time_t now)
{
    apr_int64_t interval =
        tok->expires_in > 0 ? tok->expires_in : inst->element->oauth->refresh_interval;
    apr_int64_t now_ms = apr_time_as_msec(now), life = interval * 1000;
    apr_int64_t margin = life / 4 < REFRESH_MARGIN_MAX ? life / 4 : REFRESH_MARGIN_MAX;

    json_object_set_new(inst->configuration, CE_OAUTH_USER_TOKEN, json_string(tok->access_token));
    if (tok->refresh_token) { /* a provider that sends none keeps the one we have */
        json_object_set_new(inst->configuration, CE_OAUTH_USER_REFRESH_TOKEN,
                            json_string(tok->refresh_token));
    }
    json_object_set_new(inst->configuration, CE_OAUTH_USER_REFRESH_TIME, number_text(now_ms));
    json_object_set_new(inst->configuration, CE_OAUTH_USER_REFRESH_INTERVAL, number_text(interval));
    /* nothing to refresh with: the token is used until it expires */
    inst->oauth_due = entry(inst, CE_OAUTH_USER_REFRESH_TOKEN) ? now_ms + life - margin : 0;
    inst->oauth_failures = 0;
    inst->oauth_status = "";
    inst->provider_code = NULL;
    inst->oauth_import = 0;
    (void)p;
}

void ce_oauth_failed(ce_instance_t *inst, apr_pool_t *p, apr_status_t rv, const char *why,
                     apr_time_t now)
{
    apr_int64_t pause = 1000;
    int i;

    if (rv == CE_OAUTH_REFUSED) {
        inst->oauth_status = apr_pstrcat(
            p, "The provider refused the refresh token: ", why ? why : "no reason given",
            "; re-authenticate with providerData.code", NULL);
        inst->oauth_due = 0;
        return;
    }
    inst->oauth_failures++;
    for (i = 1; i < inst->oauth_failures && pause < RETRY_PAUSE_MAX; i++) {
        pause *= 2;
    }
    inst->oauth_due = apr_time_as_msec(now) + (pause < RETRY_PAUSE_MAX ? pause : RETRY_PAUSE_MAX);
}

apr_status_t ce_oauth_revoke(ce_http_t *h, apr_pool_t *p, const ce_instance_t *inst,
                             const char **perr)
{
    const ce_oauth_provider_t *o = inst->element ? inst->element->oauth : NULL;
    const char *refresh = entry(inst, CE_OAUTH_USER_REFRESH_TOKEN);
    const char *token = refresh ? refresh : entry(inst, CE_OAUTH_USER_TOKEN);
    const char *id = entry(inst, "oauth.api.key"), *secret = entry(inst, "oauth.api.secret");
    ce_http_request_t rq = {.method = "POST", .content_type = "application/x-www-form-urlencoded"};
    ce_http_response_t rs;
    apr_status_t rv;

    if (!o || !o->revoke_url || !token) {
        return APR_NOTFOUND; /* nothing to revoke, or nowhere to */
    }
    rq.url = o->revoke_url;
    rq.body = apr_pstrcat(p, "token=", apr_pescape_urlencoded(p, token),
                          "&token_type_hint=", refresh ? "refresh_token" : "access_token",
                          id ? "&client_id=" : "", id ? apr_pescape_urlencoded(p, id) : "",
                          secret ? "&client_secret=" : "",
                          secret ? apr_pescape_urlencoded(p, secret) : "", NULL);
    rq.body_len = strlen(rq.body);
    if ((rv = ce_http_perform(h, p, &rq, &rs, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (rs.status < 200 || rs.status >= 300) {
        *perr = apr_psprintf(p, "The provider's revocation endpoint answered %d", rs.status);
        return CE_OAUTH_UNAVAILABLE;
    }
    return APR_SUCCESS;
}
