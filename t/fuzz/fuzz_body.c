/* fuzz_body: libFuzzer target of the request-body path of the core.
 *
 * The input is a request body, as ce_request_body() (src/mod_ce_request.c)
 * hands it on: len bytes, not NUL-terminated. It goes through the calls the
 * handlers of src/mod_ce_instances.c make, in their order, minus httpd and
 * the database:
 *   ce_json_parse, then "a JSON object" (ce_request_body);
 *   POST /instances and /elements/{e}/instances: ce_instance_create,
 *     unscoped and scoped, then ce_instance_to_json (reply_instance);
 *   PUT/PATCH /instances/{id} (unscoped and scoped): ce_instance_merge into
 *     each of a few stored, valid instances, then ce_instance_to_json;
 *   PATCH /instances/{id}/configuration/{n}: ce_instance_config_set, then
 *     ce_instance_config_entry, and ce_instance_config_list;
 *   any failure: the error body ce_request_fail_status() builds;
 * and every body through ce_json_dump, as ce_request_reply() sends it, and
 * every instance answered through ce_instance_render (the fast path).
 * One pool per input, destroyed at the end (see fuzz.h).
 *
 * Besides sanitizer reports it stops (FUZZ_CHECK) on a broken contract:
 *   - core calls return only what the glue maps to 200/400/404, and set a
 *     message with APR_EINVAL;
 *   - a failed merge or config_set leaves the instance unchanged, and no
 *     merge touches the stored instance's configuration;
 *   - a successful create or merge yields a valid instance (required entries
 *     set), a sanitized name and tags;
 *   - a set secret value is answered as ******** only; one sent back as
 *     ******** keeps the stored value;
 *   - every answer (also an error's) is JSON that parses back equal;
 *   - ce_instance_render (also from ce_instance_view) writes the bytes
 *     ce_json_dump makes of the reference tree, in every form.
 */
#include <stdint.h>
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "ce_catalog.h"
#include "ce_crypto.h"
#include "ce_instance.h"
#include "ce_json.h"
#include "ce_render.h"
#include "fuzz.h"

static const ce_catalog_t *cat;
static const ce_user_t owner = {7, 3, "ann@example.com", "Ann", "Lee"};

/* Stored instances the PUT/PATCH paths merge into, and their configuration
 * as dumped at start (no merge may change it). */
#define N_STORED 5
static ce_instance_t *stored[N_STORED];
static const char *stored_cfg[N_STORED];

static const char *const stored_bodies[] = {
    "{\"element\":{\"key\":\"jira\"},\"name\":\"Acme JIRA\",\"tags\":[\"support\"],"
    "\"configuration\":{\"jira.username\":\"ada\",\"jira.password\":\"s3cret\","
    "\"jira.api.url\":\"https://acme.atlassian.net\"}}",
    "{\"element\":{\"id\":16},\"name\":\"S3\",\"tags\":[\"a\",\"b\"],\"maxCacheSize\":5,"
    "\"configuration\":{\"document.tagging\":true,\"filemanagement.provider.access_key\":\"AKIA\","
    "\"filemanagement.provider.secret_key\":\"sk\",\"filemanagement.provider.bucket_name\":\"b\","
    "\"extra.key\":42}}",
    "{\"element\":{\"key\":\"epages\"},\"name\":\"Shop\",\"configuration\":{"
    "\"epages.access.token\":\"tok\",\"base.url\":\"https://shop.example\","
    "\"event.notification.enabled\":\"true\",\"pagination.max\":\"50\"}}",
    "{\"element\":{\"key\":\"dropbox\"},\"name\":\"Box of "
    "drops\",\"providerData\":{\"code\":\"x\"},"
    "\"configuration\":{\"oauth.callback.url\":\"https://cb.example\",\"oauth.api.key\":\"k\","
    "\"oauth.api.secret\":\"s\",\"document.tagging\":false}}",
};

static apr_status_t parse_text(json_t **pj, apr_pool_t *p, const char *text)
{
    const char *err = NULL;

    return ce_json_parse(pj, p, text, strlen(text), &err);
}

static int is_blank(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/* The fast path writes what the reference tree serializes to, byte for
 * byte, in every form (reply_instance, a list's hydrate=false, an event),
 * and from the view a write would store (ce_instance_view). */
static void check_rendered(apr_pool_t *p, const ce_instance_t *answered, const char *what)
{
    ce_instance_t copy = *answered, *inst = &copy;
    static const unsigned forms[] = {0, CE_INSTANCE_DEHYDRATED, CE_INSTANCE_NO_TOKEN,
                                     CE_INSTANCE_DEHYDRATED | CE_INSTANCE_NO_TOKEN};
    size_t i;

    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        const char *ref = ce_json_dump(p, ce_instance_reference(p, inst, forms[i]));
        ce_render_t w;

        ce_render_init(&w, p, 64);
        ce_instance_render(&w, inst, forms[i]);
        FUZZ_CHECK(ref && strcmp(ce_render_text(&w), ref) == 0, "%s: rendered (form %zu) differs",
                   what, i);
        inst->view = ce_instance_view(p, inst, &inst->view_len);
        ce_render_init(&w, p, 64);
        ce_instance_render(&w, inst, forms[i]);
        inst->view = NULL;
        FUZZ_CHECK(strcmp(ce_render_text(&w), ref) == 0, "%s: rendered from the view (form %zu)",
                   what, i);
    }
}

/* What ce_request_reply() does with a body, plus: it parses back, equal. */
static void send_json(apr_pool_t *p, const json_t *j, const char *what)
{
    const char *text, *err = NULL;
    json_t *back = NULL;

    FUZZ_CHECK(j != NULL, "%s: no body", what);
    text = ce_json_dump(p, j);
    FUZZ_CHECK(text != NULL, "%s: ce_json_dump failed", what);
    FUZZ_CHECK(ce_json_parse(&back, p, text, strlen(text), &err) == APR_SUCCESS,
               "%s: the answer does not parse back: %s", what, err);
    FUZZ_CHECK(json_equal(back, j), "%s: the answer parses back different", what);
}

/* The error body of ce_request_fail_status() for a core failure. */
static void send_error(apr_pool_t *p, apr_status_t rv, const char *err, const char *what)
{
    json_t *j;

    FUZZ_CHECK(rv == APR_EINVAL || rv == APR_NOTFOUND, "%s: status %d (would be a 500)", what, rv);
    FUZZ_CHECK(err != NULL, "%s: failed without a message", what);
    j = ce_json_bind(p,
                     json_pack("{s:s, s:s}", "requestId", ce_crypto_request_id(p), "message", err));
    /* NULL here means the client would get a 400 without its JSON body. */
    FUZZ_CHECK(j != NULL, "%s: the error message is not UTF-8: \"%s\"", what, err);
    send_json(p, j, what);
}

/* A secret entry that has a value is answered as CE_MASK, nothing else. */
static void check_masked(const ce_instance_t *inst, const char *key, const json_t *stored_v,
                         const json_t *shown)
{
    if (!is_blank(stored_v) && ce_instance_secret_entry(inst, key)) {
        FUZZ_CHECK(json_is_string(shown) && strcmp(json_string_value(shown), CE_MASK) == 0,
                   "secret entry '%s' answered unmasked", key);
    }
}

/* Sanitized: no '<', no surrounding ASCII space, not empty, <= 255 chars. */
static void check_label(const char *s, const char *what)
{
    size_t n = strlen(s);

    FUZZ_CHECK(n > 0 && !strchr(s, '<'), "%s not sanitized", what);
    FUZZ_CHECK(!strchr(" \t\r\n\f\v", s[0]) && !strchr(" \t\r\n\f\v", s[n - 1]), "%s not trimmed",
               what);
}

/* The instance after a successful create or merge, and its answer. */
static void check_instance(apr_pool_t *p, const ce_instance_t *inst, const char *what)
{
    json_t *j, *cfg, *v;
    const char *key;
    size_t i, k;

    FUZZ_CHECK(inst->name && inst->configuration && inst->tags, "%s: incomplete instance", what);
    check_label(inst->name, "name");
    FUZZ_CHECK(json_is_array(inst->tags) && json_array_size(inst->tags) <= CE_TAGS_MAX, "%s: tags",
               what);
    for (i = 0; i < json_array_size(inst->tags); i++) {
        const char *t = json_string_value(json_array_get(inst->tags, i));

        FUZZ_CHECK(t != NULL, "%s: tag %zu is not a string", what, i);
        check_label(t, "tag");
        for (k = 0; k < i; k++) {
            FUZZ_CHECK(strcmp(t, json_string_value(json_array_get(inst->tags, k))) != 0,
                       "%s: duplicate tag", what);
        }
    }
    if (inst->element) {
        /* valid, except an OAuth instance still without tokens (it has
         * a reason, and the API shows it) */
        FUZZ_CHECK(ce_instance_valid(inst) || ce_instance_oauth_problem(inst),
                   "%s: accepted but not valid", what);
        FUZZ_CHECK(!ce_instance_valid(inst) || !ce_instance_oauth_problem(inst),
                   "%s: valid with an OAuth problem", what);
        FUZZ_CHECK(inst->element_id == inst->element->id, "%s: element id", what);
    }
    j = ce_instance_to_json(p, inst);
    cfg = json_object_get(j, "configuration");
    FUZZ_CHECK(json_object_size(cfg) == json_object_size(inst->configuration),
               "%s: configuration entries answered", what);
    json_object_foreach(inst->configuration, key, v)
    {
        FUZZ_CHECK(!json_is_object(v) && !json_is_array(v), "%s: '%s' stored non-scalar", what,
                   key);
        check_masked(inst, key, v, json_object_get(cfg, key));
    }
    FUZZ_CHECK(json_is_true(json_object_get(j, "valid")) == ce_instance_valid(inst), "%s: valid",
               what);
    check_rendered(p, inst, what);
    send_json(p, j, what);
}

static void post(apr_pool_t *p, const json_t *body, const ce_element_t *scope)
{
    ce_instance_t *inst = NULL;
    const char *err = NULL;
    apr_status_t rv = ce_instance_create(&inst, p, cat, body, scope, &owner, &err);

    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(inst == NULL, "create: failed but returned an instance");
        send_error(p, rv, err, "create");
        return;
    }
    FUZZ_CHECK(inst->element != NULL, "create: no element");
    FUZZ_CHECK(!scope || inst->element == scope, "create: element other than the path's");
    FUZZ_CHECK(inst->token && strlen(inst->token) == 44, "create: token");
    check_instance(p, inst, "create");
}

/* Secret entries sent as CE_MASK keep what the stored instance had. */
static void check_mask_kept(const ce_instance_t *before, const ce_instance_t *after,
                            const json_t *body)
{
    const json_t *given = json_object_get(body, "configuration");
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)given, key, v)
    {
        const json_t *old = json_object_get(before->configuration, key);

        if (json_is_string(v) && strcmp(json_string_value(v), CE_MASK) == 0 && old &&
            ce_instance_secret_entry(after, key)) {
            FUZZ_CHECK(json_equal(old, json_object_get(after->configuration, key)),
                       "merge: '%s' sent masked did not keep its value", key);
        }
    }
}

static void put_patch(apr_pool_t *p, const json_t *body, const ce_instance_t *base,
                      const ce_element_t *scope)
{
    ce_instance_t inst = *base;
    const char *err = NULL;
    apr_status_t rv = ce_instance_merge(&inst, p, cat, body, scope, &err);

    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(memcmp(&inst, base, sizeof(inst)) == 0, "merge: failed but changed");
        send_error(p, rv, err, "merge");
        return;
    }
    FUZZ_CHECK(!scope || inst.element == scope, "merge: element other than the path's");
    check_mask_kept(base, &inst, body);
    check_instance(p, &inst, "merge");
}

static void config_patch(apr_pool_t *p, const json_t *body, const ce_instance_t *base,
                         long config_id)
{
    ce_instance_t inst = *base;
    const char *err = NULL;
    long n = (long)json_object_size(base->configuration);
    apr_status_t rv = ce_instance_config_set(&inst, p, cat, config_id, body, &err);
    json_t *entry;

    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(memcmp(&inst, base, sizeof(inst)) == 0, "config_set: failed but changed");
        FUZZ_CHECK((rv == APR_NOTFOUND) == (config_id < 1 || config_id > n),
                   "config_set: 404 for entry %ld of %ld", config_id, n);
        send_error(p, rv, err, "config_set");
        return;
    }
    FUZZ_CHECK(json_object_size(inst.configuration) == (size_t)n, "config_set: entries added");
    entry = ce_instance_config_entry(p, &inst, config_id);
    FUZZ_CHECK(entry != NULL, "config_set: entry %ld gone", config_id);
    check_masked(
        &inst, json_string_value(json_object_get(entry, "key")),
        json_object_get(inst.configuration, json_string_value(json_object_get(entry, "key"))),
        json_object_get(entry, "propertyValue"));
    send_json(p, entry, "config_entry");
    send_json(p, ce_instance_config_list(p, &inst), "config_list");
}

/* A stored instance, as ce_store would hand it back (id set). */
static ce_instance_t *make_stored(const char *text, apr_int64_t id)
{
    ce_instance_t *inst = NULL;
    json_t *body = NULL;
    const char *err = NULL;

    if (parse_text(&body, fuzz_root, text) != APR_SUCCESS ||
        ce_instance_create(&inst, fuzz_root, cat, body, NULL, &owner, &err) != APR_SUCCESS) {
        fprintf(stderr, "fuzz_body: stored instance %lld: %s\n", (long long)id, err ? err : "?");
        exit(1);
    }
    inst->id = id;
    return inst;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int i;

    fuzz_init();
    cat = fuzz_catalog();
    for (i = 0; i < (int)(sizeof(stored_bodies) / sizeof(stored_bodies[0])); i++) {
        stored[i] = make_stored(stored_bodies[i], i + 1);
    }
    /* A row whose element has since left the catalog (ce_store keeps it). */
    stored[i] = apr_pmemdup(fuzz_root, stored[0], sizeof(ce_instance_t));
    stored[i]->id = i + 1;
    stored[i]->element = NULL;
    stored[i]->element_id = 999999;
    for (i = 0; i < N_STORED; i++) {
        stored_cfg[i] = ce_json_dump(fuzz_root, stored[i]->configuration);
    }
    fuzz_init_done();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const apr_array_header_t *elements = ce_catalog_elements(cat);
    json_t *body = NULL;
    const char *err = NULL;
    apr_status_t rv;
    int i;

    /* ce_request_body: an empty body never reaches the parser. */
    if (size == 0) {
        apr_pool_destroy(p);
        return 0;
    }
    rv = ce_json_parse(&body, p, (const char *)data, size, &err);
    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(body == NULL, "parse: failed but returned a value");
        send_error(p, rv, err, "parse");
    } else if (!json_is_object(body)) {
        send_error(p, APR_EINVAL, "The request body must be a JSON object", "parse");
    } else {
        /* The input's length picks the path's element and configuration
         * entry, so the corpus reaches them all without spending bytes. */
        post(p, body, NULL);
        post(p, body, APR_ARRAY_IDX(elements, size % elements->nelts, const ce_element_t *));
        for (i = 0; i < N_STORED; i++) {
            put_patch(p, body, stored[i], NULL);
            if (stored[i]->element) {
                put_patch(p, body, stored[i], stored[i]->element);
            }
            config_patch(p, body, stored[i],
                         (long)(size % (json_object_size(stored[i]->configuration) + 2)));
        }
        for (i = 0; i < N_STORED; i++) {
            const char *now = ce_json_dump(p, stored[i]->configuration);

            FUZZ_CHECK(strcmp(now, stored_cfg[i]) == 0, "stored instance %d changed", i + 1);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
