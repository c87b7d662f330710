/* ce_instance: the element instance model — body validation, create and
 * PUT/PATCH merge, HTML stripping, dates. The configuration's rules are in
 * ce_instance_config.c, the JSON shapes answered in ce_instance_json.c.
 *
 * A body is first read into a changes_t (every type rule checked there);
 * create and merge then build the new instance state in copies and commit
 * it only when everything passed, so a failed merge leaves the instance as
 * it was. Messages never contain configuration values (they may be
 * secrets); keys and element names are fine. */
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ce_crypto.h"
#include "ce_instance.h"
#include "ce_json.h"
#include "ce_num.h"
#include "ce_instance_int.h"

/* Largest value of maxCacheSize and cacheTimeToLive (2^31-1). */
#define CE_COUNT_MAX 2147483647L
/* Longest configuration key a body may use. */
#define CE_CONFIG_KEY_MAX 255

/* An optional integer or boolean body field. */
typedef struct {
    int given;
    long value;
} opt_t;

/* What a body asks to change; NULL / !given for fields it leaves out. */
typedef struct {
    const ce_element_t *element;
    const char *name;
    json_t *tags;                /* sanitized, bound */
    const json_t *configuration; /* the body's object, values checked to be scalars */
    opt_t max_cache_size, cache_time_to_live, caching_enabled, trace_logging_enabled;
    ce_oauth_ask_t oauth;
} changes_t;

apr_status_t ce_instance_invalid(apr_pool_t *p, const char **perr, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    *perr = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return APR_EINVAL;
}

/* Number of UTF-8 characters in s. */
static apr_size_t utf8_length(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++) {
        n += ((unsigned char)*s & 0xC0) != 0x80;
    }
    return n;
}

/* ---- reading a body ---------------------------------------------------- */

static apr_status_t element_by_key(const ce_element_t **pe, apr_pool_t *p, const ce_catalog_t *cat,
                                   const json_t *key, const char **perr)
{
    if (!json_is_string(key)) {
        return ce_instance_invalid(p, perr, "element key must be a string");
    }
    if (!(*pe = ce_catalog_by_key(cat, json_string_value(key)))) {
        return ce_instance_invalid(p, perr, "Element '%s' not found", json_string_value(key));
    }
    return APR_SUCCESS;
}

static apr_status_t element_by_id(const ce_element_t **pe, apr_pool_t *p, const ce_catalog_t *cat,
                                  const json_t *id, const char **perr)
{
    apr_int64_t v = 0;
    long n;
    int ok;

    if (json_is_integer(id)) {
        ok = json_integer_value(id) > 0 && json_integer_value(id) <= LONG_MAX;
        v = ok ? json_integer_value(id) : 0;
    } else {
        ok = json_is_string(id) &&
             ce_num_parse(&v, json_string_value(id), 1, LONG_MAX) == APR_SUCCESS;
    }
    if (!ok) {
        return ce_instance_invalid(p, perr, "element id must be a positive integer");
    }
    n = (long)v;
    if (!(*pe = ce_catalog_by_id(cat, n))) {
        return ce_instance_invalid(p, perr, "Element id %ld not found", n);
    }
    return APR_SUCCESS;
}

/* body.element: {"key": K} and/or {"id": N}; must agree with each other and
 * with scope. Other members (a GET response's element details) are ignored. */
static apr_status_t read_element(const ce_element_t **pe, apr_pool_t *p, const ce_catalog_t *cat,
                                 const json_t *v, const ce_element_t *scope, const char **perr)
{
    const json_t *key = json_object_get(v, "key"), *id = json_object_get(v, "id");
    const ce_element_t *by_key = NULL, *by_id = NULL;
    apr_status_t rv;

    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_object(v)) {
        return ce_instance_invalid(p, perr, "element must be an object with a key or an id");
    }
    if (!key && !id) {
        return ce_instance_invalid(p, perr, "element must have a key or an id");
    }
    if ((key && (rv = element_by_key(&by_key, p, cat, key, perr)) != APR_SUCCESS) ||
        (id && (rv = element_by_id(&by_id, p, cat, id, perr)) != APR_SUCCESS)) {
        return rv;
    }
    if (by_key && by_id && by_key != by_id) {
        return ce_instance_invalid(p, perr, "element key '%s' and id %ld name different elements",
                                   by_key->key, by_id->id);
    }
    *pe = by_key ? by_key : by_id;
    if (scope && *pe != scope) {
        return ce_instance_invalid(p, perr,
                                   "Element '%s' in the body differs from element '%s' in the path",
                                   (*pe)->key, scope->key);
    }
    return APR_SUCCESS;
}

static apr_status_t read_name(const char **pname, apr_pool_t *p, const json_t *v, const char **perr)
{
    const char *name;

    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_string(v)) {
        return ce_instance_invalid(p, perr, "name must be a string");
    }
    name = ce_instance_sanitize(p, json_string_value(v));
    if (!*name) {
        return ce_instance_invalid(p, perr, "name must not be empty");
    }
    if (utf8_length(name) > CE_NAME_MAX) {
        return ce_instance_invalid(p, perr, "name must be at most %d characters", CE_NAME_MAX);
    }
    *pname = name;
    return APR_SUCCESS;
}

static int has_string(const json_t *array, const char *s)
{
    apr_size_t i;

    for (i = 0; i < json_array_size(array); i++) {
        if (strcmp(json_string_value(json_array_get(array, i)), s) == 0) {
            return 1;
        }
    }
    return 0;
}

/* tags: each stripped and trimmed; empties and duplicates (first kept) dropped. */
static apr_status_t read_tags(json_t **ptags, apr_pool_t *p, const json_t *v, const char **perr)
{
    json_t *tags;
    apr_size_t i;

    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_array(v)) {
        return ce_instance_invalid(p, perr, "tags must be an array of strings");
    }
    if (json_array_size(v) > CE_TAGS_MAX) {
        return ce_instance_invalid(p, perr, "tags must have at most %d entries", CE_TAGS_MAX);
    }
    tags = ce_json_array(p);
    for (i = 0; i < json_array_size(v); i++) {
        const json_t *t = json_array_get(v, i);
        const char *s;

        if (!json_is_string(t)) {
            return ce_instance_invalid(p, perr, "tags must be an array of strings");
        }
        s = ce_instance_sanitize(p, json_string_value(t));
        if (utf8_length(s) > CE_NAME_MAX) {
            return ce_instance_invalid(p, perr, "each tag must be at most %d characters",
                                       CE_NAME_MAX);
        }
        if (*s && !has_string(tags, s)) {
            json_array_append_new(tags, json_string(s));
        }
    }
    *ptags = tags;
    return APR_SUCCESS;
}

static apr_status_t read_configuration(const json_t **pcfg, apr_pool_t *p, const json_t *v,
                                       const char **perr)
{
    const char *key;
    json_t *value;

    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_object(v)) {
        return ce_instance_invalid(p, perr, "configuration must be an object");
    }
    json_object_foreach((json_t *)v, key, value)
    {
        if (!*key) {
            return ce_instance_invalid(p, perr, "configuration keys must not be empty");
        }
        if (utf8_length(key) > CE_CONFIG_KEY_MAX) {
            return ce_instance_invalid(p, perr, "configuration keys must be at most %d characters",
                                       CE_CONFIG_KEY_MAX);
        }
        if (!ce_instance_is_scalar(value)) {
            return ce_instance_invalid(
                p, perr, "configuration '%s' must be a string, number, boolean or null", key);
        }
    }
    *pcfg = v;
    return APR_SUCCESS;
}

/* A non-negative integer field (maxCacheSize, cacheTimeToLive). */
static apr_status_t read_count(opt_t *o, apr_pool_t *p, const json_t *body, const char *field,
                               const char **perr)
{
    const json_t *v = json_object_get(body, field);

    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > CE_COUNT_MAX) {
        return ce_instance_invalid(p, perr, "%s must be a non-negative integer", field);
    }
    o->given = 1;
    o->value = (long)json_integer_value(v);
    return APR_SUCCESS;
}

static apr_status_t read_flag(opt_t *o, apr_pool_t *p, const json_t *body, const char *field,
                              const char **perr)
{
    const json_t *v = json_object_get(body, field);

    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_boolean(v)) {
        return ce_instance_invalid(p, perr, "%s must be a boolean", field);
    }
    o->given = 1;
    o->value = json_is_true(v);
    return APR_SUCCESS;
}

/* Checks every rule of the body that does not depend on the stored instance. */
static apr_status_t read_body(changes_t *ch, apr_pool_t *p, const ce_catalog_t *cat,
                              const json_t *body, const ce_element_t *scope, const char **perr)
{
    const json_t *provider_data = json_object_get(body, "providerData");
    apr_status_t rv;

    memset(ch, 0, sizeof(*ch));
    if (!json_is_object(body)) {
        return ce_instance_invalid(p, perr, "The request body must be a JSON object");
    }
    if (provider_data && !json_is_object(provider_data)) {
        return ce_instance_invalid(p, perr, "providerData must be an object");
    }
    if ((rv = read_element(&ch->element, p, cat, json_object_get(body, "element"), scope, perr)) !=
            APR_SUCCESS ||
        (rv = read_name(&ch->name, p, json_object_get(body, "name"), perr)) != APR_SUCCESS ||
        (rv = read_tags(&ch->tags, p, json_object_get(body, "tags"), perr)) != APR_SUCCESS ||
        (rv = read_configuration(&ch->configuration, p, json_object_get(body, "configuration"),
                                 perr)) != APR_SUCCESS ||
        (rv = read_count(&ch->max_cache_size, p, body, "maxCacheSize", perr)) != APR_SUCCESS ||
        (rv = read_count(&ch->cache_time_to_live, p, body, "cacheTimeToLive", perr)) !=
            APR_SUCCESS ||
        (rv = read_flag(&ch->caching_enabled, p, body, "cachingEnabled", perr)) != APR_SUCCESS ||
        (rv = ce_instance_read_oauth(&ch->oauth, p, body, perr)) != APR_SUCCESS) {
        return rv;
    }
    return read_flag(&ch->trace_logging_enabled, p, body, "traceLoggingEnabled", perr);
}

/* ---- create and merge ---------------------------------------------------- */

static void apply_settings(ce_instance_t *inst, const changes_t *ch)
{
    if (ch->max_cache_size.given) {
        inst->max_cache_size = ch->max_cache_size.value;
    }
    if (ch->cache_time_to_live.given) {
        inst->cache_time_to_live = ch->cache_time_to_live.value;
    }
    if (ch->caching_enabled.given) {
        inst->caching_enabled = (int)ch->caching_enabled.value;
    }
    if (ch->trace_logging_enabled.given) {
        inst->trace_logging_enabled = (int)ch->trace_logging_enabled.value;
    }
}

apr_status_t ce_instance_create(ce_instance_t **pinst, apr_pool_t *p, const ce_catalog_t *cat,
                                const json_t *body, const ce_element_t *scope,
                                const ce_user_t *owner, const char **perr)
{
    ce_instance_t *inst = apr_pcalloc(p, sizeof(*inst));
    changes_t ch;
    apr_status_t rv;

    *pinst = NULL;
    if ((rv = read_body(&ch, p, cat, body, scope, perr)) != APR_SUCCESS) {
        return rv;
    }
    inst->element = ch.element ? ch.element : scope;
    if (!inst->element) {
        return ce_instance_invalid(p, perr, "element is required (give its key or id)");
    }
    if (!ch.name) {
        return ce_instance_invalid(p, perr, "name is required");
    }
    if ((rv = ce_instance_apply_oauth(inst, p, &ch.oauth, ch.configuration, NULL, perr)) !=
            APR_SUCCESS ||
        (rv = ce_instance_build_configuration(&inst->configuration, p, inst->element, NULL,
                                              ch.configuration, perr)) != APR_SUCCESS ||
        (rv = ce_instance_check_limits(p, ce_catalog_limits(cat), inst->configuration, perr)) !=
            APR_SUCCESS ||
        (rv = ce_instance_require_entries(p, inst->element, inst->configuration, perr)) !=
            APR_SUCCESS) {
        return rv;
    }
    if ((rv = ce_crypto_token(&inst->token, p, CE_TOKEN_BYTES)) != APR_SUCCESS) {
        *perr = "Cannot generate an instance token";
        return rv;
    }
    inst->element_id = inst->element->id;
    inst->user = owner;
    inst->organization_id = owner ? owner->organization_id : 0;
    inst->name = ch.name;
    inst->tags = ch.tags ? ch.tags : ce_json_array(p);
    apply_settings(inst, &ch);
    inst->created_date = inst->updated_date = ce_instance_now(p);
    *pinst = inst;
    return APR_SUCCESS;
}

apr_status_t ce_instance_merge(ce_instance_t *inst, apr_pool_t *p, const ce_catalog_t *cat,
                               const json_t *body, const ce_element_t *scope, const char **perr)
{
    ce_instance_t next = *inst;
    const json_t *kept = inst->configuration;
    changes_t ch;
    apr_status_t rv;

    if ((rv = read_body(&ch, p, cat, body, scope, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (ch.element && ch.element != inst->element) {
        next.element = ch.element;
        next.element_id = ch.element->id;
        /* Another element: what the old one configured (its credentials
         * among them) does not carry over; the new one's entries do. */
        kept = ce_instance_only_entries_of(p, ch.element, inst->configuration);
    }
    if ((rv = ce_instance_apply_oauth(&next, p, &ch.oauth, ch.configuration, kept, perr)) !=
            APR_SUCCESS ||
        (rv = ce_instance_build_configuration(&next.configuration, p, next.element, kept,
                                              ch.configuration, perr)) != APR_SUCCESS ||
        (rv = ce_instance_check_limits(p, ce_catalog_limits(cat), next.configuration, perr)) !=
            APR_SUCCESS ||
        (rv = ce_instance_require_entries(p, next.element, next.configuration, perr)) !=
            APR_SUCCESS) {
        return rv;
    }
    if (ch.name) {
        next.name = ch.name;
    }
    if (ch.tags) {
        next.tags = ch.tags;
    }
    apply_settings(&next, &ch);
    next.updated_date = ce_instance_now(p);
    *inst = next; /* commit: nothing above touched inst */
    return APR_SUCCESS;
}

/* ---- strings, dates, page tokens ---------------------------------------- */

static const char *trim(char *s)
{
    static const char space[] = " \t\r\n\f\v";
    char *end;

    s += strspn(s, space);
    end = s + strlen(s);
    while (end > s && strchr(space, end[-1])) {
        end--;
    }
    *end = '\0';
    return s;
}

const char *ce_instance_sanitize(apr_pool_t *p, const char *s)
{
    char *out, *o;
    int in_tag = 0;

    if (!s) {
        return "";
    }
    out = o = apr_palloc(p, strlen(s) + 1);
    for (; *s; s++) {
        if (in_tag) {
            in_tag = *s != '>';
        } else if (*s == '<') {
            in_tag = 1;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return trim(out);
}

const char *ce_instance_now(apr_pool_t *p)
{
    apr_time_exp_t t;

    apr_time_exp_gmt(&t, apr_time_now());
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1,
                        t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, t.tm_usec / 1000);
}
