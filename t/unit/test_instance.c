/* Unit tests of ce_instance: create from the seed examples, every body rule,
 * merge, response shapes, configuration entries, sanitize. */
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "ce_catalog.h"
#include "ce_instance.h"
#include "ce_json.h"

static ce_catalog_t *cat;
static const ce_user_t owner = {7, 3, "ann@example.com", "Ann", "Lee"};

/* Runs after unit_setup: the shipped catalog, in this test's pool. */
static void load_catalog(void)
{
    const char *path = getenv("CE_CATALOG"), *err = NULL;

    path = path && *path ? path : "conf/elements.json";
    ck_assert_msg(ce_catalog_load(&cat, pool, path, &err) == APR_SUCCESS, "%s", err);
}

static json_t *J(const char *text)
{
    json_t *j = NULL;
    const char *err = NULL;

    ck_assert_msg(ce_json_parse(&j, pool, text, strlen(text), &err) == APR_SUCCESS, "%s: %s", text,
                  err);
    return j;
}

static const char *dump(const json_t *j)
{
    return ce_json_dump(pool, j);
}

static const char *cfg_str(const ce_instance_t *inst, const char *key)
{
    return json_string_value(json_object_get(inst->configuration, key));
}

/* Creates from text, asserting success. */
static ce_instance_t *create_ok(const char *text, const ce_element_t *scope)
{
    ce_instance_t *inst = NULL;
    const char *err = NULL;
    apr_status_t rv = ce_instance_create(&inst, pool, cat, J(text), scope, &owner, &err);

    ck_assert_msg(rv == APR_SUCCESS, "create %s: %s", text, err ? err : "?");
    ck_assert_ptr_nonnull(inst);
    return inst;
}

/* Creates from text, asserting APR_EINVAL; returns the message. */
static const char *create_fails(const char *text, const ce_element_t *scope)
{
    ce_instance_t *inst = (ce_instance_t *)1;
    const char *err = NULL;

    ck_assert_int_eq(ce_instance_create(&inst, pool, cat, J(text), scope, &owner, &err),
                     APR_EINVAL);
    ck_assert_ptr_null(inst);
    ck_assert_ptr_nonnull(err);
    return err;
}

static apr_status_t merge(ce_instance_t *inst, const char *text, const ce_element_t *scope,
                          const char **perr)
{
    return ce_instance_merge(inst, pool, cat, J(text), scope, perr);
}

#define JIRA_CFG                                                                                   \
    "\"configuration\":{\"jira.username\":\"ann\",\"jira.password\":\"s3cr3t\","                   \
    "\"jira.api.url\":\"https://ann.atlassian.net\"}"
#define JIRA_BODY "{\"element\":{\"key\":\"jira\"}," JIRA_CFG ",\"tags\":[\"qa\"],\"name\":\"J\"}"
#define S3_CFG                                                                                     \
    "\"configuration\":{\"document.tagging\":true,"                                                \
    "\"filemanagement.provider.access_key\":\"AKIA1\","                                            \
    "\"filemanagement.provider.secret_key\":\"s3cr3t\","                                           \
    "\"filemanagement.provider.bucket_name\":\"bucket\","                                          \
    "\"filemanagement.provider.region_name\":\"us-east-1\"}"

static ce_instance_t *jira(void)
{
    return create_ok(JIRA_BODY, NULL);
}

/* ---- create: the seed examples ------------------------------------------ */

START_TEST(create_amazons3_seed)
{
    ce_instance_t *inst = create_ok("{\"element\":{\"key\":\"amazons3\"}," S3_CFG
                                    ",\"tags\":[\"<add your tag>\",\"docs\"],\"name\":\"Test\"}",
                                    NULL);

    ck_assert_int_eq(inst->element_id, 16);
    ck_assert_ptr_eq(inst->element, ce_catalog_by_key(cat, "amazons3"));
    ck_assert_str_eq(inst->name, "Test");
    ck_assert_int_eq(inst->id, 0);
    ck_assert_ptr_eq(inst->user, &owner);
    ck_assert_int_eq(inst->organization_id, 3);
    ck_assert_uint_eq(strlen(inst->token), 44);
    ck_assert_str_eq(dump(inst->tags), "[\"docs\"]");
    ck_assert_str_eq(unit_keys_of(inst->configuration),
                     "document.tagging,filemanagement.provider.access_key,"
                     "filemanagement.provider.secret_key,filemanagement.provider.bucket_name,"
                     "filemanagement.provider.region_name");
    ck_assert(json_is_true(json_object_get(inst->configuration, "document.tagging")));
    ck_assert_str_eq(cfg_str(inst, "filemanagement.provider.secret_key"), "s3cr3t");
    ck_assert_str_eq(inst->created_date, inst->updated_date);
    ck_assert_int_eq(inst->max_cache_size, 0);
    ck_assert_int_eq(inst->cache_time_to_live, 0);
    ck_assert_int_eq(inst->caching_enabled, 0);
    ck_assert_int_eq(inst->trace_logging_enabled, 0);
    ck_assert_int_eq(inst->disabled, 0);
    ck_assert_int_eq(ce_instance_valid(inst), 1);
}
END_TEST

START_TEST(create_amazons3_fills_region_default)
{
    ce_instance_t *inst = create_ok("{\"element\":{\"id\":16},\"name\":\"S3\",\"configuration\":{"
                                    "\"filemanagement.provider.bucket_name\":\"b\","
                                    "\"filemanagement.provider.secret_key\":\"k\","
                                    "\"filemanagement.provider.access_key\":\"a\"}}",
                                    NULL);

    /* catalog order, whatever the body's order */
    ck_assert_str_eq(dump(inst->configuration),
                     "{\"document.tagging\":false,\"filemanagement.provider.access_key\":\"a\","
                     "\"filemanagement.provider.secret_key\":\"k\","
                     "\"filemanagement.provider.bucket_name\":\"b\","
                     "\"filemanagement.provider.region_name\":\"us-east-1\"}");
}
END_TEST

START_TEST(create_jira_seed)
{
    ce_instance_t *inst = jira();

    ck_assert_int_eq(inst->element_id, 1);
    ck_assert_str_eq(dump(inst->configuration),
                     "{\"jira.username\":\"ann\",\"jira.password\":\"s3cr3t\","
                     "\"jira.api.url\":\"https://ann.atlassian.net\"}");
    ck_assert_str_eq(dump(inst->tags), "[\"qa\"]");
}
END_TEST

START_TEST(create_epages_defaults_in_catalog_order)
{
    ce_instance_t *inst =
        create_ok("{\"element\":{\"key\":\"epages\"},\"configuration\":{\"custom.key\":\"c\","
                  "\"base.url\":\"https://devshop.epages.com/rs/shops/s1\","
                  "\"epages.access.token\":\"tok\"},\"tags\":[\"shop\"],\"name\":\"Shop\"}",
                  NULL);

    ck_assert_str_eq(dump(inst->configuration),
                     "{\"epages.access.token\":\"tok\","
                     "\"base.url\":\"https://devshop.epages.com/rs/shops/s1\","
                     "\"event.notification.subscription.id\":null,"
                     "\"bulk.query.field_name\":\"\",\"pagination.max\":\"100\","
                     "\"event.vendor.type\":\"webhooks\",\"bulk.query.operator\":\">=\","
                     "\"bulk.query.date_mask\":\"yyyy-MM-dd'T'HH:mm:ssXXX\","
                     "\"event.notification.instance.finder\":null,"
                     "\"event.poller.refresh_interval\":\"15\",\"pagination.type\":null,"
                     "\"event.notification.callback.url\":null,"
                     "\"event.poller.configuration\":\"{}\","
                     "\"event.notification.enabled\":\"false\",\"custom.key\":\"c\"}");
    ck_assert_int_eq(inst->element_id, 1595);
    ck_assert_int_eq(ce_instance_valid(inst), 1);
}
END_TEST

START_TEST(create_dropbox_with_provider_data)
{
    ce_instance_t *inst = create_ok(
        "{\"element\":{\"key\":\"dropbox\"},\"providerData\":{\"code\":\"Code on the Return URL\"},"
        "\"configuration\":{\"oauth.callback.url\":\"https://www.cloud-elements.com\","
        "\"oauth.api.key\":\"za6jhr3hychnef0\",\"oauth.api.secret\":\"eghxt92pr5xjkuv\","
        "\"document.tagging\":false},\"tags\":[\"my_first_tag\"],\"name\":\"my_first_instance\"}",
        NULL);
    json_t *j = ce_instance_to_json(pool, inst);

    ck_assert_int_eq(inst->element_id, 14);
    ck_assert_str_eq(unit_keys_of(inst->configuration),
                     "oauth.callback.url,oauth.api.key,oauth.api.secret,document.tagging");
    ck_assert_ptr_null(json_object_get(j, "providerData"));
    ck_assert_ptr_null(strstr(dump(j), "Code on the Return URL"));
    ck_assert_ptr_null(strstr(dump(j), "eghxt92pr5xjkuv"));
    ck_assert_str_eq(dump(json_object_get(j, "tags")), "[\"my_first_tag\"]");
}
END_TEST

/* The provider's entries (where tokens are sent) are the operator's: a
 * tenant's value is refused, on create and on merge; null is no value. */
START_TEST(provider_entries_refused)
{
#define DROPBOX_CFG                                                                                \
    "\"oauth.callback.url\":\"https://app.example/cb\",\"oauth.api.key\":\"k\","                   \
    "\"oauth.api.secret\":\"s\""
    static const char *const keys[] = {"oauth.token.url",
                                       "oauth.token.refresh_url",
                                       "oauth.authorization.url",
                                       "oauth.scope",
                                       "oauth.authorization.param.token_access_type",
                                       NULL};
    const char *const *k;
    ce_instance_t *inst = create_ok("{\"element\":{\"key\":\"dropbox\"},\"name\":\"d\","
                                    "\"configuration\":{" DROPBOX_CFG ",\"oauth.token.url\":null}}",
                                    NULL);
    const char *err = NULL;

    ck_assert_str_eq(unit_keys_of(inst->configuration),
                     "oauth.callback.url,oauth.api.key,oauth.api.secret,document.tagging");
    for (k = keys; *k; k++) {
        const char *body = apr_psprintf(pool,
                                        "{\"element\":{\"key\":\"dropbox\"},\"name\":\"d\","
                                        "\"configuration\":{" DROPBOX_CFG ",\"%s\":\"https://"
                                        "evil.example/\"}}",
                                        *k);

        ck_assert_ptr_nonnull(strstr(create_fails(body, NULL), *k));
        ck_assert_int_eq(
            merge(inst, apr_psprintf(pool, "{\"configuration\":{\"%s\":\"x\"}}", *k), NULL, &err),
            APR_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "set by the operator"));
    }
    ck_assert_ptr_null(json_object_get(inst->configuration, "oauth.token.url"));
    /* the same key on an element without OAuth is just a key */
    inst = create_ok("{\"element\":{\"key\":\"jira\"},\"name\":\"j\",\"configuration\":{"
                     "\"jira.username\":\"a\",\"jira.password\":\"b\",\"jira.api.url\":\"c\","
                     "\"oauth.token.url\":\"https://x.example/\"}}",
                     NULL);
    ck_assert_str_eq(cfg_str(inst, "oauth.token.url"), "https://x.example/");
#undef DROPBOX_CFG
}
END_TEST

/* What a body asks of an OAuth element's provider, and the oauth.user.*
 * entries that are the server's. */
START_TEST(oauth_asks)
{
#define DBX(extra)                                                                                 \
    "{\"element\":{\"key\":\"dropbox\"},\"name\":\"d\",\"configuration\":{"                        \
    "\"oauth.callback.url\":\"https://app.example/cb\",\"oauth.api.key\":\"k\","                   \
    "\"oauth.api.secret\":\"s\"" extra
    ce_instance_t *inst = create_ok(DBX("},\"providerData\":{\"code\":\"c1\"}}"), NULL);
    const char *err = NULL;

    ck_assert_str_eq(inst->provider_code, "c1");
    ck_assert_int_eq(inst->oauth_import, 0);
    ck_assert_str_eq(inst->external_authentication, "none");
    ck_assert_int_eq(ce_instance_valid(inst), 0);
    ck_assert_ptr_nonnull(strstr(ce_instance_oauth_problem(inst), "providerData.code"));
    ck_assert_ptr_nonnull(json_object_get(ce_instance_to_json(pool, inst), "invalidReason"));
    ck_assert_ptr_nonnull(strstr(create_fails(DBX("},\"providerData\":{\"code\":\"\"}}"), NULL),
                                 "providerData.code"));
    ck_assert_ptr_nonnull(
        strstr(create_fails(DBX("},\"providerData\":{\"code\":5}}"), NULL), "providerData.code"));
    ck_assert_ptr_nonnull(strstr(create_fails(DBX("},\"externalAuthentication\":\"yes\"}"), NULL),
                                 "externalAuthentication"));
    ck_assert_ptr_nonnull(strstr(create_fails(DBX("},\"externalAuthentication\":\"initial\","
                                                  "\"providerData\":{\"code\":\"c\"}}"),
                                              NULL),
                                 "not both"));
    ck_assert_ptr_nonnull(
        strstr(create_fails(DBX("},\"externalAuthentication\":\"initial\"}"), NULL),
               "oauth.user.refresh_token"));
    ck_assert_ptr_nonnull(
        strstr(create_fails(DBX(",\"oauth.user.token\":\"T\"}}"), NULL), "oauth.user.token"));
    ck_assert_ptr_nonnull(strstr(create_fails(DBX(",\"oauth.user.refresh_time\":\"1\"}}"), NULL),
                                 "oauth.user.refresh_time"));
    ck_assert_ptr_nonnull(
        strstr(create_fails(apr_pstrcat(pool, DBX("},\"providerData\":{\"code\":\""),
                                        apr_psprintf(pool, "%0*d", CE_OAUTH_CODE_MAX + 1, 0),
                                        "\"}}", NULL),
                            NULL),
               "at most 4096"));
    {
        int has_code = 0;

        ck_assert_int_eq(
            ce_instance_asks_provider(pool, J("{\"providerData\":{\"code\":\"c\"}}"), &has_code),
            1);
        ck_assert_int_eq(has_code, 1);
        ck_assert_int_eq(ce_instance_asks_provider(
                             pool, J("{\"externalAuthentication\":\"initial\"}"), &has_code),
                         1);
        ck_assert_int_eq(has_code, 0);
        ck_assert_int_eq(ce_instance_asks_provider(pool, J("{\"name\":\"x\"}"), &has_code), 0);
        ck_assert_int_eq(
            ce_instance_asks_provider(pool, J("{\"providerData\":{\"code\":5}}"), &has_code), 0);
    }
    /* import: both tokens taken, checked by the caller (oauth_import) */
    inst = create_ok(DBX(",\"oauth.user.token\":\"T\",\"oauth.user.refresh_token\":\"R\"},"
                         "\"externalAuthentication\":\"initial\"}"),
                     NULL);
    ck_assert_int_eq(inst->oauth_import, 1);
    ck_assert_ptr_null(inst->provider_code);
    ck_assert_str_eq(inst->external_authentication, "initial");
    ck_assert_str_eq(cfg_str(inst, "oauth.user.refresh_token"), "R");
    ck_assert_int_eq(ce_instance_valid(inst), 1);
    /* a client PUTs back what it got: masks and the stored values pass */
    json_object_set_new(inst->configuration, "oauth.user.refresh_time", json_string("170"));
    ck_assert_int_eq(merge(inst,
                           "{\"configuration\":{\"oauth.user.token\":\"********\","
                           "\"oauth.user.refresh_token\":\"********\","
                           "\"oauth.user.refresh_time\":\"170\"},\"name\":\"again\"}",
                           NULL, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(cfg_str(inst, "oauth.user.refresh_token"), "R");
    ck_assert_str_eq(inst->external_authentication, "initial");
    ck_assert_int_eq(
        merge(inst, "{\"configuration\":{\"oauth.user.refresh_time\":\"171\"}}", NULL, &err),
        APR_EINVAL);
    /* re-authentication with a code */
    ck_assert_int_eq(merge(inst, "{\"providerData\":{\"code\":\"c2\"}}", NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(inst->provider_code, "c2");
    ck_assert_str_eq(inst->external_authentication, "none");
    /* not an OAuth element: a code is nothing to exchange */
    inst = create_ok("{\"element\":{\"key\":\"jira\"},\"name\":\"j\",\"providerData\":{"
                     "\"code\":\"c\"}," JIRA_CFG "}",
                     NULL);
    ck_assert_ptr_null(inst->provider_code);
    ck_assert_int_eq(ce_instance_valid(inst), 1);
#undef DBX
}
END_TEST

START_TEST(create_boolean_strings_kept_as_given)
{
    ce_instance_t *inst = create_ok("{\"element\":{\"key\":\"amazons3\"},\"name\":\"S3\","
                                    "\"configuration\":{\"document.tagging\":\"true\","
                                    "\"filemanagement.provider.access_key\":\"a\","
                                    "\"filemanagement.provider.secret_key\":\"k\","
                                    "\"filemanagement.provider.bucket_name\":\"b\"}}",
                                    NULL);

    ck_assert_str_eq(cfg_str(inst, "document.tagging"), "true");
}
END_TEST

START_TEST(create_number_entries)
{
    ce_instance_t *inst =
        create_ok("{\"element\":{\"key\":\"epages\"},\"name\":\"E\",\"configuration\":{"
                  "\"epages.access.token\":\"t\",\"base.url\":\"u\",\"pagination.max\":50,"
                  "\"event.poller.refresh_interval\":\"2.5\"}}",
                  NULL);

    ck_assert_int_eq(json_integer_value(json_object_get(inst->configuration, "pagination.max")),
                     50);
    ck_assert_str_eq(cfg_str(inst, "event.poller.refresh_interval"), "2.5");
}
END_TEST

START_TEST(create_settings_and_ignored_fields)
{
    ce_instance_t *inst =
        create_ok("{\"element\":{\"key\":\"jira\",\"name\":\"whatever\",\"id\":1}," JIRA_CFG
                  ",\"name\":\"J\",\"maxCacheSize\":10,\"cacheTimeToLive\":2147483647,"
                  "\"cachingEnabled\":true,\"traceLoggingEnabled\":true,\"id\":99,\"token\":\"x\","
                  "\"disabled\":true,\"user\":{\"id\":1},\"createdDate\":\"x\",\"valid\":false}",
                  NULL);

    ck_assert_int_eq(inst->max_cache_size, 10);
    ck_assert_int_eq(inst->cache_time_to_live, 2147483647L);
    ck_assert_int_eq(inst->caching_enabled, 1);
    ck_assert_int_eq(inst->trace_logging_enabled, 1);
    ck_assert_int_eq(inst->id, 0);
    ck_assert_int_eq(inst->disabled, 0);
    ck_assert_str_ne(inst->token, "x");
    ck_assert_str_ne(inst->created_date, "x");
    ck_assert_str_eq(dump(inst->tags), "[]");
}
END_TEST

START_TEST(create_tokens_are_fresh)
{
    ck_assert_str_ne(jira()->token, jira()->token);
}
END_TEST

START_TEST(create_without_owner)
{
    ce_instance_t *inst = NULL;
    const char *err = NULL;

    ck_assert_int_eq(ce_instance_create(&inst, pool, cat, J(JIRA_BODY), NULL, NULL, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(inst->organization_id, 0);
    ck_assert(json_is_null(json_object_get(ce_instance_to_json(pool, inst), "user")));
}
END_TEST

/* ---- create: errors ----------------------------------------------------- */

START_TEST(missing_required_lists_every_key)
{
    ck_assert_str_eq(create_fails("{\"element\":{\"key\":\"jira\"},\"name\":\"J\","
                                  "\"configuration\":{\"jira.api.url\":\"u\"}}",
                                  NULL),
                     "Missing required configuration entries: jira.username, jira.password");
    ck_assert_str_eq(create_fails("{\"element\":{\"key\":\"jira\"},\"name\":\"J\"}", NULL),
                     "Missing required configuration entries: jira.username, jira.password, "
                     "jira.api.url");
    /* null and "" are missing too; region has a default */
    ck_assert_str_eq(create_fails("{\"element\":{\"key\":\"amazons3\"},\"name\":\"S\","
                                  "\"configuration\":{\"filemanagement.provider.access_key\":null,"
                                  "\"filemanagement.provider.bucket_name\":\"\"}}",
                                  NULL),
                     "Missing required configuration entries: filemanagement.provider.access_key, "
                     "filemanagement.provider.secret_key, filemanagement.provider.bucket_name");
    /* clearing a defaulted required entry */
    ck_assert_str_eq(create_fails("{\"element\":{\"key\":\"amazons3\"},\"name\":\"S\","
                                  "\"configuration\":{\"filemanagement.provider.access_key\":\"a\","
                                  "\"filemanagement.provider.secret_key\":\"k\","
                                  "\"filemanagement.provider.bucket_name\":\"b\","
                                  "\"filemanagement.provider.region_name\":null}}",
                                  NULL),
                     "Missing required configuration entries: filemanagement.provider.region_name");
    /* the mask is never stored as a secret's value */
    ck_assert_str_eq(create_fails("{\"element\":{\"key\":\"jira\"},\"name\":\"J\","
                                  "\"configuration\":{\"jira.username\":\"u\","
                                  "\"jira.password\":\"" CE_MASK "\",\"jira.api.url\":\"u\"}}",
                                  NULL),
                     "Missing required configuration entries: jira.password");
}
END_TEST

START_TEST(unknown_element)
{
    ck_assert_str_eq(create_fails("{\"element\":{\"key\":\"nope\"},\"name\":\"J\"}", NULL),
                     "Element 'nope' not found");
    ck_assert_str_eq(create_fails("{\"element\":{\"id\":999},\"name\":\"J\"}", NULL),
                     "Element id 999 not found");
    ck_assert_str_eq(create_fails("{\"element\":{\"id\":\"999\"},\"name\":\"J\"}", NULL),
                     "Element id 999 not found");
}
END_TEST

START_TEST(element_by_id_forms)
{
    ck_assert_int_eq(
        create_ok("{\"element\":{\"id\":1}," JIRA_CFG ",\"name\":\"J\"}", NULL)->element_id, 1);
    ck_assert_int_eq(
        create_ok("{\"element\":{\"id\":\"1\"}," JIRA_CFG ",\"name\":\"J\"}", NULL)->element_id, 1);
    ck_assert_int_eq(
        create_ok("{\"element\":{\"id\":1,\"key\":\"jira\"}," JIRA_CFG ",\"name\":\"J\"}", NULL)
            ->element_id,
        1);
}
END_TEST

START_TEST(element_key_id_mismatch)
{
    ck_assert_str_eq(create_fails("{\"element\":{\"key\":\"jira\",\"id\":16}," JIRA_CFG
                                  ",\"name\":\"J\"}",
                                  NULL),
                     "element key 'jira' and id 16 name different elements");
}
END_TEST

START_TEST(scope_check)
{
    const ce_element_t *jira_e = ce_catalog_by_key(cat, "jira");
    const ce_element_t *s3 = ce_catalog_by_key(cat, "amazons3");

    ck_assert_int_eq(create_ok("{" JIRA_CFG ",\"name\":\"J\"}", jira_e)->element_id, 1);
    ck_assert_int_eq(create_ok(JIRA_BODY, jira_e)->element_id, 1);
    ck_assert_str_eq(create_fails(JIRA_BODY, s3),
                     "Element 'jira' in the body differs from element 'amazons3' in the path");
    ck_assert_str_eq(create_fails("{\"element\":{\"id\":16}," JIRA_CFG ",\"name\":\"J\"}", jira_e),
                     "Element 'amazons3' in the body differs from element 'jira' in the path");
}
END_TEST

/* Bodies (a jira body with one thing wrong) and the message each must give. */
#define J_WITH(extra) "{\"element\":{\"key\":\"jira\"}," JIRA_CFG ",\"name\":\"J\"," extra "}"
#define S3_WITH(tagging)                                                                           \
    "{\"element\":{\"key\":\"amazons3\"},\"name\":\"S\",\"configuration\":{"                       \
    "\"document.tagging\":" tagging ",\"filemanagement.provider.access_key\":\"a\","               \
    "\"filemanagement.provider.secret_key\":\"k\","                                                \
    "\"filemanagement.provider.bucket_name\":\"b\"}}"
static const struct {
    const char *body, *message;
} bad[] = {
    {"[]", "The request body must be a JSON object"},
    {"\"x\"", "The request body must be a JSON object"},
    {"{\"element\":{\"key\":\"jira\"}," JIRA_CFG "}", "name is required"},
    {"{" JIRA_CFG ",\"name\":\"J\"}", "element is required (give its key or id)"},
    {"{\"element\":{\"key\":\"jira\"}," JIRA_CFG ",\"name\":5}", "name must be a string"},
    {"{\"element\":{\"key\":\"jira\"}," JIRA_CFG ",\"name\":null}", "name must be a string"},
    {"{\"element\":{\"key\":\"jira\"}," JIRA_CFG ",\"name\":\" <b></b> \"}",
     "name must not be empty"},
    {"{\"element\":\"jira\"," JIRA_CFG ",\"name\":\"J\"}",
     "element must be an object with a key or an id"},
    {"{\"element\":{}," JIRA_CFG ",\"name\":\"J\"}", "element must have a key or an id"},
    {"{\"element\":{\"name\":\"JIRA\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element must have a key or an id"},
    {"{\"element\":{\"key\":5}," JIRA_CFG ",\"name\":\"J\"}", "element key must be a string"},
    {"{\"element\":{\"key\":null}," JIRA_CFG ",\"name\":\"J\"}", "element key must be a string"},
    {"{\"element\":{\"id\":0}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":-1}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":1.0}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":true}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\"0\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\"1a\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\"-1\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\"\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\"99999999999999999999\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\"016\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\"01\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\"+1\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\" 1\"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {"{\"element\":{\"id\":\"1 \"}," JIRA_CFG ",\"name\":\"J\"}",
     "element id must be a positive integer"},
    {J_WITH("\"tags\":\"qa\""), "tags must be an array of strings"},
    {J_WITH("\"tags\":[\"qa\",1]"), "tags must be an array of strings"},
    {J_WITH("\"tags\":[null]"), "tags must be an array of strings"},
    {J_WITH("\"tags\":{}"), "tags must be an array of strings"},
    {"{\"element\":{\"key\":\"jira\"},\"configuration\":[],\"name\":\"J\"}",
     "configuration must be an object"},
    {"{\"element\":{\"key\":\"jira\"},\"configuration\":\"x\",\"name\":\"J\"}",
     "configuration must be an object"},
    {"{\"element\":{\"key\":\"jira\"},\"configuration\":{\"jira.username\":{}},\"name\":\"J\"}",
     "configuration 'jira.username' must be a string, number, boolean or null"},
    {"{\"element\":{\"key\":\"jira\"},\"configuration\":{\"x\":[1]},\"name\":\"J\"}",
     "configuration 'x' must be a string, number, boolean or null"},
    {"{\"element\":{\"key\":\"jira\"},\"configuration\":{\"\":\"v\"},\"name\":\"J\"}",
     "configuration keys must not be empty"},
    {S3_WITH("\"yes\""), "configuration 'document.tagging' must be true or false"},
    {S3_WITH("1"), "configuration 'document.tagging' must be true or false"},
    {S3_WITH("\"TRUE\""), "configuration 'document.tagging' must be true or false"},
    {"{\"element\":{\"key\":\"epages\"},\"name\":\"E\",\"configuration\":{"
     "\"epages.access.token\":\"t\",\"base.url\":\"u\",\"pagination.max\":\"lots\"}}",
     "configuration 'pagination.max' must be a number"},
    {"{\"element\":{\"key\":\"epages\"},\"name\":\"E\",\"configuration\":{"
     "\"epages.access.token\":\"t\",\"base.url\":\"u\",\"pagination.max\":true}}",
     "configuration 'pagination.max' must be a number"},
    {J_WITH("\"maxCacheSize\":-1"), "maxCacheSize must be a non-negative integer"},
    {J_WITH("\"maxCacheSize\":\"5\""), "maxCacheSize must be a non-negative integer"},
    {J_WITH("\"maxCacheSize\":1.5"), "maxCacheSize must be a non-negative integer"},
    {J_WITH("\"maxCacheSize\":2147483648"), "maxCacheSize must be a non-negative integer"},
    {J_WITH("\"maxCacheSize\":null"), "maxCacheSize must be a non-negative integer"},
    {J_WITH("\"cacheTimeToLive\":true"), "cacheTimeToLive must be a non-negative integer"},
    {J_WITH("\"cachingEnabled\":\"true\""), "cachingEnabled must be a boolean"},
    {J_WITH("\"cachingEnabled\":1"), "cachingEnabled must be a boolean"},
    {J_WITH("\"traceLoggingEnabled\":null"), "traceLoggingEnabled must be a boolean"},
    {J_WITH("\"providerData\":\"code\""), "providerData must be an object"},
    {J_WITH("\"providerData\":[]"), "providerData must be an object"},
};

START_TEST(wrong_types)
{
    const char *err = create_fails(bad[_i].body, NULL);

    ck_assert_msg(strcmp(err, bad[_i].message) == 0, "case %d: got \"%s\", want \"%s\"", _i, err,
                  bad[_i].message);
    ck_assert_ptr_null(strstr(err, "s3cr3t")); /* never a configuration value */
}
END_TEST

START_TEST(long_name_tags_keys)
{
    char *big = apr_palloc(pool, 300), *body;

    memset(big, 'x', 299);
    big[299] = '\0';
    body = apr_psprintf(pool, "{\"element\":{\"key\":\"jira\"}," JIRA_CFG ",\"name\":\"%s\"}", big);
    ck_assert_str_eq(create_fails(body, NULL), "name must be at most 255 characters");
    body = apr_psprintf(pool, J_WITH("\"tags\":[\"%s\"]"), big);
    ck_assert_str_eq(create_fails(body, NULL), "each tag must be at most 255 characters");
    body = apr_psprintf(pool,
                        "{\"element\":{\"key\":\"jira\"},\"configuration\":{\"%s\":1},"
                        "\"name\":\"J\"}",
                        big);
    ck_assert_str_eq(create_fails(body, NULL), "configuration keys must be at most 255 characters");
    /* 255 characters of 2 bytes each are fine: the limit counts characters */
    big[0] = '\0';
    for (int i = 0; i < 255; i++) {
        big = apr_pstrcat(pool, big, "\xc3\xa9", NULL);
    }
    body = apr_psprintf(pool, "{\"element\":{\"key\":\"jira\"}," JIRA_CFG ",\"name\":\"%s\"}", big);
    ck_assert_uint_eq(strlen(create_ok(body, NULL)->name), 510);
    /* tags hold at most 100 entries */
    body = "\"tags\":[\"t\"";
    for (int i = 0; i < 100; i++) {
        body = apr_pstrcat(pool, body, ",\"t\"", NULL);
    }
    body = apr_psprintf(pool, J_WITH("%s]"), body);
    ck_assert_str_eq(create_fails(body, NULL), "tags must have at most 100 entries");
}
END_TEST

START_TEST(html_stripped_from_name_and_tags)
{
    ce_instance_t *inst = create_ok(
        "{\"element\":{\"key\":\"jira\"}," JIRA_CFG ",\"name\":\" <a href=\\\"#\\\">x</a> \","
        "\"tags\":[\"<b>t</b>\",\" t \",\"\",\"<i></i>\",\"   \",\"u\",\"t\","
        "\"<a href=\\\"#\\\">x</a>\",\"T\"]}",
        NULL);

    ck_assert_str_eq(inst->name, "x");
    ck_assert_str_eq(dump(inst->tags), "[\"t\",\"u\",\"x\",\"T\"]");
}
END_TEST

/* ---- merge --------------------------------------------------------------- */

START_TEST(merge_replaces_name_and_tags)
{
    ce_instance_t *inst = jira();
    const char *err = NULL, *created = inst->created_date, *token = inst->token;

    inst->updated_date = "before";
    ck_assert_int_eq(merge(inst,
                           "{\"name\":\"SFDC Updated Instance\","
                           "\"tags\":[\"sandbox\",\"08/21/2014\",\"new-tag\"]}",
                           NULL, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(inst->name, "SFDC Updated Instance");
    ck_assert_str_eq(dump(inst->tags), "[\"sandbox\",\"08/21/2014\",\"new-tag\"]");
    ck_assert_str_eq(cfg_str(inst, "jira.password"), "s3cr3t");
    ck_assert_ptr_eq(inst->created_date, created);
    ck_assert_ptr_eq(inst->token, token);
    ck_assert_str_ne(inst->updated_date, "before");
    ck_assert_uint_eq(strlen(inst->updated_date), 24);
    /* tags [] clears them; a body without tags keeps them */
    ck_assert_int_eq(merge(inst, "{\"tags\":[]}", NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(dump(inst->tags), "[]");
    ck_assert_str_eq(inst->name, "SFDC Updated Instance");
    ck_assert_int_eq(merge(inst, "{}", NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(inst->name, "SFDC Updated Instance");
}
END_TEST

START_TEST(merge_configuration_entries)
{
    ce_instance_t *inst = jira();
    const char *err = NULL;

    ck_assert_int_eq(merge(inst,
                           "{\"configuration\":{\"jira.api.url\":\"https://new\","
                           "\"extra\":\"e\"}}",
                           NULL, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(dump(inst->configuration),
                     "{\"jira.username\":\"ann\",\"jira.password\":\"s3cr3t\","
                     "\"jira.api.url\":\"https://new\",\"extra\":\"e\"}");
    ck_assert_int_eq(merge(inst, "{\"configuration\":{\"extra\":null}}", NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(unit_keys_of(inst->configuration),
                     "jira.username,jira.password,jira.api.url,extra");
    ck_assert(json_is_null(json_object_get(inst->configuration, "extra")));
}
END_TEST

START_TEST(merge_mask_keeps_secret)
{
    ce_instance_t *inst = jira();
    const char *err = NULL, *before = dump(inst->configuration);
    json_t *got = ce_instance_to_json(pool, inst);

    /* PUT back what GET gave */
    ck_assert_int_eq(ce_instance_merge(inst, pool, cat, got, NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(dump(inst->configuration), before);
    ck_assert_str_eq(inst->name, "J");
    ck_assert_int_eq(merge(inst, "{\"configuration\":{\"jira.password\":\"new\"}}", NULL, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(cfg_str(inst, "jira.password"), "new");
    /* the mask of a non-secret entry is just a string */
    ck_assert_int_eq(
        merge(inst, "{\"configuration\":{\"jira.username\":\"" CE_MASK "\"}}", NULL, &err),
        APR_SUCCESS);
    ck_assert_str_eq(cfg_str(inst, "jira.username"), CE_MASK);
}
END_TEST

START_TEST(merge_settings)
{
    ce_instance_t *inst = jira();
    const char *err = NULL;

    ck_assert_int_eq(merge(inst,
                           "{\"maxCacheSize\":5,\"cacheTimeToLive\":60,\"cachingEnabled\":true,"
                           "\"traceLoggingEnabled\":true}",
                           NULL, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(inst->max_cache_size, 5);
    ck_assert_int_eq(inst->cache_time_to_live, 60);
    ck_assert_int_eq(inst->caching_enabled, 1);
    ck_assert_int_eq(inst->trace_logging_enabled, 1);
    ck_assert_int_eq(merge(inst, "{\"cachingEnabled\":false}", NULL, &err), APR_SUCCESS);
    ck_assert_int_eq(inst->caching_enabled, 0);
    ck_assert_int_eq(inst->max_cache_size, 5);
}
END_TEST

START_TEST(merge_element_change_revalidates)
{
    ce_instance_t *inst = jira();
    const char *err = NULL;

    ck_assert_int_eq(merge(inst, "{\"element\":{\"key\":\"amazons3\"}}", NULL, &err), APR_EINVAL);
    ck_assert_str_eq(err, "Missing required configuration entries: "
                          "filemanagement.provider.access_key, filemanagement.provider.secret_key, "
                          "filemanagement.provider.bucket_name");
    ck_assert_int_eq(inst->element_id, 1);
    ck_assert_int_eq(merge(inst, "{\"element\":{\"key\":\"amazons3\"}," S3_CFG "}", NULL, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(inst->element_id, 16);
    ck_assert_ptr_eq(inst->element, ce_catalog_by_id(cat, 16));
    /* the old element's entries (its credentials) are dropped; the new
     * element's follow in catalog order */
    ck_assert_str_eq(unit_keys_of(inst->configuration),
                     "document.tagging,"
                     "filemanagement.provider.access_key,filemanagement.provider.secret_key,"
                     "filemanagement.provider.bucket_name,filemanagement.provider.region_name");
    ck_assert_ptr_null(json_object_get(inst->configuration, "jira.password"));
    ck_assert_int_eq(ce_instance_valid(inst), 1);
    /* the new element's defaults fill what the body leaves out */
    inst = jira();
    ck_assert_int_eq(merge(inst,
                           "{\"element\":{\"id\":16},\"configuration\":{"
                           "\"filemanagement.provider.access_key\":\"a\","
                           "\"filemanagement.provider.secret_key\":\"k\","
                           "\"filemanagement.provider.bucket_name\":\"b\"}}",
                           NULL, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(cfg_str(inst, "filemanagement.provider.region_name"), "us-east-1");
    ck_assert(json_is_false(json_object_get(inst->configuration, "document.tagging")));
    /* the new element's types apply */
    inst = jira();
    ck_assert_int_eq(merge(inst, S3_WITH("\"maybe\""), NULL, &err), APR_EINVAL);
    ck_assert_str_eq(err, "configuration 'document.tagging' must be true or false");
}
END_TEST

/* Bodies a merge must refuse, leaving the instance as it was. */
static const char *const bad_merges[] = {
    "[]",
    "{\"name\":5}",
    "{\"name\":\"<p></p>\"}",
    "{\"tags\":[\"a\",2]}",
    "{\"tags\":\"a\"}",
    "{\"element\":{\"key\":\"nope\"}}",
    "{\"element\":{\"id\":999}}",
    "{\"element\":{\"key\":\"jira\",\"id\":16}}",
    "{\"element\":{\"key\":\"amazons3\"},\"name\":\"new\"}",
    "{\"configuration\":{\"jira.username\":null},\"name\":\"new\",\"tags\":[\"n\"]}",
    "{\"configuration\":{\"jira.password\":\"\"}}",
    "{\"configuration\":{\"x\":{}},\"name\":\"new\"}",
    "{\"configuration\":[]}",
    "{\"maxCacheSize\":-5,\"name\":\"new\"}",
    "{\"cachingEnabled\":\"yes\",\"name\":\"new\"}",
    "{\"traceLoggingEnabled\":0,\"tags\":[\"n\"]}",
    "{\"providerData\":1,\"name\":\"new\"}",
};

START_TEST(merge_error_leaves_instance_unchanged)
{
    ce_instance_t *inst = jira(), copy;
    const char *err = NULL, *before;

    inst->id = 12;
    copy = *inst;
    before = dump(ce_instance_to_json(pool, inst));
    ck_assert_int_eq(merge(inst, bad_merges[_i], NULL, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(strstr(err, "s3cr3t"));
    ck_assert_str_eq(dump(ce_instance_to_json(pool, inst)), before);
    ck_assert_mem_eq(&copy, inst, sizeof(copy));
    ck_assert_str_eq(cfg_str(inst, "jira.password"), "s3cr3t");
}
END_TEST

START_TEST(merge_scope)
{
    ce_instance_t *inst = jira();
    const char *err = NULL;
    const ce_element_t *jira_e = ce_catalog_by_key(cat, "jira");

    ck_assert_int_eq(merge(inst, "{\"name\":\"n\"}", jira_e, &err), APR_SUCCESS);
    ck_assert_int_eq(merge(inst, "{\"element\":{\"key\":\"jira\"}}", jira_e, &err), APR_SUCCESS);
    ck_assert_int_eq(merge(inst, "{\"element\":{\"key\":\"box\"},\"name\":\"x\"}", jira_e, &err),
                     APR_EINVAL);
    ck_assert_str_eq(err, "Element 'box' in the body differs from element 'jira' in the path");
    ck_assert_str_eq(inst->name, "n");
}
END_TEST

START_TEST(element_left_catalog)
{
    ce_instance_t *inst = jira();
    const char *err = NULL;
    json_t *j;

    inst->element = NULL; /* as ce_store hands it back when the catalog lost element 1 */
    j = ce_instance_to_json(pool, inst);
    ck_assert_str_eq(dump(json_object_get(j, "element")), "{\"id\":1}");
    ck_assert(json_is_false(json_object_get(j, "valid")));
    /* nothing says which entries are secret: all are masked */
    ck_assert_str_eq(dump(json_object_get(j, "configuration")),
                     "{\"jira.username\":\"" CE_MASK "\",\"jira.password\":\"" CE_MASK
                     "\",\"jira.api.url\":\"" CE_MASK "\"}");
    /* PUT back without the element (it no longer resolves): masks keep every value */
    json_object_del(j, "element");
    ck_assert_int_eq(ce_instance_merge(inst, pool, cat, j, NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(cfg_str(inst, "jira.username"), "ann");
    ck_assert_str_eq(cfg_str(inst, "jira.password"), "s3cr3t");
    ck_assert_int_eq(merge(inst, "{\"name\":\"still here\"}", NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(inst->name, "still here");
    ck_assert_int_eq(json_array_size(ce_instance_config_list(pool, inst)), 3);
    /* moving it to a known element works */
    ck_assert_int_eq(merge(inst, "{\"element\":{\"key\":\"jira\"}}", NULL, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_instance_valid(inst), 1);
}
END_TEST

/* ---- response shapes ----------------------------------------------------- */

START_TEST(to_json_shape)
{
    ce_instance_t *inst = jira();
    const ce_element_t *e = ce_catalog_by_key(cat, "jira");
    const char *element_before = dump(e->json);
    json_t *j, *user;

    inst->id = 4014;
    j = ce_instance_to_json(pool, inst);
    ck_assert_str_eq(
        unit_keys_of(j),
        "id,name,token,element,tags,configuration,provisionInteractions,"
        "valid,externalAuthentication,disabled,maxCacheSize,cacheTimeToLive,cachingEnabled,"
        "eventsEnabled,traceLoggingEnabled,user,createdDate,updatedDate");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 4014);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "J");
    ck_assert_str_eq(json_string_value(json_object_get(j, "token")), inst->token);
    ck_assert_ptr_eq(json_object_get(j, "element"), e->json); /* shared, not copied */
    ck_assert_str_eq(dump(json_object_get(j, "tags")), "[\"qa\"]");
    ck_assert_str_eq(dump(json_object_get(j, "configuration")),
                     "{\"jira.username\":\"ann\",\"jira.password\":\"" CE_MASK
                     "\",\"jira.api.url\":\"https://ann.atlassian.net\"}");
    ck_assert_str_eq(dump(json_object_get(j, "provisionInteractions")), "[]");
    ck_assert(json_is_true(json_object_get(j, "valid")));
    ck_assert(json_is_false(json_object_get(j, "disabled")));
    ck_assert(json_is_integer(json_object_get(j, "maxCacheSize")));
    ck_assert(json_is_integer(json_object_get(j, "cacheTimeToLive")));
    ck_assert(json_is_false(json_object_get(j, "cachingEnabled")));
    ck_assert(json_is_false(json_object_get(j, "eventsEnabled")));
    ck_assert(json_is_false(json_object_get(j, "traceLoggingEnabled")));
    user = json_object_get(j, "user");
    ck_assert_str_eq(dump(user), "{\"id\":7,\"emailAddress\":\"ann@example.com\","
                                 "\"firstName\":\"Ann\",\"lastName\":\"Lee\"}");
    ck_assert_str_eq(json_string_value(json_object_get(j, "createdDate")), inst->created_date);
    ck_assert_str_eq(json_string_value(json_object_get(j, "updatedDate")), inst->updated_date);
    ck_assert_ptr_null(strstr(dump(j), "s3cr3t"));
    /* the response is the caller's to change; the instance and catalog are not affected */
    json_array_append_new(json_object_get(j, "tags"), json_string("added"));
    ck_assert_str_eq(dump(inst->tags), "[\"qa\"]");
    ck_assert_str_eq(dump(e->json), element_before);
}
END_TEST

START_TEST(to_json_user_names_default_empty)
{
    static const ce_user_t bare = {9, 3, "bob@example.com", NULL, NULL};
    ce_instance_t *inst = jira();

    inst->user = &bare;
    ck_assert_str_eq(dump(json_object_get(ce_instance_to_json(pool, inst), "user")),
                     "{\"id\":9,\"emailAddress\":\"bob@example.com\",\"firstName\":\"\","
                     "\"lastName\":\"\"}");
}
END_TEST

START_TEST(unset_secrets_show_as_they_are)
{
    ce_instance_t *inst = jira();
    json_t *j;

    json_object_set_new(inst->configuration, "jira.password", json_string(""));
    j = ce_instance_to_json(pool, inst);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(j, "configuration"), "jira.password")),
        "");
    json_object_set_new(inst->configuration, "jira.password", json_null());
    j = ce_instance_to_json(pool, inst);
    ck_assert(json_is_null(json_object_get(json_object_get(j, "configuration"), "jira.password")));
}
END_TEST

START_TEST(valid_derivation)
{
    ce_instance_t *inst = jira();

    ck_assert_int_eq(ce_instance_valid(inst), 1);
    json_object_set_new(inst->configuration, "jira.api.url", json_string(""));
    ck_assert_int_eq(ce_instance_valid(inst), 0);
    ck_assert(json_is_false(json_object_get(ce_instance_to_json(pool, inst), "valid")));
    json_object_set_new(inst->configuration, "jira.api.url", json_null());
    ck_assert_int_eq(ce_instance_valid(inst), 0);
    json_object_del(inst->configuration, "jira.api.url");
    ck_assert_int_eq(ce_instance_valid(inst), 0);
    json_object_set_new(inst->configuration, "jira.api.url", json_integer(0));
    ck_assert_int_eq(ce_instance_valid(inst), 1);
    json_object_set_new(inst->configuration, "extra", json_null()); /* not required */
    ck_assert_int_eq(ce_instance_valid(inst), 1);
}
END_TEST

static int events_of(ce_instance_t *inst, json_t *value)
{
    if (value) {
        json_object_set_new(inst->configuration, "event.notification.enabled", value);
    }
    return json_is_true(json_object_get(ce_instance_to_json(pool, inst), "eventsEnabled"));
}

START_TEST(events_enabled_derivation)
{
    ce_instance_t *inst =
        create_ok("{\"element\":{\"key\":\"epages\"},\"name\":\"E\",\"configuration\":{"
                  "\"epages.access.token\":\"t\",\"base.url\":\"u\"}}",
                  NULL);

    ck_assert_int_eq(events_of(inst, NULL), 0); /* default "false" */
    ck_assert_int_eq(events_of(inst, json_string("true")), 1);
    ck_assert_int_eq(events_of(inst, json_true()), 1);
    ck_assert_int_eq(events_of(inst, json_false()), 0);
    ck_assert_int_eq(events_of(inst, json_string("TRUE")), 0);
    ck_assert_int_eq(events_of(inst, json_integer(1)), 0);
    ck_assert_int_eq(events_of(inst, json_null()), 0);
    ck_assert_int_eq(events_of(jira(), NULL), 0);
    inst = create_ok(
        "{\"element\":{\"key\":\"epages\"},\"name\":\"E\",\"configuration\":{"
        "\"epages.access.token\":\"t\",\"base.url\":\"u\",\"event.notification.enabled\":true}}",
        NULL);
    ck_assert_int_eq(events_of(inst, NULL), 1);
}
END_TEST

/* ---- configuration entries ----------------------------------------------- */

START_TEST(config_list)
{
    ce_instance_t *inst =
        create_ok("{\"element\":{\"key\":\"jira\"},\"name\":\"J\",\"configuration\":{\"mine\":42,"
                  "\"jira.username\":\"ann\",\"jira.password\":\"s3cr3t\",\"jira.api.url\":\"u\"}}",
                  NULL);
    json_t *list = ce_instance_config_list(pool, inst);

    ck_assert_int_eq(json_array_size(list), 4);
    ck_assert_str_eq(dump(json_array_get(list, 0)),
                     "{\"id\":1,\"key\":\"jira.username\",\"name\":\"Username\","
                     "\"description\":\"Your JIRA user name\",\"type\":\"TEXTFIELD_128\","
                     "\"required\":true,\"defaultValue\":null,\"propertyValue\":\"ann\"}");
    ck_assert_str_eq(dump(json_array_get(list, 1)),
                     "{\"id\":2,\"key\":\"jira.password\",\"name\":\"Password\","
                     "\"description\":\"Your JIRA password\",\"type\":\"PASSWORD\","
                     "\"required\":true,\"defaultValue\":null,\"propertyValue\":\"" CE_MASK "\"}");
    ck_assert_str_eq(dump(json_array_get(list, 3)),
                     "{\"id\":4,\"key\":\"mine\",\"name\":\"mine\",\"description\":\"\","
                     "\"type\":\"TEXTFIELD_1000\",\"required\":false,\"defaultValue\":null,"
                     "\"propertyValue\":42}");
    ck_assert_str_eq(dump(ce_instance_config_entry(pool, inst, 2)), dump(json_array_get(list, 1)));
    ck_assert_str_eq(dump(ce_instance_config_entry(pool, inst, 4)), dump(json_array_get(list, 3)));
    ck_assert_ptr_null(ce_instance_config_entry(pool, inst, 0));
    ck_assert_ptr_null(ce_instance_config_entry(pool, inst, 5));
    ck_assert_ptr_null(ce_instance_config_entry(pool, inst, -1));
}
END_TEST

START_TEST(config_list_defaults)
{
    ce_instance_t *inst =
        create_ok("{\"element\":{\"key\":\"amazons3\"}," S3_CFG ",\"name\":\"S\"}", NULL);
    json_t *e = ce_instance_config_entry(pool, inst, 5);

    ck_assert_str_eq(json_string_value(json_object_get(e, "defaultValue")), "us-east-1");
    e = ce_instance_config_entry(pool, inst, 1);
    ck_assert(json_is_false(json_object_get(e, "defaultValue")));
    ck_assert(json_is_true(json_object_get(e, "propertyValue")));
    ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "BOOLEAN");
}
END_TEST

static apr_status_t set(ce_instance_t *inst, long id, const char *text, const char **perr)
{
    return ce_instance_config_set(inst, pool, cat, id, J(text), perr);
}

START_TEST(config_set)
{
    ce_instance_t *inst = jira();
    const char *err = NULL, *before;

    inst->updated_date = "before";
    ck_assert_int_eq(set(inst, 3, "{\"propertyValue\":\"https://x\",\"id\":3}", &err), APR_SUCCESS);
    ck_assert_str_eq(cfg_str(inst, "jira.api.url"), "https://x");
    ck_assert_str_ne(inst->updated_date, "before");
    ck_assert_str_eq(unit_keys_of(inst->configuration), "jira.username,jira.password,jira.api.url");
    ck_assert_int_eq(set(inst, 2, "{\"propertyValue\":\"" CE_MASK "\"}", &err), APR_SUCCESS);
    ck_assert_str_eq(cfg_str(inst, "jira.password"), "s3cr3t");
    ck_assert_int_eq(set(inst, 2, "{\"propertyValue\":\"p2\"}", &err), APR_SUCCESS);
    ck_assert_str_eq(cfg_str(inst, "jira.password"), "p2");

    before = dump(inst->configuration);
    inst->updated_date = "before";
    ck_assert_int_eq(set(inst, 4, "{\"propertyValue\":\"x\"}", &err), APR_NOTFOUND);
    ck_assert_int_eq(set(inst, 0, "{\"propertyValue\":\"x\"}", &err), APR_NOTFOUND);
    ck_assert_int_eq(set(inst, 1, "{\"propertyValue\":\"\"}", &err), APR_EINVAL);
    ck_assert_str_eq(err, "Configuration entry 'jira.username' is required and cannot be empty");
    ck_assert_int_eq(set(inst, 2, "{\"propertyValue\":null}", &err), APR_EINVAL);
    ck_assert_int_eq(set(inst, 1, "{}", &err), APR_EINVAL);
    ck_assert_str_eq(err, "propertyValue is required");
    ck_assert_int_eq(set(inst, 1, "{\"propertyValue\":{}}", &err), APR_EINVAL);
    ck_assert_str_eq(err, "propertyValue must be a string, number, boolean or null");
    ck_assert_int_eq(set(inst, 1, "{\"propertyValue\":[\"a\"]}", &err), APR_EINVAL);
    ck_assert_int_eq(set(inst, 1, "[1]", &err), APR_EINVAL);
    ck_assert_str_eq(err, "The request body must be a JSON object");
    ck_assert_str_eq(dump(inst->configuration), before);
    ck_assert_str_eq(inst->updated_date, "before");
}
END_TEST

START_TEST(config_set_types)
{
    ce_instance_t *inst =
        create_ok("{\"element\":{\"key\":\"amazons3\"}," S3_CFG ",\"name\":\"S\"}", NULL);
    const char *err = NULL;

    ck_assert_int_eq(set(inst, 1, "{\"propertyValue\":\"maybe\"}", &err), APR_EINVAL);
    ck_assert_str_eq(err, "configuration 'document.tagging' must be true or false");
    ck_assert(json_is_true(json_object_get(inst->configuration, "document.tagging")));
    ck_assert_int_eq(set(inst, 1, "{\"propertyValue\":\"false\"}", &err), APR_SUCCESS);
    ck_assert_str_eq(cfg_str(inst, "document.tagging"), "false");
    ck_assert_int_eq(set(inst, 1, "{\"propertyValue\":null}", &err), APR_SUCCESS);
    ck_assert(json_is_null(json_object_get(inst->configuration, "document.tagging")));
}
END_TEST

/* ---- strings, dates, tokens --------------------------------------------- */

START_TEST(sanitize)
{
    static const char *const cases[][2] = {
        {"<a href=\"#\">x</a>", "x"},
        {"  a  ", "a"},
        {"\t x \r\n", "x"},
        {"x<y>z", "xz"},
        {"a < b", "a"},
        {"<unterminated", ""},
        {"ok<", "ok"},
        {"a>b", "a>b"},
        {"<<a>b>c", "b>c"},
        {"<a<b>>x", ">x"},
        {"<>", ""},
        {"", ""},
        {"   ", ""},
        {"<b> spaced </b>", "spaced"},
        {"\xc3\xa9<b>\xc3\xbc</b>", "\xc3\xa9\xc3\xbc"},
        {"plain text", "plain text"},
        {"a  b", "a  b"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_str_eq(ce_instance_sanitize(pool, cases[i][0]), cases[i][1]);
    }
    ck_assert_str_eq(ce_instance_sanitize(pool, NULL), "");
}
END_TEST

START_TEST(now_format)
{
    const char *now = ce_instance_now(pool);
    int i;

    ck_assert_uint_eq(strlen(now), 24);
    for (i = 0; i < 24; i++) {
        switch (i) {
            case 4:
            case 7:
                ck_assert_int_eq(now[i], '-');
                break;
            case 10:
                ck_assert_int_eq(now[i], 'T');
                break;
            case 13:
            case 16:
                ck_assert_int_eq(now[i], ':');
                break;
            case 19:
                ck_assert_int_eq(now[i], '.');
                break;
            case 23:
                ck_assert_int_eq(now[i], 'Z');
                break;
            default:
                ck_assert(now[i] >= '0' && now[i] <= '9');
        }
    }
    ck_assert(strncmp(now, "2000", 4) > 0);
}
END_TEST

START_TEST(etag_and_if_match)
{
    ce_instance_t inst;
    const char *etag;

    memset(&inst, 0, sizeof(inst));
    inst.id = 12;
    inst.revision = 3;
    etag = ce_instance_etag(pool, &inst);
    ck_assert_str_eq(etag, "\"12-3\"");
    ck_assert(ce_instance_etag_match("\"12-3\"", etag));
    ck_assert(ce_instance_etag_match("*", etag));
    ck_assert(ce_instance_etag_match(" \"1-1\" ,\"12-3\" ", etag));
    ck_assert(ce_instance_etag_match("\"1-1\",\t\"12-3\"", etag));
    ck_assert(!ce_instance_etag_match("W/\"12-3\"", etag));
    ck_assert(!ce_instance_etag_match("\"12-4\"", etag));
    ck_assert(!ce_instance_etag_match("12-3", etag));
    ck_assert(!ce_instance_etag_match("\"12-3", etag));
    ck_assert(!ce_instance_etag_match("\"12-3\"x", etag));
    ck_assert(!ce_instance_etag_match("", etag));
    ck_assert(!ce_instance_etag_match(",,,", etag));
    ck_assert(!ce_instance_etag_match("**", etag));
    inst.revision = 4;
    ck_assert(!ce_instance_etag_match(etag, ce_instance_etag(pool, &inst)));
}
END_TEST

/* Masking: the element's secret entries; a key the element does not define
 * when its name says password, secret, token or key; OAuth elements'
 * oauth.api.key and oauth.api.secret. */
START_TEST(secret_entries_by_catalog_and_name)
{
    ce_instance_t *inst = jira();

    ck_assert(ce_instance_secret_entry(inst, "jira.password"));
    ck_assert(!ce_instance_secret_entry(inst, "jira.username"));
    ck_assert(!ce_instance_secret_entry(inst, "jira.api.url"));
    ck_assert(ce_instance_secret_entry(inst, "password"));
    ck_assert(ce_instance_secret_entry(inst, "My.Secret.Value"));
    ck_assert(ce_instance_secret_entry(inst, "refresh_TOKEN"));
    ck_assert(ce_instance_secret_entry(inst, "apikey"));
    ck_assert(!ce_instance_secret_entry(inst, "username"));
    ck_assert(!ce_instance_secret_entry(inst, "region"));
}
END_TEST

/* The configuration limits hold on create, merge and entry changes, and
 * the message names the limit; nothing is changed by a refused update. */
START_TEST(configuration_limits)
{
    ce_config_limits_t small = {6, 10, 60}, saved = *ce_catalog_limits(cat);
    ce_instance_t *inst;
    const char *err = NULL;

    ce_catalog_set_limits((ce_catalog_t *)cat, &small);
    /* jira's 3 entries + 3 extra: at the limit */
    inst = create_ok("{\"element\":{\"key\":\"jira\"},\"configuration\":{\"jira.username\":\"u\","
                     "\"jira.password\":\"p\",\"jira.api.url\":\"https://x\",\"a\":1,\"b\":2,"
                     "\"c\":3},\"name\":\"J\"}",
                     NULL);
    ck_assert_str_eq(
        merge(inst, "{\"configuration\":{\"d\":4}}", NULL, &err) == APR_EINVAL ? err : "accepted",
        "Configuration has 7 entries; at most 6 are allowed");
    ck_assert_ptr_null(json_object_get(inst->configuration, "d"));
    ck_assert_int_eq(merge(inst, "{\"configuration\":{\"a\":\"0123456789x\"}}", NULL, &err),
                     APR_EINVAL);
    ck_assert_str_eq(err, "Configuration entry 'a' is 11 bytes long; at most 10 are allowed");
    ck_assert_int_eq(json_integer_value(json_object_get(inst->configuration, "a")), 1);
    ck_assert_int_eq(set(inst, 4, "{\"propertyValue\":12345678901}", &err), APR_EINVAL);
    ck_assert_str_eq(err, "Configuration entry 'a' is 11 bytes long; at most 10 are allowed");
    /* in all: keys and values */
    ck_assert_int_eq(merge(inst,
                           "{\"configuration\":{\"a\":\"0123456789\",\"b\":\"0123456789\","
                           "\"c\":\"0123456789\"}}",
                           NULL, &err),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "bytes in all; at most 60 are allowed"));
    ck_assert_str_eq(create_fails("{\"element\":{\"key\":\"jira\"},\"configuration\":{"
                                  "\"jira.username\":\"u\",\"jira.password\":\"p\","
                                  "\"jira.api.url\":\"https://x\",\"a\":1,\"b\":2,\"c\":3,"
                                  "\"d\":4},\"name\":\"J\"}",
                                  NULL),
                     "Configuration has 7 entries; at most 6 are allowed");
    ce_catalog_set_limits((ce_catalog_t *)cat, &saved);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("instance");
    TCase *tc = UNIT_CASE("instance");

    UNIT_FIXTURE(tc);
    tcase_add_checked_fixture(tc, load_catalog, NULL);
    tcase_add_test(tc, create_amazons3_seed);
    tcase_add_test(tc, create_amazons3_fills_region_default);
    tcase_add_test(tc, create_jira_seed);
    tcase_add_test(tc, create_epages_defaults_in_catalog_order);
    tcase_add_test(tc, create_dropbox_with_provider_data);
    tcase_add_test(tc, create_boolean_strings_kept_as_given);
    tcase_add_test(tc, provider_entries_refused);
    tcase_add_test(tc, oauth_asks);
    tcase_add_test(tc, create_number_entries);
    tcase_add_test(tc, create_settings_and_ignored_fields);
    tcase_add_test(tc, create_tokens_are_fresh);
    tcase_add_test(tc, create_without_owner);
    tcase_add_test(tc, missing_required_lists_every_key);
    tcase_add_test(tc, unknown_element);
    tcase_add_test(tc, element_by_id_forms);
    tcase_add_test(tc, element_key_id_mismatch);
    tcase_add_test(tc, scope_check);
    tcase_add_loop_test(tc, wrong_types, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, long_name_tags_keys);
    tcase_add_test(tc, html_stripped_from_name_and_tags);
    tcase_add_test(tc, merge_replaces_name_and_tags);
    tcase_add_test(tc, merge_configuration_entries);
    tcase_add_test(tc, merge_mask_keeps_secret);
    tcase_add_test(tc, merge_settings);
    tcase_add_test(tc, merge_element_change_revalidates);
    tcase_add_loop_test(tc, merge_error_leaves_instance_unchanged, 0,
                        (int)(sizeof(bad_merges) / sizeof(bad_merges[0])));
    tcase_add_test(tc, merge_scope);
    tcase_add_test(tc, element_left_catalog);
    tcase_add_test(tc, to_json_shape);
    tcase_add_test(tc, to_json_user_names_default_empty);
    tcase_add_test(tc, unset_secrets_show_as_they_are);
    tcase_add_test(tc, valid_derivation);
    tcase_add_test(tc, events_enabled_derivation);
    tcase_add_test(tc, config_list);
    tcase_add_test(tc, config_list_defaults);
    tcase_add_test(tc, config_set);
    tcase_add_test(tc, config_set_types);
    tcase_add_test(tc, sanitize);
    tcase_add_test(tc, now_format);
    tcase_add_test(tc, etag_and_if_match);
    tcase_add_test(tc, secret_entries_by_catalog_and_name);
    tcase_add_test(tc, configuration_limits);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
