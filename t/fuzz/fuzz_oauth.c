/* fuzz_oauth: libFuzzer target of src/ce_oauth.c, what reads a provider's
 * answers and builds what is sent to it:
 *   ce_oauth_token_parse  the input as a token endpoint's body (len bytes,
 *                         not NUL-terminated), with a 200 and with a 400;
 *   ce_oauth_authorize_url / ce_oauth_token_body  the input (up to its
 *                         first NUL) as every caller-given field.
 *
 * Contract checked (FUZZ_CHECK): a parsed answer has a non-empty access
 * token of at most CE_OAUTH_TOKEN_MAX bytes without a NUL, expires_in -1
 * or positive; a refusal has an error code; a failure leaves no token
 * behind and its message quotes nothing of the input; a built URL or body
 * holds no raw space, '&' of the input's or control character (each field
 * is form-encoded), and starts with the authorization URL.
 */
#include <stdint.h>
#include <string.h>
#include <apr_strings.h>

#include "ce_oauth.h"
#include "fuzz.h"

static void token(apr_pool_t *p, int status, const char *body, size_t len)
{
    ce_oauth_token_t t;
    const char *err = NULL;
    apr_status_t rv = ce_oauth_token_parse(&t, p, status, body, len, &err);

    if (rv == APR_SUCCESS) {
        FUZZ_CHECK(t.access_token && *t.access_token, "no access token");
        FUZZ_CHECK(strlen(t.access_token) <= CE_OAUTH_TOKEN_MAX, "token too long");
        FUZZ_CHECK(t.expires_in == -1 || t.expires_in > 0, "expires_in %lld",
                   (long long)t.expires_in);
        FUZZ_CHECK(status >= 200 && status <= 299, "accepted with status %d", status);
    } else if (rv == CE_OAUTH_REFUSED) {
        FUZZ_CHECK(t.error && !t.access_token, "a refusal without error, or with a token");
    } else {
        FUZZ_CHECK(rv == APR_EGENERAL && err, "failure %d without a message", rv);
        FUZZ_CHECK(!t.access_token && !t.refresh_token, "a failure left a token");
        FUZZ_CHECK(strlen(err) < 120 && !strstr(err, "\""), "the message quotes the input");
    }
}

static void clean(const char *what, const char *s, size_t skip)
{
    size_t i;

    for (i = skip; s[i]; i++) {
        FUZZ_CHECK((unsigned char)s[i] > ' ' && s[i] != 0x7f, "%s: raw byte 0x%02x", what,
                   (unsigned char)s[i]);
    }
}

static void build(apr_pool_t *p, const char *s)
{
    static const char base[] = "https://provider.example/authorize";
    ce_oauth_authorize_t a = {base, s, s, s, s, NULL};
    ce_oauth_token_request_t code = {"authorization_code", s, s, NULL, s, s};
    ce_oauth_token_request_t refresh = {"refresh_token", NULL, NULL, s, s, s};
    apr_table_t *extra = apr_table_make(p, 1);
    const char *err = NULL, *url;

    apr_table_set(extra, s, s);
    a.extra = extra;
    if ((url = ce_oauth_authorize_url(p, &a, &err)) != NULL) {
        FUZZ_CHECK(strncmp(url, base, sizeof(base) - 1) == 0, "URL moved");
        clean("url", url, 0);
        FUZZ_CHECK(strlen(url) < sizeof(base) + 100 + 6 * 3 * strlen(s), "URL too long");
    } else {
        FUZZ_CHECK(!*s, "refused a non-empty client id: %s", err);
    }
    clean("code body", ce_oauth_token_body(p, &code), 0);
    clean("refresh body", ce_oauth_token_body(p, &refresh), 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    fuzz_init_done();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    size_t len = strnlen((const char *)data, size);
    char *body = malloc(size ? size : 1), *s = malloc(len + 1);

    memcpy(body, data, size);
    token(p, 200, body, size);
    token(p, 400, body, size);
    memcpy(s, data, len);
    s[len] = '\0';
    build(p, s);
    free(body);
    free(s);
    apr_pool_destroy(p);
    return 0;
}
