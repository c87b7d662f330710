/* ce_catalog_oauth: an OAuth element's provider (where its tokens come
 * from), read from the catalog entries only the operator sets. */
#include <string.h>
#include <apr_strings.h>

#include "ce_catalog.h"
#include "ce_num.h"
#include "ce_outbound.h"

static const char *const url_keys[] = {"oauth.authorization.url", "oauth.token.url",
                                       "oauth.token.refresh_url", "oauth.token.revoke_url", NULL};

static int is_url_key(const char *key)
{
    const char *const *k;

    for (k = url_keys; *k; k++) {
        if (strcmp(*k, key) == 0)
            return 1;
    }
    return 0;
}

int ce_catalog_provider_key(const char *key)
{
    return is_url_key(key) || strcmp(key, "oauth.scope") == 0 ||
           strcmp(key, "oauth.token.refresh_interval") == 0 ||
           strncmp(key, CE_OAUTH_PARAM_PREFIX, sizeof(CE_OAUTH_PARAM_PREFIX) - 1) == 0;
}

static apr_status_t bad(apr_pool_t *p, const char **perr, const char *where, const char *key,
                        const char *what)
{
    *perr = apr_psprintf(p, "%s, configuration '%s': %s", where, key, what);
    return APR_EINVAL;
}

/* The entry's defaultValue as text ("" when null), checked. */
static apr_status_t provider_value(const char **pv, apr_pool_t *p, const ce_config_spec_t *spec,
                                   const char *where, const char **perr)
{
    const json_t *d = spec->default_value;
    int https;
    const char *err = NULL;
    apr_int64_t n;

    if (spec->required)
        return bad(p, perr, where, spec->key, "an OAuth provider entry cannot be required");
    if (!d || !(json_is_string(d) || json_is_null(d) || json_is_integer(d)))
        return bad(p, perr, where, spec->key, "needs a defaultValue (the operator's value)");
    *pv = json_is_string(d) ? json_string_value(d)
          : json_is_integer(d)
              ? apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(d))
              : "";
    if (strcmp(spec->key, "oauth.token.refresh_interval") == 0 &&
        ce_num_parse(&n, *pv, 1, 365 * 86400) != APR_SUCCESS)
        return bad(p, perr, where, spec->key, "must be a positive number of seconds");
    if (**pv && is_url_key(spec->key) && ce_outbound_check_url(p, *pv, &https, &err) != APR_SUCCESS)
        return bad(p, perr, where, spec->key, err);
    return APR_SUCCESS;
}

static void set_field(ce_oauth_provider_t *o, apr_pool_t *p, const char *key, const char *v)
{
    if (!*v)
        return;
    if (!strcmp(key, "oauth.authorization.url"))
        o->authorization_url = v;
    else if (!strcmp(key, "oauth.token.url"))
        o->token_url = v;
    else if (!strcmp(key, "oauth.token.refresh_url"))
        o->refresh_url = v;
    else if (!strcmp(key, "oauth.token.revoke_url"))
        o->revoke_url = v;
    else if (!strcmp(key, "oauth.scope"))
        o->scope = v;
    else if (!strcmp(key, "oauth.token.refresh_interval"))
        o->refresh_interval = apr_atoi64(v);
    else
        apr_table_set(o->params, key + sizeof(CE_OAUTH_PARAM_PREFIX) - 1, v);
}

apr_status_t ce_catalog_read_oauth(ce_element_t *e, apr_pool_t *p, const char *where,
                                   const char **perr)
{
    ce_oauth_provider_t *o = apr_pcalloc(p, sizeof(*o));
    const char *first = NULL, *v;
    int i;
    apr_status_t rv;

    o->params = apr_table_make(p, 2);
    o->refresh_interval = CE_OAUTH_REFRESH_INTERVAL_DEFAULT;
    for (i = 0; i < e->config->nelts; i++) {
        const ce_config_spec_t *spec = &APR_ARRAY_IDX(e->config, i, ce_config_spec_t);

        if (!spec->provider)
            continue;
        if ((rv = provider_value(&v, p, spec, where, perr)) != APR_SUCCESS)
            return rv;
        set_field(o, p, spec->key, v);
        first = first ? first : spec->key;
    }
    if (!first)
        return APR_SUCCESS;
    if (!o->token_url || !o->authorization_url)
        return bad(p, perr, where, first,
                   "an OAuth element needs oauth.authorization.url and oauth.token.url");
    o->refresh_url = o->refresh_url ? o->refresh_url : o->token_url;
    e->oauth = o;
    return APR_SUCCESS;
}
