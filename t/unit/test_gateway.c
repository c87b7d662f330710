/* Unit tests of ce_gateway (an element's provider API, an instance's
 * credential, the URL sent to) and ce_rate (per-instance rate limits). */
#include <string.h>
#include <apr_time.h>
#include "unit.h"
#include "ce_gateway.h"
#include "ce_instance.h"
#include "ce_json.h"
#include "ce_rate.h"

static int any_key(const void *ctx, const char *key)
{
    const char *const *k;

    for (k = ctx; *k; k++) {
        if (strcmp(*k, key) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *const KEYS[] = {"jira.username", "jira.password",    "jira.api.url",
                                   "api.key",       "oauth.user.token", NULL};

/* The api object in text, read; NULL with *perr when refused. */
static const ce_gateway_api_t *api_of(const char *text, const char **perr)
{
    json_t *j = json_loads(text, 0, NULL);
    const ce_gateway_api_t *a = NULL;

    ck_assert_msg(j != NULL, "bad test JSON: %s", text);
    *perr = NULL;
    if (ce_gateway_read_api(&a, pool, j, any_key, KEYS, perr) != APR_SUCCESS) {
        a = NULL;
    }
    json_decref(j);
    return a;
}

START_TEST(catalog_api)
{
    static const char *const good[] = {
        "{\"urlKey\": \"jira.api.url\", \"auth\": \"basic\", \"username\": \"jira.username\", "
        "\"password\": \"jira.password\"}",
        "{\"url\": \"https://api.box.com/2.0\", \"auth\": \"bearer\"}",
        "{\"url\": \"https://x.example\", \"auth\": \"bearer\", \"value\": \"api.key\"}",
        "{\"url\": \"https://x.example\", \"auth\": \"header\", \"name\": \"X-Api-Key\", "
        "\"value\": \"api.key\"}",
        "{\"url\": \"https://x.example\", \"auth\": \"query\", \"name\": \"key\", \"value\": "
        "\"api.key\"}",
        "{\"url\": \"http://127.0.0.1:8080/api\", \"auth\": \"none\"}",
        NULL};
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"[]", "must be an object"},
        {"{\"url\": \"https://x.example\"}", "'auth'"},
        {"{\"url\": \"https://x.example\", \"auth\": \"digest\"}", "one of"},
        {"{\"auth\": \"none\"}", "needs one of url"},
        {"{\"url\": \"https://x\", \"urlKey\": \"jira.api.url\", \"auth\": \"none\"}",
         "one of url"},
        {"{\"url\": \"ftp://x.example\", \"auth\": \"none\"}", "'url'"},
        {"{\"url\": \"https://u:p@x.example\", \"auth\": \"none\"}", "'url'"},
        {"{\"url\": \"https://x.example/?a=1\", \"auth\": \"none\"}", "query"},
        {"{\"urlKey\": \"nope\", \"auth\": \"none\"}", "not an entry"},
        {"{\"url\": \"https://x\", \"auth\": \"basic\", \"username\": \"jira.username\"}",
         "username and password"},
        {"{\"url\": \"https://x\", \"auth\": \"none\", \"password\": \"jira.password\"}",
         "username and password"},
        {"{\"url\": \"https://x\", \"auth\": \"header\", \"value\": \"api.key\"}",
         "name and value"},
        {"{\"url\": \"https://x\", \"auth\": \"header\", \"name\": \"X Key\", \"value\": "
         "\"api.key\"}",
         "'name'"},
        {"{\"url\": \"https://x\", \"auth\": \"basic\", \"username\": \"jira.username\", "
         "\"password\": \"nope\"}",
         "not an entry"},
        {"{\"url\": \"https://x\", \"auth\": \"none\", \"value\": \"api.key\"}", "'value'"},
        {"{\"url\": \"https://x\", \"auth\": \"none\", \"extra\": 1}", "'extra'"},
        {"{\"url\": 7, \"auth\": \"none\"}", "'url'"},
        {"{\"url\": \"\", \"auth\": \"none\"}", "'url'"},
    };
    const char *const *g;
    const char *err = NULL;
    apr_size_t i;

    for (g = good; *g; g++) {
        ck_assert_msg(api_of(*g, &err) != NULL, "%s: %s", *g, err ? err : "");
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(api_of(bad[i].text, &err) == NULL, "accepted %s", bad[i].text);
        ck_assert_msg(err && strstr(err, bad[i].says), "%s: '%s' does not say %s", bad[i].text,
                      err ? err : "", bad[i].says);
    }
}
END_TEST

static json_t *config(void)
{
    json_t *c = json_pack("{ss ss ss ss ss}", "jira.username", "ada", "jira.password", "p@ss:word",
                          "jira.api.url", "https://acme.example/jira/", "api.key", "k-123",
                          "oauth.user.token", "stored-token");

    ce_json_bind(pool, c);
    return c;
}

START_TEST(credentials)
{
    const char *err = NULL;
    json_t *c = config();
    ce_gateway_cred_t cr;

    const ce_gateway_api_t *basic =
        api_of("{\"urlKey\": \"jira.api.url\", \"auth\": \"basic\", \"username\": "
               "\"jira.username\", \"password\": \"jira.password\"}",
               &err);
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, basic, c, NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(cr.header, "Authorization");
    ck_assert_str_eq(cr.header_value, "Basic YWRhOnBAc3M6d29yZA=="); /* ada:p@ss:word */
    ck_assert_ptr_null(cr.param);

    const ce_gateway_api_t *bearer = api_of("{\"url\": \"https://x\", \"auth\": \"bearer\"}", &err);
    ck_assert(ce_gateway_oauth_bearer(bearer));
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, bearer, c, NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(cr.header_value, "Bearer stored-token");
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, bearer, c, "fresh", &err), APR_SUCCESS);
    ck_assert_str_eq(cr.header_value, "Bearer fresh");
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, bearer, c, "a\r\nX: y", &err), APR_EINVAL);

    const ce_gateway_api_t *keyed =
        api_of("{\"url\": \"https://x\", \"auth\": \"bearer\", \"value\": \"api.key\"}", &err);
    ck_assert(!ce_gateway_oauth_bearer(keyed));
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, keyed, c, "ignored", &err), APR_SUCCESS);
    ck_assert_str_eq(cr.header_value, "Bearer k-123");

    const ce_gateway_api_t *header = api_of("{\"url\": \"https://x\", \"auth\": \"header\", "
                                            "\"name\": \"X-Api-Key\", \"value\": \"api.key\"}",
                                            &err);
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, header, c, NULL, &err), APR_SUCCESS);
    ck_assert_str_eq(cr.header, "X-Api-Key");
    ck_assert_str_eq(cr.header_value, "k-123");

    const ce_gateway_api_t *none = api_of("{\"url\": \"https://x\", \"auth\": \"none\"}", &err);
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, none, c, NULL, &err), APR_SUCCESS);
    ck_assert_ptr_null(cr.header);

    /* What cannot travel, named without its value. */
    json_object_set_new(c, "jira.username", json_string("ad:a"));
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, basic, c, NULL, &err), APR_EINVAL);
    ck_assert(strstr(err, "jira.username") && !strstr(err, "ad:a"));
    json_object_set_new(c, "jira.username", json_string("ada"));
    json_object_set_new(c, "jira.password", json_string("line\nbreak"));
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, basic, c, NULL, &err), APR_EINVAL);
    ck_assert(strstr(err, "control characters") && !strstr(err, "break"));
    json_object_del(c, "api.key");
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, header, c, NULL, &err), APR_EINVAL);
    ck_assert(strstr(err, "no value for 'api.key'"));
    json_object_set_new(c, "api.key", json_integer(5));
    ck_assert_int_eq(ce_gateway_credential(&cr, pool, header, c, NULL, &err), APR_EINVAL);
}
END_TEST

START_TEST(urls)
{
    const char *err = NULL, *url = NULL;
    json_t *c = config();
    ce_gateway_cred_t none = {0}, q = {NULL, NULL, "key", "k 1&2"};
    const ce_gateway_api_t *by_key =
        api_of("{\"urlKey\": \"jira.api.url\", \"auth\": \"none\"}", &err);
    const ce_gateway_api_t *fixed =
        api_of("{\"url\": \"https://api.box.com/2.0\", \"auth\": \"none\"}", &err);

    ck_assert_int_eq(ce_gateway_url(&url, pool, by_key, c, "/rest/x", "a=1", &none, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(url, "https://acme.example/jira/rest/x?a=1"); /* one '/' between */
    ck_assert_int_eq(ce_gateway_url(&url, pool, fixed, c, "", NULL, &none, &err), APR_SUCCESS);
    ck_assert_str_eq(url, "https://api.box.com/2.0");
    ck_assert_int_eq(ce_gateway_url(&url, pool, fixed, c, "/f", "", &none, &err), APR_SUCCESS);
    ck_assert_str_eq(url, "https://api.box.com/2.0/f");

    /* The credential's parameter replaces every one of that name, encoded or not. */
    ck_assert_int_eq(
        ce_gateway_url(&url, pool, fixed, c, "/f", "a=1&key=forged&k%65y=x&b", &q, &err),
        APR_SUCCESS);
    ck_assert_str_eq(url, "https://api.box.com/2.0/f?a=1&b&key=k+1%262");
    ck_assert_int_eq(ce_gateway_url(&url, pool, fixed, c, "", "key=only", &q, &err), APR_SUCCESS);
    ck_assert_str_eq(url, "https://api.box.com/2.0?key=k+1%262");

    /* The caller's path (escaped) and query cannot change the URL's shape. */
    ck_assert_int_eq(ce_gateway_url(&url, pool, fixed, c, "/f?x=1", NULL, &none, &err),
                     APR_EBADPATH);
    ck_assert_int_eq(ce_gateway_url(&url, pool, fixed, c, "/f#x", NULL, &none, &err), APR_EBADPATH);
    ck_assert_int_eq(ce_gateway_url(&url, pool, fixed, c, "/f", "a=\001", &none, &err),
                     APR_EBADPATH);
    ck_assert_int_eq(ce_gateway_url(&url, pool, fixed, c, "/f", "a=b c", &none, &err),
                     APR_EBADPATH);

    /* The tenant's base URL is checked like any outbound URL. */
    static const char *const refused[] = {"file:///etc/passwd",
                                          "https://u@x.example/",
                                          "https://x.example/?q=1",
                                          "https://x.example/#f",
                                          "gopher://x",
                                          "",
                                          NULL};
    const char *const *b;

    for (b = refused; *b; b++) {
        json_object_set_new(c, "jira.api.url", json_string(*b));
        ck_assert_msg(ce_gateway_url(&url, pool, by_key, c, "/x", NULL, &none, &err) == APR_EINVAL,
                      "accepted %s", *b);
    }
    json_object_del(c, "jira.api.url");
    ck_assert_int_eq(ce_gateway_url(&url, pool, by_key, c, "/x", NULL, &none, &err), APR_EINVAL);
}
END_TEST

START_TEST(rate_limits)
{
    static ce_rate_table_t t;                   /* zeroed: as the shared memory starts */
    apr_time_t at = apr_time_from_sec(1000000); /* a window start for periods 1, 2 and 4 */
    apr_uint32_t retry = 0;
    int i, n;

    for (i = 0; i < 3; i++) {
        ck_assert(ce_rate_take(&t, 42, 3, 2, at, &retry));
    }
    ck_assert(!ce_rate_take(&t, 42, 3, 2, at, &retry));
    ck_assert_uint_eq(retry, 2);
    ck_assert(!ce_rate_take(&t, 42, 3, 2, at + apr_time_from_sec(1), &retry));
    ck_assert_uint_eq(retry, 1);
    ck_assert(ce_rate_take(&t, 43, 3, 2, at, &retry));                        /* its own count */
    ck_assert(ce_rate_take(&t, 42, 3, 2, at + apr_time_from_sec(2), &retry)); /* next window */
    ck_assert(!ce_rate_take(&t, 7, 0, 1, at, &retry));                        /* limit 0 */

    /* Many instances at once: each gets its own limit while slots last. */
    for (i = 1000; i < 1000 + CE_RATE_SLOTS / 4; i++) {
        for (n = 0; n < 2; n++) {
            ck_assert_msg(ce_rate_take(&t, i, 2, 4, at, &retry), "instance %d call %d", i, n);
        }
        ck_assert_msg(!ce_rate_take(&t, i, 2, 4, at, &retry), "instance %d over its limit", i);
    }
    /* A window later, the slots are taken over by whoever needs them. */
    for (i = 5000000; i < 5000000 + CE_RATE_SLOTS / 4; i++) {
        ck_assert(ce_rate_take(&t, i, 1, 4, at + apr_time_from_sec(4), &retry));
        ck_assert(!ce_rate_take(&t, i, 1, 4, at + apr_time_from_sec(4), &retry));
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gateway");
    TCase *tc = UNIT_CASE("gateway");

    UNIT_FIXTURE(tc);
    tcase_add_test(tc, catalog_api);
    tcase_add_test(tc, credentials);
    tcase_add_test(tc, urls);
    tcase_add_test(tc, rate_limits);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
