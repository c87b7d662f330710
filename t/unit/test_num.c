/* Unit tests of ce_num: the one number grammar (canonical decimal) and its
 * range check, NUL-terminated and length-bounded. */
#include <string.h>
#include "unit.h"
#include "ce_num.h"

START_TEST(canonical_numbers)
{
    static const struct {
        const char *s;
        apr_int64_t v;
    } good[] = {
        {"0", 0},
        {"1", 1},
        {"9", 9},
        {"10", 10},
        {"16", 16},
        {"500", 500},
        {"1234567890", 1234567890},
        {"9223372036854775807", APR_INT64_MAX},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        apr_int64_t v = -7;

        ck_assert_msg(ce_num_parse(&v, good[i].s, 0, APR_INT64_MAX) == APR_SUCCESS, "refused %s",
                      good[i].s);
        ck_assert_msg(v == good[i].v, "%s read as %" APR_INT64_T_FMT, good[i].s, v);
    }
}
END_TEST

START_TEST(not_of_the_grammar)
{
    static const char *const bad[] = {
        "",    "016", "00",   "0016", "+1",  "-1",    "-0",  " 5",  "5 ",    "\t5",
        "5\n", "1e3", "0x10", "1.5",  "1,5", "abc",   "12a", "a12", "１",    "\xd9\xa3",
        "1 2", "+",   "-",    "0 ",   " ",   "00000", "1_0", "٣",   "9\x01",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_int64_t v = -7;

        ck_assert_msg(ce_num_parse(&v, bad[i], 0, APR_INT64_MAX) == APR_EINVAL, "accepted \"%s\"",
                      bad[i]);
        ck_assert(v == -7);
    }
    ck_assert_int_eq(ce_num_parse(NULL, NULL, 0, 1), APR_EINVAL);
}
END_TEST

START_TEST(range_clamps_to_the_bound)
{
    apr_int64_t v = -7;

    ck_assert_int_eq(ce_num_parse(&v, "0", 1, 500), APR_ERANGE);
    ck_assert(v == 1);
    ck_assert_int_eq(ce_num_parse(&v, "501", 1, 500), APR_ERANGE);
    ck_assert(v == 500);
    ck_assert_int_eq(ce_num_parse(&v, "500", 1, 500), APR_SUCCESS);
    ck_assert(v == 500);
    ck_assert_int_eq(ce_num_parse(&v, "1", 1, 500), APR_SUCCESS);
    ck_assert(v == 1);
    /* Past APR_INT64_MAX: above max, whatever max is. */
    ck_assert_int_eq(ce_num_parse(&v, "9223372036854775808", 1, 500), APR_ERANGE);
    ck_assert(v == 500);
    ck_assert_int_eq(ce_num_parse(&v, "9223372036854775808", 0, APR_INT64_MAX), APR_ERANGE);
    ck_assert(v == APR_INT64_MAX);
    ck_assert_int_eq(ce_num_parse(&v, "18446744073709551617", 1, 5), APR_ERANGE);
    ck_assert(v == 5);
    ck_assert_int_eq(ce_num_parse(&v, "100000000000000000000000000000000", 1, 5), APR_ERANGE);
    ck_assert(v == 5);
    /* A bad spelling is EINVAL even when out of range too. */
    v = -7;
    ck_assert_int_eq(ce_num_parse(&v, "0999999999999999999999", 1, 5), APR_EINVAL);
    ck_assert_int_eq(ce_num_parse(&v, "-5", 1, 5), APR_EINVAL);
    ck_assert(v == -7);
}
END_TEST

START_TEST(length_bounded)
{
    static const char bytes[] = "12345\0"
                                "6";
    apr_int64_t v = -7;

    ck_assert_int_eq(ce_num_parse_n(&v, "123abc", 3, 1, 1000), APR_SUCCESS);
    ck_assert(v == 123);
    ck_assert_int_eq(ce_num_parse_n(&v, bytes, 5, 1, APR_INT64_MAX), APR_SUCCESS);
    ck_assert(v == 12345);
    v = -7;
    ck_assert_int_eq(ce_num_parse_n(&v, bytes, 7, 1, APR_INT64_MAX), APR_EINVAL);
    ck_assert_int_eq(ce_num_parse_n(&v, "0", 0, 0, 1), APR_EINVAL);
    ck_assert_int_eq(ce_num_parse_n(&v, NULL, 0, 0, 1), APR_EINVAL);
    ck_assert_int_eq(ce_num_parse_n(&v, "016", 3, 0, 100), APR_EINVAL);
    ck_assert(v == -7);
    ck_assert_int_eq(ce_num_parse_n(&v, "92233720368547758070", 20, 1, APR_INT64_MAX), APR_ERANGE);
    ck_assert(v == APR_INT64_MAX);
    ck_assert_int_eq(ce_num_parse_n(&v, "92233720368547758070", 19, 1, APR_INT64_MAX), APR_SUCCESS);
    ck_assert(v == APR_INT64_MAX);
}
END_TEST

/* Every value has one spelling: what APR_INT64_T_FMT prints reads back. */
START_TEST(round_trip)
{
    static const apr_int64_t values[] = {0, 1, 7, 10, 99, 100, 65535, 2147483648LL, APR_INT64_MAX};
    apr_size_t i;

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        const char *s = apr_psprintf(pool, "%" APR_INT64_T_FMT, values[i]);
        apr_int64_t v = -1;

        ck_assert_int_eq(ce_num_parse(&v, s, 0, APR_INT64_MAX), APR_SUCCESS);
        ck_assert(v == values[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("num");
    TCase *tc = UNIT_CASE("num");

    UNIT_FIXTURE(tc);
    tcase_add_test(tc, canonical_numbers);
    tcase_add_test(tc, not_of_the_grammar);
    tcase_add_test(tc, range_clamps_to_the_bound);
    tcase_add_test(tc, length_bounded);
    tcase_add_test(tc, round_trip);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
