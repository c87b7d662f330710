/* Unit tests of ce_catalog: the shipped conf/elements.json, every validation
 * error, field defaults and lookups. */
#include <string.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include "unit.h"
#include "ce_catalog.h"
#include "ce_json.h"

/* The shipped catalog: $CE_CATALOG, else conf/elements.json (make unit runs
 * from the repository root). */
static const char *catalog_path(void)
{
    const char *path = getenv("CE_CATALOG");

    return path && *path ? path : "conf/elements.json";
}

static ce_catalog_t *load_shipped(void)
{
    ce_catalog_t *cat = NULL;
    const char *err = NULL;
    apr_status_t rv = ce_catalog_load(&cat, pool, catalog_path(), &err);

    ck_assert_msg(rv == APR_SUCCESS, "loading %s: %s", catalog_path(), err ? err : "?");
    ck_assert_ptr_nonnull(cat);
    return cat;
}

static apr_status_t parse(ce_catalog_t **pcat, const char *text, const char **perr)
{
    return ce_catalog_parse(pcat, pool, text, strlen(text), perr);
}

START_TEST(shipped_catalog_loads)
{
    static const struct {
        long id;
        const char *key, *name, *provision;
        int oauth, nconfig;
    } want[] = {
        {16, "amazons3", "Amazon S3", "API_KEY", 0, 5},
        {1, "jira", "JIRA", "API_KEY", 0, 3},
        {1595, "epages", "ePages", "API_KEY", 0, 14},
        {14, "dropbox", "Dropbox", "OAUTH_TEMPLATE", 1, 9},
        {22, "box", "Box", "OAUTH_TEMPLATE", 1, 8},
        {23, "sfdc", "Salesforce.com", "OAUTH_TEMPLATE", 0, 9},
        {29, "sfdcservicecloud", "Salesforce.com Service Cloud", "OAUTH_TEMPLATE", 1, 9},
    };
    ce_catalog_t *cat = load_shipped();
    const apr_array_header_t *all = ce_catalog_elements(cat);
    apr_size_t i;

    ck_assert_int_ge(all->nelts, 7);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const ce_element_t *e = ce_catalog_by_key(cat, want[i].key);

        ck_assert_msg(e != NULL, "%s missing", want[i].key);
        ck_assert_int_eq(e->id, want[i].id);
        ck_assert_str_eq(e->name, want[i].name);
        ck_assert_int_eq(e->config->nelts, want[i].nconfig);
        ck_assert_ptr_eq(ce_catalog_by_id(cat, want[i].id), e);
        ck_assert_str_eq(json_string_value(json_object_get(e->json, "elementProvisionType")),
                         want[i].provision);
        ck_assert_int_eq(json_is_true(json_object_get(e->json, "typeOauth")), want[i].oauth);
        ck_assert(json_is_true(json_object_get(e->json, "active")));
        ck_assert_int_gt(strlen(json_string_value(json_object_get(e->json, "description"))), 5);
    }
}
END_TEST

START_TEST(shipped_element_json_shape)
{
    ce_catalog_t *cat = load_shipped();
    const ce_element_t *e = ce_catalog_by_key(cat, "amazons3");
    json_t *entry;

    ck_assert_str_eq(unit_keys_of(e->json),
                     "id,name,key,description,image,active,deleted,typeOauth,trialAccount,"
                     "existingAccountDescription,configDescription,signupURL,"
                     "transformationsEnabled,hub,elementProvisionType");
    ck_assert_str_eq(json_string_value(json_object_get(e->json, "hub")), "documents");
    ck_assert_str_eq(json_string_value(json_object_get(e->json, "image")),
                     "elements/provider_amazon_aws.png");
    ck_assert_str_eq(unit_keys_of(e->detail),
                     "id,name,key,description,image,active,deleted,typeOauth,trialAccount,"
                     "existingAccountDescription,configDescription,signupURL,"
                     "transformationsEnabled,hub,elementProvisionType,configuration");
    ck_assert_ptr_null(json_object_get(e->json, "configuration"));
    ck_assert_int_eq(json_array_size(json_object_get(e->detail, "configuration")), 5);
    entry = json_array_get(json_object_get(e->detail, "configuration"), 4);
    ck_assert_str_eq(ce_json_dump(pool, entry),
                     "{\"key\":\"filemanagement.provider.region_name\",\"name\":\"Region Name\","
                     "\"type\":\"TEXTFIELD_32\",\"required\":true,\"defaultValue\":\"us-east-1\","
                     "\"description\":\"The AWS region of the bucket\"}");
    entry = json_array_get(json_object_get(e->detail, "configuration"), 1);
    ck_assert(json_is_null(json_object_get(entry, "defaultValue")));
    /* quotes in the seed's HTML survive as real quotes */
    e = ce_catalog_by_key(cat, "dropbox");
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(e->json, "existingAccountDescription")),
               "<span class=\"buttonDescription\">"));
}
END_TEST

START_TEST(shipped_config_specs)
{
    ce_catalog_t *cat = load_shipped();
    const ce_element_t *s3 = ce_catalog_by_key(cat, "amazons3");
    const ce_element_t *ep = ce_catalog_by_key(cat, "epages");
    const ce_config_spec_t *spec;

    spec = ce_catalog_config_spec(s3, "document.tagging");
    ck_assert_str_eq(spec->type, "BOOLEAN");
    ck_assert_int_eq(spec->required, 0);
    ck_assert(json_is_false(spec->default_value));
    spec = ce_catalog_config_spec(s3, "filemanagement.provider.secret_key");
    ck_assert_str_eq(spec->type, "PASSWORD");
    ck_assert_int_eq(spec->secret, 1);
    ck_assert_int_eq(spec->required, 1);
    ck_assert_ptr_null(spec->default_value);
    spec = ce_catalog_config_spec(s3, "filemanagement.provider.access_key");
    ck_assert_int_eq(spec->secret, 0);
    ck_assert_int_eq(spec->required, 1);
    ck_assert_ptr_null(ce_catalog_config_spec(s3, "nope"));
    spec = ce_catalog_config_spec(ep, "epages.access.token");
    ck_assert_int_eq(spec->secret && spec->required, 1);
    spec = ce_catalog_config_spec(ep, "event.notification.subscription.id");
    ck_assert(json_is_null(spec->default_value));
    ck_assert_int_eq(spec->required, 0);
    /* the seed's username/password slips are not part of ePages */
    ck_assert_ptr_null(ce_catalog_config_spec(ep, "username"));
    ck_assert_ptr_null(ce_catalog_config_spec(ep, "password"));
    spec = ce_catalog_config_spec(ce_catalog_by_key(cat, "jira"), "jira.password");
    ck_assert_int_eq(spec->secret, 1);
    spec = ce_catalog_config_spec(ce_catalog_by_key(cat, "sfdc"), "oauth.api.secret");
    ck_assert_int_eq(spec->secret && spec->required, 1);
    /* an OAuth element's API key is secret too, whatever the file says */
    spec = ce_catalog_config_spec(ce_catalog_by_key(cat, "sfdc"), "oauth.api.key");
    ck_assert_int_eq(spec->secret, 1);
    spec = ce_catalog_config_spec(ce_catalog_by_key(cat, "jira"), "jira.username");
    ck_assert_int_eq(spec->secret, 0);
}
END_TEST

START_TEST(lookups)
{
    ce_catalog_t *cat = load_shipped();
    const ce_element_t *s3 = ce_catalog_by_key(cat, "amazons3");

    ck_assert_ptr_eq(ce_catalog_by_id(cat, 16), s3);
    ck_assert_ptr_eq(ce_catalog_find(cat, "16"), s3);
    ck_assert_ptr_eq(ce_catalog_find(cat, "amazons3"), s3);
    ck_assert_str_eq(ce_catalog_find(cat, "1595")->key, "epages");
    ck_assert_str_eq(ce_catalog_find(cat, "1")->key, "jira");
    ck_assert_ptr_null(ce_catalog_find(cat, "016"));
    ck_assert_ptr_null(ce_catalog_find(cat, "0"));
    ck_assert_ptr_null(ce_catalog_find(cat, "-16"));
    ck_assert_ptr_null(ce_catalog_find(cat, "+16"));
    ck_assert_ptr_null(ce_catalog_find(cat, "16 "));
    ck_assert_ptr_null(ce_catalog_find(cat, "99999999999999999999999"));
    ck_assert_ptr_null(ce_catalog_find(cat, ""));
    ck_assert_ptr_null(ce_catalog_find(cat, NULL));
    ck_assert_ptr_null(ce_catalog_find(cat, "AmazonS3"));
    ck_assert_ptr_null(ce_catalog_by_key(cat, "nope"));
    ck_assert_ptr_null(ce_catalog_by_key(cat, NULL));
    ck_assert_ptr_null(ce_catalog_by_id(cat, 0));
    ck_assert_ptr_null(ce_catalog_by_id(cat, -16));
    ck_assert_ptr_null(ce_catalog_config_spec(NULL, "x"));
}
END_TEST

START_TEST(defaults_of_optional_fields)
{
    ce_catalog_t *cat;
    const char *err = NULL;
    const ce_element_t *e;
    const ce_config_spec_t *spec;

    ck_assert_int_eq(parse(&cat,
                           "{\"elements\":[{\"id\":5,\"key\":\"x-1.a_b\",\"name\":\"X\","
                           "\"configuration\":[{\"key\":\"k\",\"type\":\"TEXTAREA\"},"
                           "{\"key\":\"s\",\"type\":\"TEXTFIELD_32\",\"secret\":true,"
                           "\"defaultValue\":null}]},"
                           "{\"id\":6,\"key\":\"y\",\"name\":\"Y\"}]}",
                           &err),
                     APR_SUCCESS);
    e = ce_catalog_find(cat, "5");
    ck_assert_str_eq(
        ce_json_dump(pool, e->json),
        "{\"id\":5,\"name\":\"X\",\"key\":\"x-1.a_b\",\"description\":\"\","
        "\"image\":\"\",\"active\":true,\"deleted\":false,\"typeOauth\":false,"
        "\"trialAccount\":false,\"existingAccountDescription\":\"\","
        "\"configDescription\":\"\",\"signupURL\":\"\","
        "\"transformationsEnabled\":false,\"hub\":\"\",\"elementProvisionType\":\"\"}");
    spec = ce_catalog_config_spec(e, "k");
    ck_assert_str_eq(spec->name, "k");
    ck_assert_str_eq(spec->description, "");
    ck_assert_int_eq(spec->required, 0);
    ck_assert_int_eq(spec->secret, 0);
    ck_assert_ptr_null(spec->default_value);
    spec = ce_catalog_config_spec(e, "s");
    ck_assert_int_eq(spec->secret, 1);
    ck_assert_ptr_nonnull(spec->default_value);
    ck_assert(json_is_null(spec->default_value));
    e = ce_catalog_by_key(cat, "y");
    ck_assert_int_eq(e->config->nelts, 0);
    ck_assert_str_eq(ce_json_dump(pool, json_object_get(e->detail, "configuration")), "[]");
    ck_assert_int_eq(ce_catalog_elements(cat)->nelts, 2);
    ck_assert_ptr_eq(APR_ARRAY_IDX(ce_catalog_elements(cat), 1, const ce_element_t *), e);
}
END_TEST

START_TEST(empty_catalog)
{
    ce_catalog_t *cat;
    const char *err = NULL;

    ck_assert_int_eq(parse(&cat, "{\"elements\":[]}", &err), APR_SUCCESS);
    ck_assert_int_eq(ce_catalog_elements(cat)->nelts, 0);
    ck_assert_ptr_null(ce_catalog_find(cat, "16"));
}
END_TEST

#define AUTH_URL                                                                                   \
    "{\"key\":\"oauth.authorization.url\",\"type\":\"TEXTAREA\",\"defaultValue\":\"https://"       \
    "p.example/a\"}"
#define TOKEN_URL(u)                                                                               \
    "{\"key\":\"oauth.token.url\",\"type\":\"TEXTAREA\",\"defaultValue\":\"" u "\"}"

/* Each bad catalog and the message it must produce (a substring). */
#define EL(fields) "{\"elements\":[{" fields "}]}"
#define OK_EL "\"id\":1,\"key\":\"a\",\"name\":\"A\""
#define CFG(entries) EL(OK_EL ",\"configuration\":[" entries "]")
static const struct {
    const char *text, *message;
} bad[] = {
    {"{", "Malformed JSON"},
    {"[]", "element catalog: must be a JSON object"},
    {"{\"elements\":[],\"extra\":1}", "element catalog: unknown field 'extra'"},
    {"{}", "element catalog: field 'elements' is required and must be an array"},
    {"{\"elements\":{}}", "field 'elements' is required and must be an array"},
    {"{\"elements\":[1]}", "elements[0]: must be an object"},
    {EL("\"key\":\"a\",\"name\":\"A\""), "elements[0] ('a'): field 'id' is required"},
    {EL("\"id\":0,\"key\":\"a\",\"name\":\"A\""), "elements[0] ('a'): field 'id'"},
    {EL("\"id\":-3,\"key\":\"a\",\"name\":\"A\""), "elements[0] ('a'): field 'id'"},
    {EL("\"id\":\"16\",\"key\":\"a\",\"name\":\"A\""), "elements[0] ('a'): field 'id'"},
    {EL("\"id\":1.5,\"key\":\"a\",\"name\":\"A\""), "elements[0] ('a'): field 'id'"},
    {EL("\"id\":1,\"name\":\"A\""), "elements[0]: field 'key' is required"},
    {EL("\"id\":1,\"key\":5,\"name\":\"A\""), "elements[0]: field 'key' is required"},
    {EL("\"id\":1,\"key\":\"\",\"name\":\"A\""), "elements[0] (''): field 'key' is required"},
    {EL("\"id\":1,\"key\":\"a b\",\"name\":\"A\""), "elements[0] ('a b'): field 'key' may contain"},
    {EL("\"id\":1,\"key\":\"a/b\",\"name\":\"A\""), "field 'key' may contain only"},
    {EL("\"id\":1,\"key\":\"123\",\"name\":\"A\""), "elements[0] ('123'): field 'key' must not"},
    {EL("\"id\":1,\"key\":\"a\""), "elements[0] ('a'): field 'name' is required"},
    {EL("\"id\":1,\"key\":\"a\",\"name\":\"\""), "elements[0] ('a'): field 'name' is required"},
    {EL("\"id\":1,\"key\":\"a\",\"name\":[]"), "elements[0] ('a'): field 'name' is required"},
    {"{\"elements\":[{" OK_EL "},{\"id\":1,\"key\":\"b\",\"name\":\"B\"}]}",
     "elements[1] ('b'): duplicate id 1 (also used by 'a')"},
    {"{\"elements\":[{" OK_EL "},{\"id\":2,\"key\":\"a\",\"name\":\"B\"}]}",
     "elements[1] ('a'): duplicate key 'a' (also used by id 1)"},
    {EL(OK_EL ",\"descripton\":\"x\""), "elements[0] ('a'): unknown field 'descripton'"},
    {EL(OK_EL ",\"description\":5"), "elements[0] ('a'): field 'description' must be a string"},
    {EL(OK_EL ",\"hub\":null"), "elements[0] ('a'): field 'hub' must be a string"},
    {EL(OK_EL ",\"active\":\"yes\""), "elements[0] ('a'): field 'active' must be true or false"},
    {EL(OK_EL ",\"typeOauth\":1"), "elements[0] ('a'): field 'typeOauth' must be true or false"},
    {EL(OK_EL ",\"configuration\":{}"),
     "elements[0] ('a'): field 'configuration' must be an array"},
    {CFG("1"), "elements[0] ('a'), configuration[0]: must be an object"},
    {CFG("{\"type\":\"TEXTAREA\"}"),
     "elements[0] ('a'), configuration[0]: field 'key' is required"},
    {CFG("{\"key\":\"\",\"type\":\"TEXTAREA\"}"), "configuration[0] (''): field 'key' is required"},
    {CFG("{\"key\":\"k\"}"), "elements[0] ('a'), configuration[0] ('k'): field 'type' is required"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXT\"}"),
     "configuration[0] ('k'): field 'type' is required and must be one of TEXTFIELD_32, "},
    {CFG("{\"key\":\"k\",\"type\":7}"), "configuration[0] ('k'): field 'type'"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXTAREA\",\"defaultValue\":{}}"),
     "configuration[0] ('k'): field 'defaultValue' must be a string, number, boolean or null"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXTAREA\",\"defaultValue\":[1]}"),
     "configuration[0] ('k'): field 'defaultValue'"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXTAREA\"},{\"key\":\"k\",\"type\":\"PASSWORD\"}"),
     "elements[0] ('a'), configuration[1] ('k'): duplicate configuration key 'k'"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXTAREA\",\"requried\":true}"),
     "configuration[0] ('k'): unknown field 'requried'"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXTAREA\",\"required\":\"yes\"}"),
     "configuration[0] ('k'): field 'required' must be true or false"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXTAREA\",\"secret\":1}"),
     "configuration[0] ('k'): field 'secret' must be true or false"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXTAREA\",\"name\":\"\"}"),
     "configuration[0] ('k'): field 'name' must not be empty"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXTAREA\",\"name\":3}"),
     "configuration[0] ('k'): field 'name' must be a string"},
    {CFG("{\"key\":\"k\",\"type\":\"TEXTAREA\",\"description\":false}"),
     "configuration[0] ('k'): field 'description' must be a string"},
    {"{\"elements\":[{" OK_EL ",\"id\":2}]}", "Malformed JSON"},
    /* OAuth provider entries: the operator's values, checked */
    {CFG(TOKEN_URL("https://p.example/t")),
     "configuration 'oauth.token.url': an OAuth element needs oauth.authorization.url"},
    {CFG(AUTH_URL ",{\"key\":\"oauth.token.url\",\"type\":\"TEXTAREA\"}"),
     "configuration 'oauth.token.url': needs a defaultValue"},
    {CFG(AUTH_URL "," TOKEN_URL("ftp://p.example/t")),
     "configuration 'oauth.token.url': a ftp URL"},
    {CFG(AUTH_URL "," TOKEN_URL("https://u:p@p.example/t")), "configuration 'oauth.token.url'"},
    {CFG(AUTH_URL "," TOKEN_URL("https://p.example/t") ",{\"key\":\"oauth.scope\",\"type\":"
                                                       "\"TEXTAREA\",\"required\":true,"
                                                       "\"defaultValue\":\"s\"}"),
     "configuration 'oauth.scope': an OAuth provider entry cannot be required"},
    {CFG(AUTH_URL "," TOKEN_URL("https://p.example/t") ",{\"key\":\"oauth.token.refresh_"
                                                       "interval\",\"type\":\"NUMBER\","
                                                       "\"defaultValue\":0}"),
     "configuration 'oauth.token.refresh_interval': must be a positive number of seconds"},
    {CFG("{\"key\":\"oauth.scope\",\"type\":\"TEXTAREA\",\"defaultValue\":\"s\"}"),
     "configuration 'oauth.scope': an OAuth element needs"},
};

START_TEST(validation_errors)
{
    ce_catalog_t *cat = (ce_catalog_t *)1;
    const char *err = NULL;

    ck_assert_int_eq(parse(&cat, bad[_i].text, &err), APR_EINVAL);
    ck_assert_ptr_null(cat);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, bad[_i].message) != NULL, "case %d: got \"%s\", want \"%s\"", _i, err,
                  bad[_i].message);
}
END_TEST

START_TEST(load_errors_name_the_path)
{
    ce_catalog_t *cat = NULL;
    const char *err = NULL, *path;
    apr_file_t *f;
    char tmpl[] = "/tmp/ce_catalog_XXXXXX";
    apr_size_t n;
    static const char text[] = "{\"elements\":[{\"id\":1}]}";

    ck_assert_int_ne(ce_catalog_load(&cat, pool, "/nonexistent/elements.json", &err), APR_SUCCESS);
    ck_assert_ptr_null(cat);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/elements.json"));

    ck_assert_int_eq(
        apr_file_mktemp(&f, tmpl,
                        APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_DELONCLOSE,
                        pool),
        APR_SUCCESS);
    n = sizeof(text) - 1;
    ck_assert_int_eq(apr_file_write_full(f, text, n, NULL), APR_SUCCESS);
    apr_file_name_get(&path, f);
    ck_assert_int_eq(ce_catalog_load(&cat, pool, path, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "elements[0]: field 'key'"));
    apr_file_close(f);
}
END_TEST

/* The shipped OAuth elements' providers, read from the catalog. */
START_TEST(shipped_oauth_providers)
{
    ce_catalog_t *cat = load_shipped();
    const ce_oauth_provider_t *d = ce_catalog_by_key(cat, "dropbox")->oauth;
    const ce_oauth_provider_t *s = ce_catalog_by_key(cat, "sfdc")->oauth;
    const ce_oauth_provider_t *b = ce_catalog_by_key(cat, "box")->oauth;

    ck_assert_ptr_null(ce_catalog_by_key(cat, "jira")->oauth);
    ck_assert_ptr_null(ce_catalog_by_key(cat, "amazons3")->oauth);
    ck_assert_ptr_nonnull(ce_catalog_by_key(cat, "sfdcservicecloud")->oauth);
    ck_assert_str_eq(d->authorization_url, "https://www.dropbox.com/oauth2/authorize");
    ck_assert_str_eq(d->token_url, "https://api.dropboxapi.com/oauth2/token");
    ck_assert_str_eq(d->refresh_url, d->token_url);
    ck_assert_ptr_null(d->revoke_url);
    ck_assert_ptr_null(d->scope);
    ck_assert_str_eq(apr_table_get(d->params, "token_access_type"), "offline");
    ck_assert_int_eq(d->refresh_interval, CE_OAUTH_REFRESH_INTERVAL_DEFAULT);
    ck_assert_str_eq(s->scope, "api refresh_token");
    ck_assert_str_eq(s->revoke_url, "https://login.salesforce.com/services/oauth2/revoke");
    ck_assert_int_eq(s->refresh_interval, 3600);
    ck_assert_str_eq(b->token_url, "https://api.box.com/oauth2/token");
    ck_assert_int_eq(apr_is_empty_table(b->params), 1);
    ck_assert(ce_catalog_config_spec(ce_catalog_by_key(cat, "box"), "oauth.token.url")->provider);
    ck_assert(!ce_catalog_config_spec(ce_catalog_by_key(cat, "box"), "oauth.api.key")->provider);
}
END_TEST

START_TEST(load_empty_file)
{
    ce_catalog_t *cat = NULL;
    const char *err = NULL;

    ck_assert_int_eq(ce_catalog_load(&cat, pool, "/dev/null", &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "/dev/null"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = UNIT_CASE("catalog");

    UNIT_FIXTURE(tc);
    tcase_add_test(tc, shipped_catalog_loads);
    tcase_add_test(tc, shipped_element_json_shape);
    tcase_add_test(tc, shipped_config_specs);
    tcase_add_test(tc, lookups);
    tcase_add_test(tc, defaults_of_optional_fields);
    tcase_add_test(tc, empty_catalog);
    tcase_add_loop_test(tc, validation_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, load_errors_name_the_path);
    tcase_add_test(tc, load_empty_file);
    tcase_add_test(tc, shipped_oauth_providers);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
