/* Unit tests of ce_oauth: the authorization URL, token request bodies, and
 * reading token answers (RFC 6749 4.1 and 5), good and hostile. */
#include <string.h>
#include "unit.h"
#include "ce_oauth.h"

START_TEST(authorize_url)
{
    apr_table_t *extra = apr_table_make(pool, 2);
    ce_oauth_authorize_t a = {"https://www.dropbox.com/oauth2/authorize",
                              "my key",
                              "https://app.example/cb?x=1&y=2",
                              "files.read a/b",
                              "dropbox",
                              NULL};
    const char *err = NULL, *url;

    url = ce_oauth_authorize_url(pool, &a, &err);
    ck_assert_str_eq(url, "https://www.dropbox.com/oauth2/authorize?response_type=code"
                          "&client_id=my+key&redirect_uri=https%3a%2f%2fapp.example%2fcb%3fx%3d1"
                          "%26y%3d2&scope=files.read+a%2fb&state=dropbox");
    /* extra parameters; an endpoint with a query of its own; no scope */
    apr_table_set(extra, "token_access_type", "offline");
    a.extra = extra;
    a.scope = "";
    a.authorization_url = "https://login.example/authorize?tenant=t1";
    url = ce_oauth_authorize_url(pool, &a, &err);
    ck_assert_str_eq(url, "https://login.example/authorize?tenant=t1&response_type=code"
                          "&client_id=my+key&redirect_uri=https%3a%2f%2fapp.example%2fcb%3fx%3d1"
                          "%26y%3d2&state=dropbox&token_access_type=offline");
    /* refusals */
    a.authorization_url = "javascript:alert(1)";
    ck_assert_ptr_null(ce_oauth_authorize_url(pool, &a, &err));
    ck_assert_ptr_nonnull(strstr(err, "oauth.authorization.url"));
    a.authorization_url = "https://x.example/a b";
    ck_assert_ptr_null(ce_oauth_authorize_url(pool, &a, &err));
    a.authorization_url = "https://x.example/a";
    a.client_id = "";
    ck_assert_ptr_null(ce_oauth_authorize_url(pool, &a, &err));
    ck_assert_ptr_nonnull(strstr(err, "client id"));
}
END_TEST

START_TEST(token_bodies)
{
    ce_oauth_token_request_t code = {
        "authorization_code", "c&1=", "https://app/cb", NULL, "id", "s+cret"};
    ce_oauth_token_request_t refresh = {"refresh_token", NULL, NULL, "r/t", "id", "sec"};

    ck_assert_str_eq(ce_oauth_token_body(pool, &code),
                     "grant_type=authorization_code&code=c%261%3d&redirect_uri=https%3a%2f%2fapp"
                     "%2fcb&client_id=id&client_secret=s%2bcret");
    ck_assert_str_eq(ce_oauth_token_body(pool, &refresh),
                     "grant_type=refresh_token&refresh_token=r%2ft&client_id=id&client_secret=sec");
}
END_TEST

static apr_status_t parse(ce_oauth_token_t *t, int status, const char *body, const char **perr)
{
    return ce_oauth_token_parse(t, pool, status, body, strlen(body), perr);
}

START_TEST(token_answers)
{
    ce_oauth_token_t t;
    const char *err = NULL;
    char *long_token;

    ck_assert_int_eq(parse(&t, 200,
                           "{\"access_token\":\"AT\",\"refresh_token\":\"RT\",\"expires_in\":3600,"
                           "\"token_type\":\"bearer\",\"scope\":\"a b\"}",
                           &err),
                     APR_SUCCESS);
    ck_assert_str_eq(t.access_token, "AT");
    ck_assert_str_eq(t.refresh_token, "RT");
    ck_assert_int_eq(t.expires_in, 3600);
    ck_assert_str_eq(t.token_type, "bearer");
    /* no expires_in (NangoHQ/nango#6775's providers), a string one, a bad one */
    ck_assert_int_eq(parse(&t, 200, "{\"access_token\":\"AT\"}", &err), APR_SUCCESS);
    ck_assert_int_eq(t.expires_in, -1);
    ck_assert_ptr_null(t.refresh_token);
    ck_assert_int_eq(parse(&t, 200, "{\"access_token\":\"AT\",\"expires_in\":\"7200\"}", &err),
                     APR_SUCCESS);
    ck_assert_int_eq(t.expires_in, 7200);
    ck_assert_int_eq(parse(&t, 200, "{\"access_token\":\"AT\",\"expires_in\":-5}", &err),
                     APR_SUCCESS);
    ck_assert_int_eq(t.expires_in, -1);
    /* a refusal, whatever the status */
    ck_assert_int_eq(
        parse(&t, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"code used\"}", &err),
        CE_OAUTH_REFUSED);
    ck_assert_str_eq(t.error, "invalid_grant");
    ck_assert_str_eq(t.error_description, "code used");
    ck_assert_int_eq(parse(&t, 200, "{\"error\":\"invalid_client\"}", &err), CE_OAUTH_REFUSED);
    /* not usable: no JSON, no token, a token of the wrong type, a NUL in it,
     * a 5xx with a token, one too long; the message never quotes it */
    ck_assert_int_eq(parse(&t, 200, "<html>", &err), APR_EGENERAL);
    ck_assert_int_eq(parse(&t, 200, "[]", &err), APR_EGENERAL);
    ck_assert_int_eq(parse(&t, 200, "{\"token\":\"AT\"}", &err), APR_EGENERAL);
    ck_assert_int_eq(parse(&t, 200, "{\"access_token\":42}", &err), APR_EGENERAL);
    ck_assert_int_eq(parse(&t, 200, "{\"access_token\":\"A\\u0000T\"}", &err), APR_EGENERAL);
    ck_assert_int_eq(parse(&t, 503, "{\"access_token\":\"SECRET-AT\"}", &err), APR_EGENERAL);
    ck_assert_ptr_null(strstr(err, "SECRET"));
    ck_assert_ptr_null(t.access_token);
    long_token = apr_palloc(pool, CE_OAUTH_TOKEN_MAX + 40);
    strcpy(long_token, "{\"access_token\":\"");
    memset(long_token + 17, 'x', CE_OAUTH_TOKEN_MAX + 1);
    strcpy(long_token + 17 + CE_OAUTH_TOKEN_MAX + 1, "\"}");
    ck_assert_int_eq(parse(&t, 200, long_token, &err), APR_EGENERAL);
    ck_assert_int_eq(ce_oauth_token_parse(&t, pool, 200, NULL, 0, &err), APR_EGENERAL);
}
END_TEST

/* The URL a client asks GET /elements/{key}/oauth/url for. */
START_TEST(element_url)
{
    static const char text[] =
        "{\"elements\":[{\"id\":1,\"key\":\"p\",\"name\":\"P\",\"configuration\":["
        "{\"key\":\"oauth.authorization.url\",\"type\":\"TEXTAREA\",\"defaultValue\":"
        "\"https://p.example/auth\"},"
        "{\"key\":\"oauth.token.url\",\"type\":\"TEXTAREA\",\"defaultValue\":"
        "\"https://p.example/token\"},"
        "{\"key\":\"oauth.scope\",\"type\":\"TEXTAREA\",\"defaultValue\":\"read write\"},"
        "{\"key\":\"oauth.authorization.param.access_type\",\"type\":\"TEXTAREA\","
        "\"defaultValue\":\"offline\"}]},"
        "{\"id\":2,\"key\":\"q\",\"name\":\"Q\"}]}";
    ce_catalog_t *cat = NULL;
    apr_table_t *params = apr_table_make(pool, 4);
    const char *url = NULL, *err = NULL;

    ck_assert_msg(ce_catalog_parse(&cat, pool, text, strlen(text), &err) == APR_SUCCESS, "%s", err);
    ck_assert_int_eq(ce_oauth_element_url(&url, pool, ce_catalog_by_key(cat, "p"), params, &err),
                     APR_EINVAL);
    ck_assert_str_eq(err, "Missing parameters: apiKey, apiSecret, callbackUrl");
    apr_table_set(params, "apiKey", "id 1");
    apr_table_set(params, "apiSecret", "s3cr3t");
    apr_table_set(params, "callbackUrl", "https://app.example/cb?x=1");
    ck_assert_int_eq(ce_oauth_element_url(&url, pool, ce_catalog_by_key(cat, "p"), params, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(url, "https://p.example/auth?response_type=code&client_id=id+1&redirect_uri="
                          "https%3a%2f%2fapp.example%2fcb%3fx%3d1&scope=read+write&state=p"
                          "&access_type=offline");
    ck_assert_ptr_null(strstr(url, "s3cr3t"));
    apr_table_set(params, "scope", "only");
    apr_table_set(params, "state", "xyz");
    ck_assert_int_eq(ce_oauth_element_url(&url, pool, ce_catalog_by_key(cat, "p"), params, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(url, "&scope=only&state=xyz&"));
    ck_assert_int_eq(ce_oauth_element_url(&url, pool, ce_catalog_by_key(cat, "q"), params, &err),
                     APR_EINVAL);
    ck_assert_str_eq(err, "Element 'q' does not use OAuth");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oauth");
    TCase *tc = UNIT_CASE("messages");

    UNIT_FIXTURE(tc);
    tcase_add_test(tc, authorize_url);
    tcase_add_test(tc, token_bodies);
    tcase_add_test(tc, token_answers);
    tcase_add_test(tc, element_url);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
