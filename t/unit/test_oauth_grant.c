/* Unit tests of ce_oauth_grant: the code exchange and the refresh against
 * canned provider answers (a ce_http transport of the test's own), and
 * what success and failure change in an instance. */
#include <string.h>
#include "unit.h"
#include "unit_http.h"
#include "ce_instance.h"
#include "ce_json.h"
#include "ce_oauth.h"

static const char catalog_text[] =
    "{\"elements\":[{\"id\":1,\"key\":\"p\",\"name\":\"P\",\"configuration\":["
    "{\"key\":\"oauth.callback.url\",\"type\":\"TEXTAREA\",\"required\":true},"
    "{\"key\":\"oauth.api.key\",\"type\":\"TEXTAREA\",\"required\":true},"
    "{\"key\":\"oauth.api.secret\",\"type\":\"PASSWORD\",\"required\":true},"
    "{\"key\":\"oauth.authorization.url\",\"type\":\"TEXTAREA\",\"defaultValue\":"
    "\"https://p.example/auth\"},"
    "{\"key\":\"oauth.token.url\",\"type\":\"TEXTAREA\",\"defaultValue\":"
    "\"https://p.example/token\"},"
    "{\"key\":\"oauth.token.refresh_url\",\"type\":\"TEXTAREA\",\"defaultValue\":"
    "\"https://p.example/refresh\"},"
    "{\"key\":\"oauth.token.refresh_interval\",\"type\":\"NUMBER\",\"defaultValue\":1200}]}]}";

static ce_instance_t *instance(const char *code, const char *refresh)
{
    ce_catalog_t *cat = NULL;
    ce_instance_t *inst = apr_pcalloc(pool, sizeof(*inst));
    const char *err = NULL;

    ck_assert_int_eq(ce_catalog_parse(&cat, pool, catalog_text, strlen(catalog_text), &err),
                     APR_SUCCESS);
    inst->element = ce_catalog_by_key(cat, "p");
    inst->configuration = ce_json_object(pool);
    json_object_set_new(inst->configuration, "oauth.callback.url",
                        json_string("https://app.example/cb"));
    json_object_set_new(inst->configuration, "oauth.api.key", json_string("client 1"));
    json_object_set_new(inst->configuration, "oauth.api.secret", json_string("s3cr3t&x"));
    if (refresh) {
        json_object_set_new(inst->configuration, CE_OAUTH_USER_REFRESH_TOKEN, json_string(refresh));
    }
    inst->provider_code = code;
    inst->oauth_status = "";
    return inst;
}

static const char *cfg(const ce_instance_t *inst, const char *key)
{
    return json_string_value(json_object_get(inst->configuration, key));
}

START_TEST(code_exchange)
{
    canned_t c = {.status = 200,
                  .answer =
                      "{\"access_token\":\"A1\",\"refresh_token\":\"R1\",\"expires_in\":100}"};
    ce_instance_t *inst = instance("the code", NULL);
    ce_oauth_token_t tok;
    const char *err = NULL;
    apr_time_t now = apr_time_from_sec(1700000000);

    ck_assert_int_eq(ce_oauth_obtain(&tok, transport(&c), pool, inst, &err), APR_SUCCESS);
    ck_assert_str_eq(c.url, "https://p.example/token");
    ck_assert_str_eq(c.body, "grant_type=authorization_code&code=the+code&redirect_uri=https%3a%2f%"
                             "2fapp.example%2fcb&client_id=client+1&client_secret=s3cr3t%26x");
    ce_oauth_apply(inst, pool, &tok, now);
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_TOKEN), "A1");
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_REFRESH_TOKEN), "R1");
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_REFRESH_TIME), "1700000000000");
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_REFRESH_INTERVAL), "100");
    /* due a quarter of the lifetime before expiry */
    ck_assert_int_eq(inst->oauth_due, 1700000000000LL + 75000);
    ck_assert_ptr_null(inst->provider_code);
    ck_assert(ce_instance_oauth_problem(inst) == NULL);
}
END_TEST

/* A refresh trades the stored refresh token; a provider that rotates it
 * gets the new one kept, one that sends none leaves ours; no expires_in:
 * the element's interval. */
START_TEST(refresh_rotation_and_interval)
{
    canned_t c = {.status = 200, .answer = "{\"access_token\":\"A2\",\"refresh_token\":\"R2\"}"};
    ce_instance_t *inst = instance(NULL, "R1");
    ce_oauth_token_t tok;
    const char *err = NULL;
    apr_time_t now = apr_time_from_sec(1700000000);

    ck_assert_int_eq(ce_oauth_obtain(&tok, transport(&c), pool, inst, &err), APR_SUCCESS);
    ck_assert_str_eq(c.url, "https://p.example/refresh");
    ck_assert_str_eq(c.body, "grant_type=refresh_token&refresh_token=R1&client_id=client+1"
                             "&client_secret=s3cr3t%26x");
    ce_oauth_apply(inst, pool, &tok, now);
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_REFRESH_TOKEN), "R2");
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_REFRESH_INTERVAL), "1200");
    ck_assert_int_eq(inst->oauth_due, 1700000000000LL + 1200000 - 300000);

    c.answer = "{\"access_token\":\"A3\",\"expires_in\":3600}";
    ck_assert_int_eq(ce_oauth_obtain(&tok, transport(&c), pool, inst, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(c.body, "refresh_token=R2"));
    ce_oauth_apply(inst, pool, &tok, now);
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_TOKEN), "A3");
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_REFRESH_TOKEN), "R2");
}
END_TEST

START_TEST(provider_failures)
{
    canned_t c = {.status = 400,
                  .answer = "{\"error\":\"invalid_grant\",\"error_description\":\"code expired\"}"};
    ce_instance_t *inst = instance("c", NULL);
    ce_oauth_token_t tok;
    const char *err = NULL;

    ck_assert_int_eq(ce_oauth_obtain(&tok, transport(&c), pool, inst, &err), CE_OAUTH_REFUSED);
    ck_assert_str_eq(err, "code expired");
    c.answer = "{\"error\":\"invalid_client\"}";
    c.status = 401;
    ck_assert_int_eq(ce_oauth_obtain(&tok, transport(&c), pool, inst, &err), CE_OAUTH_REFUSED);
    ck_assert_str_eq(err, "invalid_client");
    c.status = 503;
    c.answer = "{\"error\":\"temporarily_unavailable\"}";
    ck_assert_int_eq(ce_oauth_obtain(&tok, transport(&c), pool, inst, &err), CE_OAUTH_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(err, "503"));
    c.status = 200;
    c.answer = "<html>hello</html>";
    ck_assert_int_eq(ce_oauth_obtain(&tok, transport(&c), pool, inst, &err), CE_OAUTH_UNAVAILABLE);
    c.fail = CE_HTTP_UNREACHABLE;
    ck_assert_int_eq(ce_oauth_obtain(&tok, transport(&c), pool, inst, &err), CE_HTTP_UNREACHABLE);
    /* nothing to refresh with */
    inst = instance(NULL, NULL);
    c.fail = 0;
    c.url = NULL;
    ck_assert_int_eq(ce_oauth_obtain(&tok, transport(&c), pool, inst, &err), APR_EINVAL);
    ck_assert_ptr_null(c.url);
}
END_TEST

/* A failed refresh never loses the tokens: a refusal makes the instance
 * not valid (with the reason), anything else retries later, later. */
START_TEST(failed_refresh)
{
    ce_instance_t *inst = instance(NULL, "R1");
    apr_time_t now = apr_time_from_sec(1000);
    apr_int64_t pauses[6];
    int i;

    json_object_set_new(inst->configuration, CE_OAUTH_USER_TOKEN, json_string("A1"));
    for (i = 0; i < 6; i++) {
        ce_oauth_failed(inst, pool, CE_OAUTH_UNAVAILABLE, "503", now);
        pauses[i] = inst->oauth_due - 1000000;
    }
    ck_assert_int_eq(pauses[0], 1000);
    ck_assert_int_eq(pauses[1], 2000);
    ck_assert_int_eq(pauses[5], 32000);
    ck_assert_int_eq(inst->oauth_failures, 6);
    ck_assert(ce_instance_oauth_problem(inst) == NULL);
    ce_oauth_failed(inst, pool, CE_OAUTH_REFUSED, "invalid_grant", now);
    ck_assert_int_eq(inst->oauth_due, 0);
    ck_assert_ptr_nonnull(strstr(ce_instance_oauth_problem(inst), "invalid_grant"));
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_REFRESH_TOKEN), "R1");
    ck_assert_str_eq(cfg(inst, CE_OAUTH_USER_TOKEN), "A1");
    for (i = 0; i < 30; i++) {
        ce_oauth_failed(inst, pool, CE_HTTP_UNREACHABLE, "x", now);
    }
    ck_assert_int_eq(inst->oauth_due - 1000000, 300000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oauth_grant");
    TCase *tc = UNIT_CASE("grant");

    UNIT_FIXTURE(tc);
    tcase_add_test(tc, code_exchange);
    tcase_add_test(tc, refresh_rotation_and_interval);
    tcase_add_test(tc, provider_failures);
    tcase_add_test(tc, failed_refresh);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
