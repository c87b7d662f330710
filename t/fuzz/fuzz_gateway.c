/* fuzz_gateway: libFuzzer target of what the gateway makes of a tenant's
 * configuration and a caller's request (src/ce_gateway.c):
 *   ce_gateway_credential  an instance's values as Basic, bearer, header
 *                          and query credentials;
 *   ce_gateway_url         the instance's base URL (an entry), the path
 *                          below the Location and the caller's query.
 * The input is four NUL-separated strings: base URL, path, query, value
 * (missing ones are empty).
 *
 * Contract checked (FUZZ_CHECK): a credential that is made has no control
 * characters (it goes into a header or a URL as is) and Basic's user has
 * no ':'; a URL that is made starts with the accepted base, has no space
 * or control character, carries the credential's parameter exactly once,
 * last, and no other parameter of that name.
 */
#include <stdint.h>
#include <string.h>
#include <apr_escape.h>
#include <apr_strings.h>

#include "ce_gateway.h"
#include "ce_json.h"
#include "fuzz.h"

static const ce_gateway_api_t *basic, *query, *header;

static int any(const void *ctx, const char *key)
{
    return 1;
}

static const ce_gateway_api_t *api(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    const ce_gateway_api_t *a = NULL;
    const char *err = NULL;

    FUZZ_CHECK(j && ce_gateway_read_api(&a, fuzz_root, j, any, NULL, &err) == APR_SUCCESS, "%s",
               err ? err : text);
    json_decref(j);
    return a;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    basic =
        api("{\"urlKey\": \"u\", \"auth\": \"basic\", \"username\": \"v\", \"password\": \"v\"}");
    query = api("{\"urlKey\": \"u\", \"auth\": \"query\", \"name\": \"k\", \"value\": \"v\"}");
    header = api("{\"urlKey\": \"u\", \"auth\": \"header\", \"name\": \"X-K\", \"value\": \"v\"}");
    fuzz_init_done();
    return 0;
}

static int has_ctl(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* The query's pairs named "k": exactly one, the last one, cred's value. */
static void one_param(apr_pool_t *p, const char *q, const ce_gateway_cred_t *cred)
{
    char *copy = apr_pstrdup(p, q), *pair, *last = NULL;
    int n = 0, was_last = 0;

    for (pair = apr_strtok(copy, "&", &last); pair; pair = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(pair, '=');
        const char *key =
            apr_punescape_url(p, eq ? apr_pstrmemdup(p, pair, eq - pair) : pair, NULL, NULL, 1);

        was_last = key && strcmp(key, "k") == 0;
        if (was_last) {
            n++;
            FUZZ_CHECK(
                eq && strcmp(apr_punescape_url(p, eq + 1, NULL, NULL, 1), cred->param_value) == 0,
                "the parameter is not the credential");
        }
    }
    FUZZ_CHECK(n == 1 && was_last, "%d parameters named k (last: %d)", n, was_last);
}

static void url(apr_pool_t *p, const ce_gateway_api_t *a, json_t *config, const char *rest,
                const char *args, const ce_gateway_cred_t *cred)
{
    const char *u = NULL, *err = NULL, *base = json_string_value(json_object_get(config, "u"));
    const char *q;
    size_t n = strlen(base);

    if (ce_gateway_url(&u, p, a, config, rest, args, cred, &err) != APR_SUCCESS) {
        return;
    }
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    FUZZ_CHECK(strncmp(u, base, n) == 0, "the URL does not start with its base");
    FUZZ_CHECK(!has_ctl(u) && !strchr(u, ' '), "a control character or space in the URL");
    if (cred->param) {
        FUZZ_CHECK((q = strchr(u + n, '?')) != NULL, "no query for the credential");
        one_param(p, q + 1, cred);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *part[4] = {"", "", "", ""};
    const ce_gateway_api_t *apis[3] = {basic, query, header};
    char *s = apr_pstrmemdup(p, (const char *)data, size);
    size_t at = 0;
    int i;

    for (i = 0; i < 4 && at <= size; i++) {
        part[i] = s + at;
        at += strlen(s + at) + 1;
    }
    for (i = 0; i < 3; i++) {
        json_t *config = ce_json_bind(p, json_object());
        ce_gateway_cred_t cred;
        const char *err = NULL;

        json_object_set_new(config, "u", json_string(part[0]));
        json_object_set_new(config, "v", json_string(part[3]));
        if (!json_object_get(config, "u") || !json_object_get(config, "v")) {
            break; /* not UTF-8: a configuration never holds it */
        }
        if (ce_gateway_credential(&cred, p, apis[i], config, NULL, &err) != APR_SUCCESS) {
            continue;
        }
        FUZZ_CHECK(!has_ctl(cred.header_value ? cred.header_value : cred.param_value),
                   "a control character in the credential");
        FUZZ_CHECK(apis[i] != basic || !strchr(part[3], ':'), "Basic with a ':' in the user");
        url(p, apis[i], config, part[1], part[2], &cred);
    }
    apr_pool_destroy(p);
    return 0;
}
