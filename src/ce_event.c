/* ce_event: which event a change is, and an event's JSON (see ce_event.h). */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ce_event.h"
#include "ce_instance.h"
#include "ce_json.h"
#include "ce_log.h"
#include "ce_render.h"

static const char *const NAMES[CE_EVENT_TYPES] = {
    [CE_EVENT_CREATED] = "CREATED",
    [CE_EVENT_UPDATED] = "UPDATED",
    [CE_EVENT_DELETED] = "DELETED",
    [CE_EVENT_DISABLED] = "DISABLED",
    [CE_EVENT_ENABLED] = "ENABLED",
    [CE_EVENT_REAUTHENTICATED] = "REAUTHENTICATED",
    [CE_EVENT_REFRESH_FAILED] = "REFRESH_FAILED",
    [CE_EVENT_REFRESH_RECOVERED] = "REFRESH_RECOVERED",
};

const char *ce_event_type_name(ce_event_type_t type)
{
    return type > CE_EVENT_NONE && type < CE_EVENT_TYPES ? NAMES[type] : NULL;
}

/* The server-kept token entries (oauth.user.*): a routine refresh
 * rewrites these only. */
static int token_entry(const char *key)
{
    return strncmp(key, "oauth.user.", 11) == 0;
}

/* Whether a and b hold the same entries, token entries aside. */
static int same_config_but_tokens(const json_t *a, const json_t *b)
{
    const char *key;
    json_t *v;
    size_t na = 0, nb = 0;

    json_object_foreach((json_t *)a, key, v)
    {
        if (token_entry(key)) {
            continue;
        }
        na++;
        if (!json_equal(v, json_object_get(b, key))) {
            return 0;
        }
    }
    json_object_foreach((json_t *)b, key, v)
    {
        nb += !token_entry(key);
    }
    return na == nb;
}

static int same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Whether only the token entries and their schedule changed. */
static int only_tokens_changed(const ce_instance_t *a, const ce_instance_t *b)
{
    return same_str(a->name, b->name) && a->element_id == b->element_id &&
           json_equal(a->tags, b->tags) && a->max_cache_size == b->max_cache_size &&
           a->cache_time_to_live == b->cache_time_to_live &&
           a->caching_enabled == b->caching_enabled &&
           a->trace_logging_enabled == b->trace_logging_enabled &&
           same_str(a->external_authentication, b->external_authentication) &&
           same_config_but_tokens(a->configuration, b->configuration) &&
           !json_equal(a->configuration, b->configuration);
}

ce_event_type_t ce_event_of_change(const ce_instance_t *before, const ce_instance_t *after)
{
    int refused_before, refused_after;

    if (!before) {
        return after ? CE_EVENT_CREATED : CE_EVENT_NONE;
    }
    if (!after) {
        return CE_EVENT_DELETED;
    }
    if (before->disabled != after->disabled) {
        return after->disabled ? CE_EVENT_DISABLED : CE_EVENT_ENABLED;
    }
    if (after->reauthenticated) {
        return CE_EVENT_REAUTHENTICATED;
    }
    refused_before = before->oauth_status && *before->oauth_status;
    refused_after = after->oauth_status && *after->oauth_status;
    if (after->oauth_failures > before->oauth_failures || (refused_after && !refused_before)) {
        return CE_EVENT_REFRESH_FAILED;
    }
    if ((before->oauth_failures > 0 && after->oauth_failures == 0) ||
        (refused_before && !refused_after)) {
        return CE_EVENT_REFRESH_RECOVERED;
    }
    return only_tokens_changed(before, after) ? CE_EVENT_NONE : CE_EVENT_UPDATED;
}

json_t *ce_event_json(apr_pool_t *p, const char *event_id, ce_event_type_t type, const char *date,
                      const ce_instance_t *inst)
{
    json_t *j = ce_json_object(p), *shown = ce_instance_to_json(p, inst);

    if (!j || !shown || !ce_event_type_name(type)) {
        return NULL;
    }
    json_object_del(shown, "token");
    /* the element as hydrate=false shows it (id, key, name): its whole
     * definition would be most of every event's bytes */
    ce_instance_json_dehydrate(shown, inst);
    json_object_set_new(j, "eventId", json_string(event_id));
    json_object_set_new(j, "instanceId", json_integer(inst->id));
    json_object_set_new(j, "elementKey", json_string(inst->element ? inst->element->key : ""));
    json_object_set_new(j, "eventType", json_string(ce_event_type_name(type)));
    json_object_set_new(j, "eventDate", json_string(date));
    json_object_set(j, "instance", shown);
    return j;
}

const char *ce_event_text(apr_pool_t *p, const char *event_id, ce_event_type_t type,
                          const char *date, const ce_instance_t *inst)
{
    ce_render_t w;
    const char *ref;

    if (!ce_event_type_name(type)) {
        return NULL;
    }
    ce_render_init(&w, p, 2048);
    ce_render_lit(&w, "{\"eventId\":");
    ce_render_string(&w, event_id);
    ce_render_lit(&w, ",\"instanceId\":");
    ce_render_int(&w, inst->id);
    ce_render_lit(&w, ",\"elementKey\":");
    ce_render_string(&w, inst->element ? inst->element->key : "");
    ce_render_lit(&w, ",\"eventType\":");
    ce_render_string(&w, ce_event_type_name(type));
    ce_render_lit(&w, ",\"eventDate\":");
    ce_render_string(&w, date);
    ce_render_lit(&w, ",\"instance\":");
    ce_instance_render(&w, inst, CE_INSTANCE_DEHYDRATED | CE_INSTANCE_NO_TOKEN);
    ce_render_lit(&w, "}");
    if (ce_render_checking) {
        ref = ce_json_dump(p, ce_event_json(p, event_id, type, date, inst));
        if (!ref || strcmp(ref, ce_render_text(&w)) != 0) {
            ce_log(CE_LOG_MARK, CE_LOG_ERR, 0,
                   "CE00059: the rendered event of instance %" APR_INT64_T_FMT
                   " differs from its reference (%" APR_SIZE_T_FMT " and %" APR_SIZE_T_FMT
                   " bytes)",
                   inst->id, w.len, ref ? strlen(ref) : 0);
            return NULL;
        }
    }
    return ce_render_text(&w);
}

/* s past the JSON string that begins there, or NULL. */
static const char *past_string(const char *s, const char *end)
{
    if (!s || s >= end || *s != '"') {
        return NULL;
    }
    for (s++; s < end; s++) {
        if (*s == '\\') {
            s++;
        } else if (*s == '"') {
            return s + 1;
        }
    }
    return NULL;
}

/* s past lit, or NULL when lit is not there. */
static const char *past_lit(const char *s, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    return s && (size_t)(end - s) >= n && memcmp(s, lit, n) == 0 ? s + n : NULL;
}

/* s past the integer that begins there, or NULL. */
static const char *past_int(const char *s, const char *end)
{
    const char *d = s && s < end && *s == '-' ? s + 1 : s;
    const char *from = d;

    while (d && d < end && apr_isdigit(*d)) {
        d++;
    }
    return d && d > from ? d : NULL;
}

const char *ce_event_fill_id(apr_pool_t *p, const char *text, apr_size_t len, apr_int64_t id,
                             apr_size_t *plen)
{
    const char *end = text + len, *a, *a_end, *b, *b_end, *s;
    char num[24];
    apr_size_t n;

    /* {"eventId":S,"instanceId":N,"elementKey":S,"eventType":S,"eventDate":S,"instance":{"id":N */
    s = past_string(past_lit(text, end, "{\"eventId\":"), end);
    a_end = past_int(a = past_lit(s, end, ",\"instanceId\":"), end);
    s = past_string(past_lit(a_end, end, ",\"elementKey\":"), end);
    s = past_string(past_lit(s, end, ",\"eventType\":"), end);
    s = past_string(past_lit(s, end, ",\"eventDate\":"), end);
    b_end = past_int(b = past_lit(s, end, ",\"instance\":{\"id\":"), end);
    *plen = len;
    n = (apr_size_t)apr_snprintf(num, sizeof(num), "%" APR_INT64_T_FMT, id);
    if (!b_end || ((apr_size_t)(a_end - a) == n && memcmp(a, num, n) == 0 &&
                   (apr_size_t)(b_end - b) == n && memcmp(b, num, n) == 0)) {
        return text;
    }
    *plen = (apr_size_t)(a - text) + n + (apr_size_t)(b - a_end) + n + (apr_size_t)(end - b_end);
    return apr_pstrcat(p, apr_pstrmemdup(p, text, (apr_size_t)(a - text)), num,
                       apr_pstrmemdup(p, a_end, (apr_size_t)(b - a_end)), num,
                       apr_pstrmemdup(p, b_end, (apr_size_t)(end - b_end)), NULL);
}

int ce_event_wanted(const ce_instance_t *inst, const char **purl)
{
    const json_t *on = json_object_get(inst->configuration, CE_EVENT_ENABLED_KEY);
    const char *url =
        json_string_value(json_object_get(inst->configuration, CE_EVENT_CALLBACK_KEY));

    *purl = NULL;
    if (!(json_is_true(on) || (json_is_string(on) && strcmp(json_string_value(on), "true") == 0)) ||
        !url || !*url) {
        return 0;
    }
    *purl = url;
    return 1;
}

json_t *ce_event_view(apr_pool_t *p, const ce_event_row_t *ev)
{
    json_t *j = ce_json_bind(p, json_deep_copy(ev->body));

    if (!j) {
        return NULL;
    }
    json_object_set_new(j, "status", json_string(ev->status));
    json_object_set_new(j, "attempts", json_integer(ev->attempts));
    json_object_set_new(j, "lastError", json_string(ev->last_error ? ev->last_error : ""));
    return j;
}

const char *ce_event_signature(apr_pool_t *p, const char *key, const char *body, apr_size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char *out;

    if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body, len, mac, &n)) {
        return NULL;
    }
    out = apr_palloc(p, 7 + 4 * ((n + 2) / 3) + 1);
    memcpy(out, "sha256=", 7);
    EVP_EncodeBlock((unsigned char *)out + 7, mac, (int)n);
    return out;
}

apr_interval_time_t ce_event_backoff(int attempts, apr_interval_time_t base, double jitter)
{
    const apr_interval_time_t day = apr_time_from_sec(24 * 3600);
    apr_interval_time_t wait = base > 0 ? base : apr_time_from_sec(1);
    int i;

    for (i = 1; i < attempts && wait < day; i++) {
        wait *= 3;
    }
    wait = wait < day ? wait : day;
    jitter = jitter < 0 ? 0 : jitter >= 1 ? 0.999 : jitter;
    return wait + (apr_interval_time_t)((double)wait * 0.4 * (jitter - 0.5));
}
