/* ce_instance_oauth: the model's rules for an OAuth element's instance —
 * what a body may say about its tokens (see ce_instance.h). Obtaining them
 * is ce_oauth_grant's business. */
#include <string.h>
#include <apr_strings.h>

#include "ce_instance.h"
#include "ce_instance_int.h"
#include "ce_json.h"

static int is_token_key(const char *key)
{
    return strcmp(key, CE_OAUTH_USER_TOKEN) == 0 || strcmp(key, CE_OAUTH_USER_REFRESH_TOKEN) == 0;
}

/* Whether v leaves entry key as stored: the mask of a secret, or the
 * stored value itself (clients PUT back what they GET). */
static int unchanged(const char *key, const json_t *v, const json_t *stored)
{
    const json_t *old = stored ? json_object_get(stored, key) : NULL;

    return (is_token_key(key) && ce_instance_is_mask(v)) || (old && json_equal(old, v)) ||
           (!old && json_is_null(v));
}

/* oauth.user.* entries of given: the server's, except the two tokens when
 * importing. */
static apr_status_t check_user_entries(apr_pool_t *p, const json_t *given, const json_t *stored,
                                       int import, const char **perr)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)given, key, v)
    {
        if (strncmp(key, "oauth.user.", 11) != 0 || unchanged(key, v, stored) ||
            (import && is_token_key(key))) {
            continue;
        }
        return ce_instance_invalid(p, perr,
                                   "configuration '%s' is obtained from the provider: send "
                                   "providerData.code, or externalAuthentication 'initial' with "
                                   "oauth.user.refresh_token to import tokens",
                                   key);
    }
    return APR_SUCCESS;
}

apr_status_t ce_instance_oauth_entry(apr_pool_t *p, const ce_instance_t *inst, const char *key,
                                     const json_t *v, const char **perr)
{
    json_t *one;

    if (!inst->element || !inst->element->oauth) {
        return APR_SUCCESS;
    }
    one = ce_json_object(p);
    json_object_set(one, key, (json_t *)v);
    return check_user_entries(p, one, inst->configuration, 0, perr);
}

apr_status_t ce_instance_read_oauth(ce_oauth_ask_t *ask, apr_pool_t *p, const json_t *body,
                                    const char **perr)
{
    const json_t *data = json_object_get(body, "providerData");
    const json_t *code = data ? json_object_get(data, "code") : NULL;
    const json_t *ext = json_object_get(body, "externalAuthentication");

    memset(ask, 0, sizeof(*ask));
    if (code && !(json_is_string(code) && json_string_length(code) > 0)) {
        return ce_instance_invalid(p, perr, "providerData.code must be a non-empty string");
    }
    if (code && json_string_length(code) > CE_OAUTH_CODE_MAX) {
        return ce_instance_invalid(p, perr, "providerData.code must be at most %d bytes",
                                   CE_OAUTH_CODE_MAX);
    }
    if (ext && !(json_is_string(ext) && (strcmp(json_string_value(ext), "none") == 0 ||
                                         strcmp(json_string_value(ext), "initial") == 0))) {
        return ce_instance_invalid(p, perr, "externalAuthentication must be 'none' or 'initial'");
    }
    ask->code = code ? json_string_value(code) : NULL;
    ask->external = ext ? json_string_value(ext) : NULL;
    if (ask->code && ask->external && strcmp(ask->external, "initial") == 0) {
        return ce_instance_invalid(p, perr,
                                   "Give providerData.code or externalAuthentication 'initial', "
                                   "not both");
    }
    return APR_SUCCESS;
}

apr_status_t ce_instance_apply_oauth(ce_instance_t *next, apr_pool_t *p, const ce_oauth_ask_t *ask,
                                     const json_t *given, const json_t *stored, const char **perr)
{
    int import = ask->external && strcmp(ask->external, "initial") == 0;
    const json_t *refresh = given ? json_object_get(given, CE_OAUTH_USER_REFRESH_TOKEN) : NULL;
    apr_status_t rv;

    next->provider_code = NULL;
    next->oauth_import = 0;
    if (!next->external_authentication || ask->external) {
        next->external_authentication = ask->external ? ask->external : "none";
    }
    if (!next->oauth_status) {
        next->oauth_status = "";
    }
    if (!next->element || !next->element->oauth) {
        next->oauth_due = 0; /* not an OAuth element (any more): nothing to refresh */
        next->oauth_status = "";
        return APR_SUCCESS;
    }
    if ((rv = check_user_entries(p, given, stored, import, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (import && (ce_instance_value_blank(refresh) || ce_instance_is_mask(refresh) ||
                   !json_is_string(refresh))) {
        return ce_instance_invalid(p, perr,
                                   "externalAuthentication 'initial' needs the tokens to import: "
                                   "configuration oauth.user.refresh_token");
    }
    next->provider_code = ask->code;
    next->oauth_import = import;
    if (ask->code) {
        next->external_authentication = "none";
    }
    return APR_SUCCESS;
}

int ce_instance_asks_provider(apr_pool_t *p, const json_t *body, int *phas_code)
{
    ce_oauth_ask_t ask;
    const char *err = NULL;

    *phas_code = 0;
    if (!json_is_object(body) || ce_instance_read_oauth(&ask, p, body, &err) != APR_SUCCESS) {
        return 0; /* the merge says what is wrong */
    }
    *phas_code = ask.code != NULL;
    return ask.code || (ask.external && strcmp(ask.external, "initial") == 0);
}
