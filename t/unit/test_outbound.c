/* Unit tests of ce_outbound: which URLs and addresses outbound requests
 * may go to. */
#include <string.h>
#include "unit.h"
#include "ce_outbound.h"

static ce_outbound_t *policy(const char *const *allow)
{
    apr_array_header_t *a = apr_array_make(pool, 2, sizeof(const char *));
    ce_outbound_t *o = NULL;
    const char *err = NULL;

    for (; allow && *allow; allow++) {
        APR_ARRAY_PUSH(a, const char *) = *allow;
    }
    ck_assert_msg(ce_outbound_make(&o, pool, a, &err) == APR_SUCCESS, "%s", err ? err : "");
    return o;
}

static int ok(const ce_outbound_t *o, const char *ip, int https)
{
    const char *err = NULL;

    return ce_outbound_check_address(o, pool, ip, https, &err) == APR_SUCCESS;
}

START_TEST(public_https_only)
{
    ce_outbound_t *o = policy(NULL);
    static const char *const refused[] = {"127.0.0.1",
                                          "10.1.2.3",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "169.254.169.254",
                                          "100.64.0.1",
                                          "0.0.0.0",
                                          "224.0.0.1",
                                          "255.255.255.255",
                                          "192.0.2.10",
                                          "::1",
                                          "::",
                                          "fe80::1",
                                          "fd00::1",
                                          "ff02::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.0.0.1",
                                          "64:ff9b::a00:1",
                                          "2001:db8::1",
                                          NULL};
    const char *const *ip;
    const char *err = NULL;

    for (ip = refused; *ip; ip++) {
        ck_assert_msg(!ok(o, *ip, 1), "%s allowed", *ip);
    }
    ck_assert(ok(o, "93.184.216.34", 1));
    ck_assert(ok(o, "2606:2800:220:1:248:1893:25c8:1946", 1));
    ck_assert(ok(o, "172.32.0.1", 1)); /* just outside 172.16/12 */
    /* plain http: never, even to a public address */
    ck_assert(!ok(o, "93.184.216.34", 0));
    ck_assert_int_eq(ce_outbound_check_address(o, pool, "10.0.0.1", 1, &err), APR_EACCES);
    ck_assert_ptr_nonnull(strstr(err, "CEInstancesOutboundAllow"));
    /* not an address at all (a name is resolved before this check) */
    ck_assert(!ok(o, "example.com", 1));
    ck_assert(!ok(o, "", 1));
    ck_assert(!ok(o, NULL, 1));
}
END_TEST

START_TEST(allowed_networks)
{
    static const char *const allow[] = {"127.0.0.0/8", "::1", "10.20.0.0/16", NULL};
    static const char *const bad[] = {"10.0.0.0/99", NULL};
    apr_array_header_t *a = apr_array_make(pool, 1, sizeof(const char *));
    ce_outbound_t *o = policy(allow);
    const char *err = NULL;

    ck_assert(ok(o, "127.0.0.1", 0));
    ck_assert(ok(o, "127.9.9.9", 1));
    ck_assert(ok(o, "::1", 0));
    ck_assert(ok(o, "::ffff:127.0.0.1", 0));
    ck_assert(ok(o, "10.20.3.4", 0));
    ck_assert(!ok(o, "10.21.3.4", 1));
    ck_assert(!ok(o, "93.184.216.34", 0)); /* public, but not https */
    APR_ARRAY_PUSH(a, const char *) = bad[0];
    ck_assert_int_eq(ce_outbound_make(&o, pool, a, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "10.0.0.0/99"));
    APR_ARRAY_IDX(a, 0, const char *) = "not-an-address";
    ck_assert_int_eq(ce_outbound_make(&o, pool, a, &err), APR_EINVAL);
}
END_TEST

START_TEST(urls)
{
    const char *err = NULL;
    int https = -1;

    ck_assert_int_eq(
        ce_outbound_check_url(pool, "https://api.dropboxapi.com/oauth2/token", &https, &err),
        APR_SUCCESS);
    ck_assert_int_eq(https, 1);
    ck_assert_int_eq(ce_outbound_check_url(pool, "http://127.0.0.1:9000/token?x=1", &https, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(https, 0);
    ck_assert_int_eq(ce_outbound_check_url(pool, "ftp://x.example/", &https, &err), APR_EINVAL);
    ck_assert_int_eq(ce_outbound_check_url(pool, "file:///etc/passwd", &https, &err), APR_EINVAL);
    ck_assert_int_eq(ce_outbound_check_url(pool, "https://u:p@x.example/", &https, &err),
                     APR_EINVAL);
    ck_assert_int_eq(ce_outbound_check_url(pool, "https://x.example/#f", &https, &err), APR_EINVAL);
    ck_assert_int_eq(ce_outbound_check_url(pool, "/relative", &https, &err), APR_EINVAL);
    ck_assert_int_eq(ce_outbound_check_url(pool, "https://x.example/a b", &https, &err),
                     APR_EINVAL);
    ck_assert_int_eq(ce_outbound_check_url(pool, NULL, &https, &err), APR_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outbound");
    TCase *tc = UNIT_CASE("guard");

    UNIT_FIXTURE(tc);
    tcase_add_test(tc, public_https_only);
    tcase_add_test(tc, allowed_networks);
    tcase_add_test(tc, urls);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
