/* ce_instance_json: every JSON shape the API answers about an instance —
 * the instance itself and its configuration entries — with secret values
 * masked (see ce_instance.h). */
#include <string.h>
#include <apr_strings.h>

#include "ce_instance.h"
#include "ce_json.h"
#include "ce_render.h"

/* A JSON string of s, or null when s is NULL or not UTF-8. */
static json_t *jstr(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;

    return j ? j : json_null();
}

/* Secret values that are set show as CE_MASK; unset ones (null, "") as they are. */
static json_t *shown_value(const ce_instance_t *inst, const char *key, const json_t *v)
{
    if (!ce_instance_value_blank(v) && ce_instance_secret_entry(inst, key)) {
        return json_string(CE_MASK);
    }
    return v ? json_deep_copy(v) : json_null();
}

static json_t *masked_configuration(const ce_instance_t *inst)
{
    json_t *out = json_object(), *v;
    const char *key;

    json_object_foreach(inst->configuration, key, v)
    {
        json_object_set_new(out, key, shown_value(inst, key, v));
    }
    return out;
}

static json_t *user_json(const ce_user_t *u)
{
    json_t *j;

    if (!u) {
        return json_null();
    }
    j = json_object();
    json_object_set_new(j, "id", json_integer(u->id));
    json_object_set_new(j, "emailAddress", jstr(u->email_address));
    json_object_set_new(j, "firstName", jstr(u->first_name ? u->first_name : ""));
    json_object_set_new(j, "lastName", jstr(u->last_name ? u->last_name : ""));
    return j;
}

static int events_enabled(const ce_instance_t *inst)
{
    const json_t *v = json_object_get(inst->configuration, "event.notification.enabled");

    return json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
}

static void set_element(json_t *j, const ce_instance_t *inst)
{
    json_t *stub;

    if (inst->element) {
        /* shared catalog object: referenced, never modified */
        json_object_set(j, "element", inst->element->json);
        return;
    }
    stub = json_object();
    json_object_set_new(stub, "id", json_integer(inst->element_id));
    json_object_set_new(j, "element", stub);
}

void ce_instance_json_dehydrate(json_t *j, const ce_instance_t *inst)
{
    json_t *brief = json_object();

    json_object_set_new(brief, "id", json_integer(inst->element_id));
    if (inst->element) {
        json_object_set_new(brief, "key", jstr(inst->element->key));
        json_object_set_new(brief, "name", jstr(inst->element->name));
    }
    json_object_set_new(j, "element", brief);
}

json_t *ce_instance_to_json(apr_pool_t *p, const ce_instance_t *inst)
{
    json_t *j = ce_json_object(p);

    json_object_set_new(j, "id", json_integer(inst->id));
    json_object_set_new(j, "name", jstr(inst->name));
    json_object_set_new(j, "token", jstr(inst->token));
    set_element(j, inst);
    json_object_set_new(j, "tags", inst->tags ? json_deep_copy(inst->tags) : json_array());
    json_object_set_new(j, "configuration", masked_configuration(inst));
    json_object_set_new(j, "provisionInteractions", json_array());
    json_object_set_new(j, "valid", json_boolean(ce_instance_valid(inst)));
    if (ce_instance_oauth_problem(inst)) {
        json_object_set_new(j, "invalidReason", jstr(ce_instance_oauth_problem(inst)));
    }
    json_object_set_new(
        j, "externalAuthentication",
        jstr(inst->external_authentication ? inst->external_authentication : "none"));
    json_object_set_new(j, "disabled", json_boolean(inst->disabled));
    json_object_set_new(j, "maxCacheSize", json_integer(inst->max_cache_size));
    json_object_set_new(j, "cacheTimeToLive", json_integer(inst->cache_time_to_live));
    json_object_set_new(j, "cachingEnabled", json_boolean(inst->caching_enabled));
    json_object_set_new(j, "eventsEnabled", json_boolean(events_enabled(inst)));
    json_object_set_new(j, "traceLoggingEnabled", json_boolean(inst->trace_logging_enabled));
    json_object_set_new(j, "user", user_json(inst->user));
    json_object_set_new(j, "createdDate", jstr(inst->created_date));
    json_object_set_new(j, "updatedDate", jstr(inst->updated_date));
    return j;
}

/* ---- configuration entries ---------------------------------------------- */

static json_t *entry_json(const ce_instance_t *inst, long config_id, const char *key,
                          const json_t *v)
{
    const ce_config_spec_t *spec = ce_catalog_config_spec(inst->element, key);
    json_t *j = json_object();

    json_object_set_new(j, "id", json_integer(config_id));
    json_object_set_new(j, "key", json_string(key));
    json_object_set_new(j, "name", json_string(spec ? spec->name : key));
    json_object_set_new(j, "description", json_string(spec ? spec->description : ""));
    json_object_set_new(j, "type", json_string(spec ? spec->type : "TEXTFIELD_1000"));
    json_object_set_new(j, "required", json_boolean(spec && spec->required));
    json_object_set_new(j, "defaultValue",
                        spec && spec->default_value ? json_deep_copy(spec->default_value)
                                                    : json_null());
    json_object_set_new(j, "propertyValue", shown_value(inst, key, v));
    return j;
}

json_t *ce_instance_config_list(apr_pool_t *p, const ce_instance_t *inst)
{
    json_t *list = ce_json_array(p), *v;
    const char *key;
    long config_id = 0;

    json_object_foreach(inst->configuration, key, v)
    {
        json_array_append_new(list, entry_json(inst, ++config_id, key, v));
    }
    return list;
}

json_t *ce_instance_config_entry(apr_pool_t *p, const ce_instance_t *inst, long config_id)
{
    const char *key = ce_instance_config_key(inst, config_id);

    if (!key) {
        return NULL;
    }
    return ce_json_bind(
        p, entry_json(inst, config_id, key, json_object_get(inst->configuration, key)));
}

const char *ce_instance_etag(apr_pool_t *p, const ce_instance_t *inst)
{
    return apr_psprintf(p, "\"%" APR_INT64_T_FMT "-%" APR_INT64_T_FMT "\"", inst->id,
                        inst->revision);
}

int ce_instance_etag_match(const char *if_match, const char *etag)
{
    const char *s = if_match;
    apr_size_t n, len = strlen(etag);

    while (s && *s) {
        s += strspn(s, " \t,");
        n = strcspn(s, ",");
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
            n--;
        }
        if ((n == 1 && *s == '*') || (n == len && strncmp(s, etag, len) == 0)) {
            return 1;
        }
        s += n;
        s += strcspn(s, ",");
    }
    return 0;
}

/* ---- the same shapes, written straight (ce_render) ----------------------
 *
 * Byte for byte what json_dumps makes of ce_instance_to_json's tree (and
 * of ce_instance_json_dehydrate's): that tree is the definition, this the
 * fast path, and CEInstancesRenderCheck compares the two on every answer
 * of the test suite. Keep them in the same order, field by field. */

static void render_user(ce_render_t *w, const ce_user_t *u)
{
    if (!u) {
        ce_render_lit(w, "null");
        return;
    }
    ce_render_lit(w, "{\"id\":");
    ce_render_int(w, u->id);
    ce_render_lit(w, ",\"emailAddress\":");
    ce_render_string(w, u->email_address);
    ce_render_lit(w, ",\"firstName\":");
    ce_render_string(w, u->first_name ? u->first_name : "");
    ce_render_lit(w, ",\"lastName\":");
    ce_render_string(w, u->last_name ? u->last_name : "");
    ce_render_lit(w, "}");
}

static void render_element(ce_render_t *w, const ce_instance_t *inst, unsigned flags)
{
    if (inst->element && !(flags & CE_INSTANCE_DEHYDRATED)) {
        ce_render_raw(w, inst->element->json_text, inst->element->json_len);
        return;
    }
    ce_render_lit(w, "{\"id\":");
    ce_render_int(w, inst->element_id);
    if (inst->element) {
        ce_render_lit(w, ",\"key\":");
        ce_render_string(w, inst->element->key);
        ce_render_lit(w, ",\"name\":");
        ce_render_string(w, inst->element->name);
    }
    ce_render_lit(w, "}");
}

static void render_configuration(ce_render_t *w, const ce_instance_t *inst)
{
    const char *key;
    json_t *v;
    int first = 1;

    ce_render_lit(w, "{");
    json_object_foreach(inst->configuration, key, v)
    {
        if (!first) {
            ce_render_lit(w, ",");
        }
        first = 0;
        ce_render_string(w, key);
        ce_render_lit(w, ":");
        if (!ce_instance_value_blank(v) && ce_instance_secret_entry(inst, key)) {
            ce_render_lit(w, "\"" CE_MASK "\"");
        } else {
            ce_render_json(w, v);
        }
    }
    ce_render_lit(w, "}");
}

/* "tags" through "traceLoggingEnabled": what ce_instance_view keeps. */
static void render_middle(ce_render_t *w, const ce_instance_t *inst)
{
    const char *problem = ce_instance_oauth_problem(inst);

    ce_render_lit(w, "\"tags\":");
    if (inst->tags) {
        ce_render_json(w, inst->tags);
    } else {
        ce_render_lit(w, "[]");
    }
    ce_render_lit(w, ",\"configuration\":");
    render_configuration(w, inst);
    ce_render_lit(w, ",\"provisionInteractions\":[],\"valid\":");
    ce_render_bool(w, ce_instance_valid(inst));
    if (problem) {
        ce_render_lit(w, ",\"invalidReason\":");
        ce_render_string(w, problem);
    }
    ce_render_lit(w, ",\"externalAuthentication\":");
    ce_render_string(w, inst->external_authentication ? inst->external_authentication : "none");
    ce_render_lit(w, ",\"disabled\":");
    ce_render_bool(w, inst->disabled);
    ce_render_lit(w, ",\"maxCacheSize\":");
    ce_render_int(w, inst->max_cache_size);
    ce_render_lit(w, ",\"cacheTimeToLive\":");
    ce_render_int(w, inst->cache_time_to_live);
    ce_render_lit(w, ",\"cachingEnabled\":");
    ce_render_bool(w, inst->caching_enabled);
    ce_render_lit(w, ",\"eventsEnabled\":");
    ce_render_bool(w, events_enabled(inst));
    ce_render_lit(w, ",\"traceLoggingEnabled\":");
    ce_render_bool(w, inst->trace_logging_enabled);
}

const char *ce_instance_view(apr_pool_t *p, const ce_instance_t *inst, apr_size_t *plen)
{
    ce_render_t w;

    ce_render_init(&w, p, 1024);
    render_middle(&w, inst);
    *plen = w.len;
    return ce_render_text(&w);
}

/* user: the owner's object already rendered (a list renders it once). */
static void render_instance(ce_render_t *w, const ce_instance_t *inst, unsigned flags,
                            const char *user, apr_size_t user_len)
{
    ce_render_lit(w, "{\"id\":");
    ce_render_int(w, inst->id);
    ce_render_lit(w, ",\"name\":");
    ce_render_string(w, inst->name);
    if (!(flags & CE_INSTANCE_NO_TOKEN)) {
        ce_render_lit(w, ",\"token\":");
        ce_render_string(w, inst->token);
    }
    ce_render_lit(w, ",\"element\":");
    render_element(w, inst, flags);
    ce_render_lit(w, ",");
    if (inst->view) {
        ce_render_raw(w, inst->view, inst->view_len);
    } else {
        render_middle(w, inst);
    }
    ce_render_lit(w, ",\"user\":");
    ce_render_raw(w, user, user_len);
    ce_render_lit(w, ",\"createdDate\":");
    ce_render_string(w, inst->created_date);
    ce_render_lit(w, ",\"updatedDate\":");
    ce_render_string(w, inst->updated_date);
    ce_render_lit(w, "}");
}

void ce_instance_render(ce_render_t *w, const ce_instance_t *inst, unsigned flags)
{
    ce_render_t user;

    ce_render_init(&user, w->p, 256);
    render_user(&user, inst->user);
    render_instance(w, inst, flags, user.data, user.len);
}

void ce_instance_render_list(ce_render_t *w, const apr_array_header_t *list, unsigned flags)
{
    ce_render_t user;
    const ce_user_t *rendered = NULL;
    int i;

    ce_render_init(&user, w->p, 256);
    ce_render_lit(w, "[");
    for (i = 0; i < list->nelts; i++) {
        const ce_instance_t *inst = APR_ARRAY_IDX(list, i, const ce_instance_t *);

        if (i == 0 || inst->user != rendered) {
            user.len = 0;
            render_user(&user, inst->user);
            rendered = inst->user;
        }
        if (i) {
            ce_render_lit(w, ",");
        }
        render_instance(w, inst, flags, user.data, user.len);
    }
    ce_render_lit(w, "]");
}

json_t *ce_instance_reference(apr_pool_t *p, const ce_instance_t *inst, unsigned flags)
{
    json_t *j = ce_instance_to_json(p, inst);

    if (flags & CE_INSTANCE_NO_TOKEN) {
        json_object_del(j, "token");
    }
    if (flags & CE_INSTANCE_DEHYDRATED) {
        ce_instance_json_dehydrate(j, inst);
    }
    return j;
}
