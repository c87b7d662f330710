/* Unit tests of ce_json and ce_crypto. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "ce_json.h"
#include "ce_crypto.h"

START_TEST(parse_object)
{
    json_t *j;
    const char *err = NULL;
    ck_assert_int_eq(ce_json_parse(&j, pool, "{\"a\":1}", 7, &err), APR_SUCCESS);
    ck_assert(json_is_object(j));
    ck_assert_str_eq(ce_json_dump(pool, j), "{\"a\":1}");
}
END_TEST

START_TEST(parse_rejects_duplicates_garbage_nul)
{
    json_t *j;
    const char *err = NULL;
    ck_assert_int_eq(ce_json_parse(&j, pool, "{\"a\":1,\"a\":2}", 13, &err), APR_EINVAL);
    ck_assert_ptr_null(j);
    ck_assert_ptr_nonnull(strstr(err, "Malformed JSON"));
    ck_assert_int_eq(ce_json_parse(&j, pool, "{} x", 4, &err), APR_EINVAL);
    ck_assert_int_eq(ce_json_parse(&j, pool, "{\"a\":\"\\u0000\"}", 14, &err), APR_EINVAL);
    ck_assert_int_eq(ce_json_parse(&j, pool, "{\"a\"", 4, &err), APR_EINVAL);
    ck_assert_int_eq(ce_json_parse(&j, pool, "\xff", 1, &err), APR_EINVAL);
}
END_TEST

START_TEST(token_is_fresh_base64)
{
    const char *a, *b;
    ck_assert_int_eq(ce_crypto_token(&a, pool, CE_TOKEN_BYTES), APR_SUCCESS);
    ck_assert_int_eq(ce_crypto_token(&b, pool, CE_TOKEN_BYTES), APR_SUCCESS);
    ck_assert_uint_eq(strlen(a), 44);
    ck_assert_int_eq(a[43], '=');
    ck_assert_uint_eq(
        strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="), 44);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(digest_is_sha256_hex)
{
    ck_assert_str_eq(ce_crypto_digest(pool, "abc"),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(equal_and_request_id)
{
    ck_assert_int_eq(ce_crypto_equal("abc", "abc"), 1);
    ck_assert_int_eq(ce_crypto_equal("abc", "abd"), 0);
    ck_assert_int_eq(ce_crypto_equal("abc", "abcd"), 0);
    ck_assert_int_eq(ce_crypto_equal(NULL, "a"), 0);
    ck_assert_uint_eq(strlen(ce_crypto_request_id(pool)), 32);
    ck_assert_str_ne(ce_crypto_request_id(pool), ce_crypto_request_id(pool));
}
END_TEST

/* Buffered random bytes are never handed out twice: not by one thread,
 * not by a forked child and its parent (each would otherwise take the
 * same next bytes of the buffer they share by copy: the same nonces). */
START_TEST(random_never_repeats_across_fork)
{
    unsigned char a[16], b[16], child[16];
    int fds[2], status;
    pid_t pid;

    ck_assert_int_eq(ce_crypto_random(a, sizeof(a)), 1); /* the buffer is drawn */
    ck_assert_int_eq(ce_crypto_random(b, sizeof(b)), 1);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(ce_crypto_random(child, sizeof(child)) &&
                      write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child)
                  ? 0
                  : 1);
    }
    ck_assert_int_eq(ce_crypto_random(a, sizeof(a)), 1);
    ck_assert_int_eq(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(memcmp(a, child, sizeof(a)) != 0);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json+crypto");
    TCase *tc = UNIT_CASE("core");
    UNIT_FIXTURE(tc);
    tcase_add_test(tc, parse_object);
    tcase_add_test(tc, parse_rejects_duplicates_garbage_nul);
    tcase_add_test(tc, token_is_fresh_base64);
    tcase_add_test(tc, digest_is_sha256_hex);
    tcase_add_test(tc, equal_and_request_id);
    tcase_add_test(tc, random_never_repeats_across_fork);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
