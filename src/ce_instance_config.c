/* ce_instance_config: an instance's configuration — which entries are
 * secret, value types, catalog defaults, required entries, limits, and
 * the configuration entry endpoints' rules (see ce_instance.h). */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "ce_instance.h"
#include "ce_instance_int.h"
#include "ce_json.h"

int ce_instance_value_blank(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

int ce_instance_is_scalar(const json_t *v)
{
    return v && !json_is_object(v) && !json_is_array(v);
}

int ce_instance_is_mask(const json_t *v)
{
    return json_is_string(v) && strcmp(json_string_value(v), CE_MASK) == 0;
}

/* Whether a key the catalog does not define names a secret: it contains
 * password, secret, token or key (any case). Clients send keys the catalog
 * does not know ("username" / "password" for jira). */
static int secret_name(const char *key)
{
    static const char *const words[] = {"password", "secret", "token", "key", NULL};
    const char *s;
    int w;

    for (s = key; *s; s++) {
        for (w = 0; words[w]; w++) {
            if (strncasecmp(s, words[w], strlen(words[w])) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* Secret when the catalog says so, or, for a key it does not define, when
 * the key's name says so; every entry of an element that left the catalog
 * is treated as secret, since nothing says which ones are not. */
int ce_instance_is_secret(const ce_element_t *e, const char *key)
{
    const ce_config_spec_t *spec;

    if (!e) {
        return 1;
    }
    spec = ce_catalog_config_spec(e, key);
    return spec ? spec->secret : secret_name(key);
}

int ce_instance_secret_entry(const ce_instance_t *inst, const char *key)
{
    return ce_instance_is_secret(inst->element, key);
}

/* ---- configuration ------------------------------------------------------ */

/* "", "-1", "2.5": a decimal number, as NUMBER entries accept in strings. */
static int is_decimal(const char *s)
{
    apr_size_t n;

    s += (*s == '-');
    if (!(n = strspn(s, "0123456789"))) {
        return 0;
    }
    s += n;
    if (*s == '.') {
        s++;
        if (!(n = strspn(s, "0123456789"))) {
            return 0;
        }
        s += n;
    }
    return *s == '\0';
}

/* Type rules of BOOLEAN and NUMBER entries; null always clears an entry. */
static apr_status_t check_value(apr_pool_t *p, const ce_config_spec_t *spec, const json_t *v,
                                const char **perr)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;

    if (json_is_null(v) || (spec->secret && ce_instance_is_mask(v))) {
        return APR_SUCCESS;
    }
    if (spec->provider) {
        return ce_instance_invalid(p, perr,
                                   "configuration '%s' is the OAuth provider's, set by the "
                                   "operator in the element catalog; it cannot be set on an "
                                   "instance",
                                   spec->key);
    }
    if (strcmp(spec->type, "BOOLEAN") == 0 && !json_is_boolean(v) &&
        !(s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))) {
        return ce_instance_invalid(p, perr, "configuration '%s' must be true or false", spec->key);
    }
    if (strcmp(spec->type, "NUMBER") == 0 && !json_is_number(v) &&
        !(s && (*s == '\0' || is_decimal(s)))) {
        return ce_instance_invalid(p, perr, "configuration '%s' must be a number", spec->key);
    }
    return APR_SUCCESS;
}

static apr_status_t check_values(apr_pool_t *p, const ce_element_t *e, const json_t *given,
                                 const char **perr)
{
    const char *key;
    json_t *v;
    apr_status_t rv;

    json_object_foreach((json_t *)given, key, v)
    {
        const ce_config_spec_t *spec = ce_catalog_config_spec(e, key);

        if (spec && (rv = check_value(p, spec, v, perr)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* A copy of cfg (or an empty object) bound to p. */
json_t *ce_instance_copy_configuration(apr_pool_t *p, const json_t *cfg)
{
    json_t *copy = cfg ? json_deep_copy(cfg) : NULL;

    return ce_json_bind(p, copy ? copy : json_object());
}

/* The configuration after applying given: old's entries in their order,
 * then e's catalog entries not yet there (default, else null), then new
 * keys of given in its order. Given values replace, except a secret entry
 * sent as CE_MASK, which keeps what it had (clients PUT back what they GET). */
apr_status_t ce_instance_build_configuration(json_t **pcfg, apr_pool_t *p, const ce_element_t *e,
                                             const json_t *old, const json_t *given,
                                             const char **perr)
{
    json_t *cfg, *v;
    const char *key;
    int i;
    apr_status_t rv;

    if (given && (rv = check_values(p, e, given, perr)) != APR_SUCCESS) {
        return rv;
    }
    cfg = ce_instance_copy_configuration(p, old);
    for (i = 0; e && i < e->config->nelts; i++) {
        const ce_config_spec_t *spec = &APR_ARRAY_IDX(e->config, i, ce_config_spec_t);

        if (spec->provider) {
            json_object_del(cfg, spec->key); /* read from the catalog when used */
        } else if (!json_object_get(cfg, spec->key)) {
            json_object_set_new(cfg, spec->key,
                                spec->default_value ? json_deep_copy(spec->default_value)
                                                    : json_null());
        }
    }
    json_object_foreach((json_t *)given, key, v)
    {
        const ce_config_spec_t *spec = ce_catalog_config_spec(e, key);

        if (!(ce_instance_is_mask(v) && ce_instance_is_secret(e, key)) &&
            !(spec && spec->provider)) {
            json_object_set_new(cfg, key, json_deep_copy(v));
        }
    }
    *pcfg = cfg;
    return APR_SUCCESS;
}

/* The entries of cfg that element e defines, in cfg's order (bound to p). */
json_t *ce_instance_only_entries_of(apr_pool_t *p, const ce_element_t *e, const json_t *cfg)
{
    json_t *out = ce_json_object(p), *v;
    const char *key;

    json_object_foreach((json_t *)cfg, key, v)
    {
        if (ce_catalog_config_spec(e, key)) {
            json_object_set(out, key, v);
        }
    }
    return out;
}

/* APR_EINVAL naming the limit when cfg holds more than limits allow. */
apr_status_t ce_instance_check_limits(apr_pool_t *p, const ce_config_limits_t *limits,
                                      const json_t *cfg, const char **perr)
{
    apr_size_t total = 0, n;
    const char *key, *text;
    json_t *v;

    if ((int)json_object_size(cfg) > limits->entries) {
        return ce_instance_invalid(p, perr, "Configuration has %lu entries; at most %d are allowed",
                                   (unsigned long)json_object_size(cfg), limits->entries);
    }
    json_object_foreach((json_t *)cfg, key, v)
    {
        n = json_is_string(v) ? json_string_length(v)
                              : ((text = ce_json_dump(p, v)) ? strlen(text) : 0);
        if (n > limits->value_bytes) {
            return ce_instance_invalid(
                p, perr, "Configuration entry '%s' is %lu bytes long; at most %lu are allowed", key,
                (unsigned long)n, (unsigned long)limits->value_bytes);
        }
        total += strlen(key) + n;
    }
    if (total > limits->total_bytes) {
        return ce_instance_invalid(p, perr,
                                   "Configuration is %lu bytes in all; at most %lu are allowed",
                                   (unsigned long)total, (unsigned long)limits->total_bytes);
    }
    return APR_SUCCESS;
}

/* 1 if spec is required and cfg lacks it (absent, null or ""). */
static int lacks(const ce_config_spec_t *spec, const json_t *cfg)
{
    return spec->required && ce_instance_value_blank(json_object_get(cfg, spec->key));
}

/* APR_EINVAL naming every required entry of e that cfg lacks, in catalog order. */
apr_status_t ce_instance_require_entries(apr_pool_t *p, const ce_element_t *e, const json_t *cfg,
                                         const char **perr)
{
    const char *missing = NULL;
    int i;

    for (i = 0; e && i < e->config->nelts; i++) {
        const ce_config_spec_t *spec = &APR_ARRAY_IDX(e->config, i, ce_config_spec_t);

        if (lacks(spec, cfg)) {
            missing = missing ? apr_pstrcat(p, missing, ", ", spec->key, NULL) : spec->key;
        }
    }
    if (missing) {
        return ce_instance_invalid(p, perr, "Missing required configuration entries: %s", missing);
    }
    return APR_SUCCESS;
}

apr_int64_t ce_instance_oauth_expires(const ce_instance_t *inst)
{
    const char *at =
        json_string_value(json_object_get(inst->configuration, CE_OAUTH_USER_REFRESH_TIME));
    const char *in =
        json_string_value(json_object_get(inst->configuration, CE_OAUTH_USER_REFRESH_INTERVAL));

    return at && in ? apr_atoi64(at) + apr_atoi64(in) * 1000 : 0;
}

const char *ce_instance_oauth_problem(const ce_instance_t *inst)
{
    if (!inst->element || !inst->element->oauth) {
        return NULL;
    }
    if (inst->oauth_status && *inst->oauth_status) {
        return inst->oauth_status;
    }
    if (ce_instance_value_blank(json_object_get(inst->configuration, CE_OAUTH_USER_TOKEN)) &&
        ce_instance_value_blank(
            json_object_get(inst->configuration, CE_OAUTH_USER_REFRESH_TOKEN))) {
        return "Not authenticated with the provider: send providerData.code";
    }
    return NULL;
}

int ce_instance_valid(const ce_instance_t *inst)
{
    int i;

    if (!inst->element || inst->unreadable || ce_instance_oauth_problem(inst)) {
        return 0; /* its element left the catalog, its secrets do not open, or it has no tokens */
    }
    for (i = 0; i < inst->element->config->nelts; i++) {
        if (lacks(&APR_ARRAY_IDX(inst->element->config, i, ce_config_spec_t),
                  inst->configuration)) {
            return 0;
        }
    }
    return 1;
}

const char *ce_instance_config_key(const ce_instance_t *inst, long config_id)
{
    const char *key;
    json_t *v;
    long n = 0;

    json_object_foreach(inst->configuration, key, v)
    {
        if (++n == config_id) {
            return key;
        }
    }
    return NULL;
}

static apr_status_t read_property_value(const json_t **pv, apr_pool_t *p, const json_t *body,
                                        const char **perr)
{
    const json_t *v = json_object_get(body, "propertyValue");

    if (!json_is_object(body)) {
        return ce_instance_invalid(p, perr, "The request body must be a JSON object");
    }
    if (!v) {
        return ce_instance_invalid(p, perr, "propertyValue is required");
    }
    if (!ce_instance_is_scalar(v)) {
        return ce_instance_invalid(p, perr,
                                   "propertyValue must be a string, number, boolean or null");
    }
    *pv = v;
    return APR_SUCCESS;
}

apr_status_t ce_instance_config_set(ce_instance_t *inst, apr_pool_t *p, const ce_catalog_t *cat,
                                    long config_id, const json_t *body, const char **perr)
{
    const char *key = ce_instance_config_key(inst, config_id);
    const ce_config_spec_t *spec;
    const json_t *v = NULL;
    json_t *cfg;
    apr_status_t rv;

    if (!key) {
        *perr = apr_psprintf(p, "Configuration entry %ld not found", config_id);
        return APR_NOTFOUND;
    }
    if ((rv = read_property_value(&v, p, body, perr)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = ce_instance_oauth_entry(p, inst, key, v, perr)) != APR_SUCCESS) {
        return rv;
    }
    spec = ce_catalog_config_spec(inst->element, key);
    if (spec && (rv = check_value(p, spec, v, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (spec && spec->required && ce_instance_value_blank(v)) {
        return ce_instance_invalid(p, perr,
                                   "Configuration entry '%s' is required and cannot be empty", key);
    }
    cfg = ce_instance_copy_configuration(p, inst->configuration);
    if (!(ce_instance_is_mask(v) && ce_instance_is_secret(inst->element, key))) {
        json_object_set_new(cfg, key, json_deep_copy(v));
    }
    if ((rv = ce_instance_check_limits(p, ce_catalog_limits(cat), cfg, perr)) != APR_SUCCESS) {
        return rv;
    }
    inst->configuration = cfg;
    inst->updated_date = ce_instance_now(p);
    return APR_SUCCESS;
}
