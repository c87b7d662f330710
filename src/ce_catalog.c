/* ce_catalog: loads and validates the element catalog (conf/elements.json)
 * and answers lookups by key and id.
 *
 * Every element's response objects (json, detail) are built once here, so
 * request handlers only take references to them. The catalog is read-only
 * after ce_catalog_parse() returns. */
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "ce_catalog.h"
#include "ce_crypto.h"
#include "ce_json.h"
#include "ce_num.h"

/* Largest catalog file ce_catalog_load() reads. */
#define CATALOG_MAX_BYTES (16 * 1024 * 1024)

struct ce_catalog_t {
    apr_array_header_t *elements; /* const ce_element_t * */
    apr_hash_t *by_key;           /* key -> ce_element_t * */
    apr_hash_t *by_id;            /* long id -> ce_element_t * */
    ce_config_limits_t limits;
};

/* Optional element fields, in the order they appear in the element JSON
 * (after id, name, key). dflt is the value of an absent boolean. */
enum { F_STRING, F_BOOLEAN };
static const struct {
    const char *name;
    int kind;
    int dflt;
} element_fields[] = {
    {"description", F_STRING, 0},
    {"image", F_STRING, 0},
    {"active", F_BOOLEAN, 1},
    {"deleted", F_BOOLEAN, 0},
    {"typeOauth", F_BOOLEAN, 0},
    {"trialAccount", F_BOOLEAN, 0},
    {"existingAccountDescription", F_STRING, 0},
    {"configDescription", F_STRING, 0},
    {"signupURL", F_STRING, 0},
    {"transformationsEnabled", F_BOOLEAN, 0},
    {"hub", F_STRING, 0},
    {"elementProvisionType", F_STRING, 0},
};
#define N_ELEMENT_FIELDS (sizeof(element_fields) / sizeof(element_fields[0]))

static const char *const config_fields[] = {
    "key", "name", "type", "required", "defaultValue", "description", "secret", NULL,
};

static const char *const config_types[] = {
    "TEXTFIELD_32", "TEXTFIELD_64", "TEXTFIELD_128", "TEXTFIELD_1000", "TEXTAREA",
    "PASSWORD",     "BOOLEAN",      "NUMBER",        "SELECTION",      NULL,
};

/* Where in the file a validation is looking, for error messages. */
typedef struct {
    apr_pool_t *p;
    const char **perr;
    const char *where; /* "elements[3] ('jira')" or "..., configuration[1] ('x')" */
} ctx_t;

static apr_status_t fail(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static apr_status_t fail(ctx_t *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    *c->perr = apr_pstrcat(c->p, c->where, ": ", apr_pvsprintf(c->p, fmt, ap), NULL);
    va_end(ap);
    return APR_EINVAL;
}

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++) {
        if (strcmp(*list, s) == 0) {
            return 1;
        }
    }
    return 0;
}

static int is_element_field(const char *name)
{
    apr_size_t i;

    if (!strcmp(name, "id") || !strcmp(name, "key") || !strcmp(name, "name") ||
        !strcmp(name, "configuration") || !strcmp(name, "api")) {
        return 1;
    }
    for (i = 0; i < N_ELEMENT_FIELDS; i++) {
        if (strcmp(element_fields[i].name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* "elements[i]" plus the key when it is a string, so messages name it. */
static const char *element_where(apr_pool_t *p, const json_t *obj, apr_size_t i)
{
    const json_t *key = json_is_object(obj) ? json_object_get(obj, "key") : NULL;

    if (json_is_string(key)) {
        return apr_psprintf(p, "elements[%" APR_SIZE_T_FMT "] ('%s')", i, json_string_value(key));
    }
    return apr_psprintf(p, "elements[%" APR_SIZE_T_FMT "]", i);
}

/* Optional string field: absent → dflt, present → must be a string. */
static apr_status_t opt_string(const char **pv, ctx_t *c, const json_t *obj, const char *field,
                               const char *dflt)
{
    const json_t *v = json_object_get(obj, field);

    if (!v) {
        *pv = dflt;
        return APR_SUCCESS;
    }
    if (!json_is_string(v)) {
        return fail(c, "field '%s' must be a string", field);
    }
    *pv = json_string_value(v);
    return APR_SUCCESS;
}

/* Optional boolean field: absent → dflt, present → must be true/false. */
static apr_status_t opt_boolean(int *pv, ctx_t *c, const json_t *obj, const char *field, int dflt)
{
    const json_t *v = json_object_get(obj, field);

    if (!v) {
        *pv = dflt;
        return APR_SUCCESS;
    }
    if (!json_is_boolean(v)) {
        return fail(c, "field '%s' must be true or false", field);
    }
    *pv = json_is_true(v);
    return APR_SUCCESS;
}

static apr_status_t check_known_fields(ctx_t *c, const json_t *obj, int is_config)
{
    const char *name;
    json_t *v;

    json_object_foreach((json_t *)obj, name, v)
    {
        if (is_config ? !in_list(config_fields, name) : !is_element_field(name)) {
            return fail(c, "unknown field '%s'", name);
        }
    }
    return APR_SUCCESS;
}

static int is_key_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

/* id, key and name: the three required element fields. */
static apr_status_t read_identity(ce_element_t *e, ctx_t *c, const json_t *obj)
{
    const json_t *id = json_object_get(obj, "id");
    const json_t *key = json_object_get(obj, "key");
    const json_t *name = json_object_get(obj, "name");
    const char *s;

    if (!json_is_integer(id) || json_integer_value(id) <= 0 || json_integer_value(id) > LONG_MAX) {
        return fail(c, "field 'id' is required and must be a positive integer");
    }
    if (!json_is_string(key) || json_string_length(key) == 0) {
        return fail(c, "field 'key' is required and must be a non-empty string");
    }
    for (s = json_string_value(key); *s && is_key_char(*s); s++) {
    }
    if (*s) {
        return fail(c, "field 'key' may contain only letters, digits, '_', '.' and '-'");
    }
    /* ce_catalog_find() reads a string of digits as an id. */
    if (strspn(json_string_value(key), "0123456789") == json_string_length(key)) {
        return fail(c, "field 'key' must not be all digits (it would read as an id)");
    }
    if (!json_is_string(name) || json_string_length(name) == 0) {
        return fail(c, "field 'name' is required and must be a non-empty string");
    }
    e->id = (long)json_integer_value(id);
    e->key = json_string_value(key);
    e->name = json_string_value(name);
    return APR_SUCCESS;
}

/* The element object as embedded in instance responses. */
static apr_status_t build_element_json(ce_element_t *e, ctx_t *c, const json_t *obj)
{
    json_t *j = ce_json_object(c->p);
    apr_size_t i;
    apr_status_t rv;

    json_object_set_new(j, "id", json_integer(e->id));
    json_object_set_new(j, "name", json_string(e->name));
    json_object_set_new(j, "key", json_string(e->key));
    for (i = 0; i < N_ELEMENT_FIELDS; i++) {
        const char *name = element_fields[i].name, *s = "";
        int b = 0;

        if (element_fields[i].kind == F_STRING) {
            rv = opt_string(&s, c, obj, name, "");
            json_object_set_new(j, name, json_string(s));
        } else {
            rv = opt_boolean(&b, c, obj, name, element_fields[i].dflt);
            json_object_set_new(j, name, json_boolean(b));
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    e->json = j;
    /* every instance answer embeds it: serialized once, here */
    if (!(e->json_text = ce_json_dump(c->p, j))) {
        return fail(c, "out of memory");
    }
    e->json_len = strlen(e->json_text);
    return APR_SUCCESS;
}

static apr_status_t read_config_type(ce_config_spec_t *spec, ctx_t *c, const json_t *obj)
{
    const json_t *type = json_object_get(obj, "type");

    if (!json_is_string(type) || !in_list(config_types, json_string_value(type))) {
        return fail(c, "field 'type' is required and must be one of " CE_CONFIG_TYPES);
    }
    spec->type = json_string_value(type);
    return APR_SUCCESS;
}

static apr_status_t read_config_default(ce_config_spec_t *spec, ctx_t *c, const json_t *obj)
{
    json_t *v = json_object_get(obj, "defaultValue");

    if (v && (json_is_object(v) || json_is_array(v))) {
        return fail(c, "field 'defaultValue' must be a string, number, boolean or null");
    }
    spec->default_value = v; /* lives as long as the parsed file, i.e. the pool */
    return APR_SUCCESS;
}

/* One configuration entry; e->config already holds the entries before it. */
static apr_status_t read_config_entry(ce_config_spec_t *spec, ctx_t *c, const ce_element_t *e,
                                      const json_t *obj)
{
    const json_t *key = json_object_get(obj, "key");
    apr_status_t rv;
    int secret = 0;

    if (!json_is_object(obj)) {
        return fail(c, "must be an object");
    }
    if ((rv = check_known_fields(c, obj, 1)) != APR_SUCCESS) {
        return rv;
    }
    if (!json_is_string(key) || json_string_length(key) == 0) {
        return fail(c, "field 'key' is required and must be a non-empty string");
    }
    spec->key = json_string_value(key);
    if (ce_catalog_config_spec(e, spec->key)) {
        return fail(c, "duplicate configuration key '%s'", spec->key);
    }
    if ((rv = opt_string(&spec->name, c, obj, "name", spec->key)) != APR_SUCCESS ||
        (rv = read_config_type(spec, c, obj)) != APR_SUCCESS ||
        (rv = opt_boolean(&spec->required, c, obj, "required", 0)) != APR_SUCCESS ||
        (rv = read_config_default(spec, c, obj)) != APR_SUCCESS ||
        (rv = opt_string(&spec->description, c, obj, "description", "")) != APR_SUCCESS ||
        (rv = opt_boolean(&secret, c, obj, "secret", 0)) != APR_SUCCESS) {
        return rv;
    }
    if (*spec->name == '\0') {
        return fail(c, "field 'name' must not be empty");
    }
    spec->provider = ce_catalog_provider_key(spec->key);
    spec->secret =
        secret || strcmp(spec->type, "PASSWORD") == 0 ||
        (json_is_true(json_object_get(e->json, "typeOauth")) &&
         (strcmp(spec->key, "oauth.api.key") == 0 || strcmp(spec->key, "oauth.api.secret") == 0));
    return APR_SUCCESS;
}

/* The entry as served by GET /elements/{key}. */
static json_t *config_spec_json(const ce_config_spec_t *spec)
{
    json_t *j = json_object();

    json_object_set_new(j, "key", json_string(spec->key));
    json_object_set_new(j, "name", json_string(spec->name));
    json_object_set_new(j, "type", json_string(spec->type));
    json_object_set_new(j, "required", json_boolean(spec->required));
    json_object_set_new(j, "defaultValue",
                        spec->default_value ? json_deep_copy(spec->default_value) : json_null());
    json_object_set_new(j, "description", json_string(spec->description));
    return j;
}

/* e->tag: a digest of what an instance's answer takes from e. */
static apr_status_t element_tag(ce_element_t *e, ctx_t *c)
{
    const char *text = ce_json_dump(c->p, e->detail);
    int i;

    for (i = 0; text && i < e->config->nelts; i++) {
        const ce_config_spec_t *spec = &APR_ARRAY_IDX(e->config, i, ce_config_spec_t);

        text = apr_psprintf(c->p, "%s|%s=%d", text, spec->key, spec->secret);
    }
    if (!text) {
        return fail(c, "out of memory");
    }
    e->tag = apr_pstrndup(c->p, ce_crypto_digest(c->p, text), 16);
    return APR_SUCCESS;
}

/* Fills e->config from obj's "configuration" and builds e->detail. */
static apr_status_t read_configuration(ce_element_t *e, ctx_t *c, const json_t *obj)
{
    const json_t *list = json_object_get(obj, "configuration");
    json_t *detail_list = json_array();
    apr_size_t i;
    apr_status_t rv;

    e->detail = ce_json_bind(c->p, json_copy(e->json));
    json_object_set_new(e->detail, "configuration", detail_list);
    if (list && !json_is_array(list)) {
        return fail(c, "field 'configuration' must be an array");
    }
    e->config = apr_array_make(c->p, (int)json_array_size(list), sizeof(ce_config_spec_t));
    for (i = 0; i < json_array_size(list); i++) {
        ce_config_spec_t spec = {0};
        ctx_t sub = *c;
        const json_t *entry = json_array_get(list, i);
        const json_t *key = json_is_object(entry) ? json_object_get(entry, "key") : NULL;

        sub.where = json_is_string(key)
                        ? apr_psprintf(c->p, "%s, configuration[%" APR_SIZE_T_FMT "] ('%s')",
                                       c->where, i, json_string_value(key))
                        : apr_psprintf(c->p, "%s, configuration[%" APR_SIZE_T_FMT "]", c->where, i);
        if ((rv = read_config_entry(&spec, &sub, e, entry)) != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(e->config, ce_config_spec_t) = spec;
        json_array_append_new(detail_list, config_spec_json(&spec));
    }
    return element_tag(e, c);
}

static apr_status_t add_element(ce_catalog_t *cat, ctx_t *c, ce_element_t *e)
{
    const ce_element_t *other;

    if ((other = apr_hash_get(cat->by_id, &e->id, sizeof(e->id)))) {
        return fail(c, "duplicate id %ld (also used by '%s')", e->id, other->key);
    }
    if ((other = apr_hash_get(cat->by_key, e->key, APR_HASH_KEY_STRING))) {
        return fail(c, "duplicate key '%s' (also used by id %ld)", e->key, other->id);
    }
    apr_hash_set(cat->by_id, &e->id, sizeof(e->id), e);
    apr_hash_set(cat->by_key, e->key, APR_HASH_KEY_STRING, e);
    APR_ARRAY_PUSH(cat->elements, const ce_element_t *) = e;
    return APR_SUCCESS;
}

static int has_entry(const void *e, const char *key)
{
    return ce_catalog_config_spec(e, key) != NULL;
}

/* The provider API the gateway calls (optional). */
static apr_status_t read_api(ce_element_t *e, ctx_t *c, const json_t *obj)
{
    const json_t *api = json_object_get(obj, "api");
    const char *err = NULL;

    if (api && ce_gateway_read_api(&e->api, c->p, api, has_entry, e, &err) != APR_SUCCESS) {
        return fail(c, "%s", err);
    }
    return APR_SUCCESS;
}

static apr_status_t read_element(ce_catalog_t *cat, apr_pool_t *p, const json_t *obj, apr_size_t i,
                                 const char **perr)
{
    ctx_t c = {p, perr, element_where(p, obj, i)};
    ce_element_t *e = apr_pcalloc(p, sizeof(*e));
    apr_status_t rv;

    if (!json_is_object(obj)) {
        return fail(&c, "must be an object");
    }
    if ((rv = check_known_fields(&c, obj, 0)) != APR_SUCCESS ||
        (rv = read_identity(e, &c, obj)) != APR_SUCCESS ||
        (rv = build_element_json(e, &c, obj)) != APR_SUCCESS ||
        (rv = read_configuration(e, &c, obj)) != APR_SUCCESS ||
        (rv = ce_catalog_read_oauth(e, p, c.where, perr)) != APR_SUCCESS ||
        (rv = read_api(e, &c, obj)) != APR_SUCCESS) {
        return rv;
    }
    return add_element(cat, &c, e);
}

static apr_status_t read_root(const json_t **plist, apr_pool_t *p, const json_t *root,
                              const char **perr)
{
    ctx_t c = {p, perr, "element catalog"};
    const char *name;
    json_t *v;

    if (!json_is_object(root)) {
        return fail(&c, "must be a JSON object {\"elements\": [...]}");
    }
    json_object_foreach((json_t *)root, name, v)
    {
        if (strcmp(name, "elements") != 0) {
            return fail(&c, "unknown field '%s'", name);
        }
    }
    *plist = json_object_get(root, "elements");
    if (!json_is_array(*plist)) {
        return fail(&c, "field 'elements' is required and must be an array");
    }
    return APR_SUCCESS;
}

apr_status_t ce_catalog_parse(ce_catalog_t **pcat, apr_pool_t *p, const char *text, apr_size_t len,
                              const char **perr)
{
    ce_catalog_t *cat;
    json_t *root;
    const json_t *list = NULL;
    apr_size_t i;
    apr_status_t rv;

    *pcat = NULL;
    if ((rv = ce_json_parse(&root, p, text, len, perr)) != APR_SUCCESS ||
        (rv = read_root(&list, p, root, perr)) != APR_SUCCESS) {
        return rv;
    }
    cat = apr_pcalloc(p, sizeof(*cat));
    cat->elements = apr_array_make(p, (int)json_array_size(list), sizeof(const ce_element_t *));
    cat->by_key = apr_hash_make(p);
    cat->by_id = apr_hash_make(p);
    cat->limits.entries = CE_CONFIG_ENTRIES_DEFAULT;
    cat->limits.value_bytes = CE_CONFIG_VALUE_BYTES_DEFAULT;
    cat->limits.total_bytes = CE_CONFIG_TOTAL_BYTES_DEFAULT;
    for (i = 0; i < json_array_size(list); i++) {
        if ((rv = read_element(cat, p, json_array_get(list, i), i, perr)) != APR_SUCCESS) {
            return rv;
        }
    }
    *pcat = cat;
    return APR_SUCCESS;
}

apr_status_t ce_catalog_load(ce_catalog_t **pcat, apr_pool_t *p, const char *path,
                             const char **perr)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t got = 0;
    char *buf = NULL, msg[120];
    apr_status_t rv;

    *pcat = NULL;
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_OS_DEFAULT, p)) == APR_SUCCESS) {
        if ((rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) == APR_SUCCESS) {
            rv = fi.size > CATALOG_MAX_BYTES ? APR_ENOSPC : APR_SUCCESS;
        }
        if (rv == APR_SUCCESS) {
            buf = apr_palloc(p, (apr_size_t)fi.size + 1);
            rv = fi.size ? apr_file_read_full(f, buf, (apr_size_t)fi.size, &got) : APR_SUCCESS;
        }
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "Cannot read element catalog %s: %s", path,
                             apr_strerror(rv, msg, sizeof(msg)));
        return rv;
    }
    if ((rv = ce_catalog_parse(pcat, p, buf, got, perr)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "%s: %s", path, *perr);
    }
    return rv;
}

const ce_element_t *ce_catalog_by_key(const ce_catalog_t *cat, const char *key)
{
    return key ? apr_hash_get(cat->by_key, key, APR_HASH_KEY_STRING) : NULL;
}

const ce_element_t *ce_catalog_by_id(const ce_catalog_t *cat, long id)
{
    return apr_hash_get(cat->by_id, &id, sizeof(id));
}

const ce_element_t *ce_catalog_find(const ce_catalog_t *cat, const char *key_or_id)
{
    apr_int64_t id;

    /* An id is a positive number that fits a long; anything else ("0",
     * "016", too large) can only be a key, and keys are never all digits. */
    if (ce_num_parse(&id, key_or_id, 1, LONG_MAX) != APR_SUCCESS) {
        return ce_catalog_by_key(cat, key_or_id);
    }
    return ce_catalog_by_id(cat, (long)id);
}

const apr_array_header_t *ce_catalog_elements(const ce_catalog_t *cat)
{
    return cat->elements;
}

const ce_config_spec_t *ce_catalog_config_spec(const ce_element_t *e, const char *key)
{
    int i;

    for (i = 0; e && e->config && i < e->config->nelts; i++) {
        const ce_config_spec_t *spec = &APR_ARRAY_IDX(e->config, i, ce_config_spec_t);

        if (strcmp(spec->key, key) == 0) {
            return spec;
        }
    }
    return NULL;
}

const ce_config_limits_t *ce_catalog_limits(const ce_catalog_t *cat)
{
    return &cat->limits;
}

void ce_catalog_set_limits(ce_catalog_t *cat, const ce_config_limits_t *limits)
{
    cat->limits = *limits;
}
