/* Unit tests of ce_page: page tokens (one spelling per id) and the listing
 * query string (decoding, repeated names, pageSize and nextPage rules). */
#include <string.h>
#include "unit.h"
#include "ce_page.h"

START_TEST(token_round_trip)
{
    static const apr_int64_t ids[] = {1, 42, 1000, 123456789, APR_INT64_MAX};
    apr_size_t i;

    ck_assert_str_eq(ce_page_token(pool, 42), "aTo0Mg");
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const char *t = ce_page_token(pool, ids[i]);
        apr_int64_t back = 0;

        ck_assert_uint_eq(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_"),
                          strlen(t));
        ck_assert_int_eq(ce_page_token_parse(&back, t), APR_SUCCESS);
        ck_assert(back == ids[i]);
    }
}
END_TEST

START_TEST(token_rejects_garbage)
{
    static const char *const bad_tokens[] = {
        "",
        "!!!",
        "aTo0Mg==", /* padded */
        "aTo0Mg=",
        "aTo0Mh",  /* non-canonical spelling of i:42 */
        "aTo0M",   /* truncated */
        "aTo0Mg ", /* trailing space */
        " aTo0Mg",
        "aTo0Mg\n",
        "aTo+Mg", /* standard alphabet */
        "aTo/Mg",
        "eDo1",                                     /* x:5 */
        "aTow",                                     /* i:0 */
        "aTotMQ",                                   /* i:-1 */
        "aTorMQ",                                   /* i:+1 */
        "aTowNQ",                                   /* i:05 */
        "aTo",                                      /* i: */
        "aQ",                                       /* i */
        "aTo1YQ",                                   /* i:5a */
        "aToxIA",                                   /* "i:1 " */
        "aToxAA",                                   /* "i:1\0" */
        "aTo5MjIzMzcyMDM2ODU0Nzc1ODA4",             /* i:9223372036854775808 overflows */
        "aTo5MjIzMzcyMDM2ODU0Nzc1ODA3aTo5MjIzMzcy", /* too long */
        "42",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
        apr_int64_t back = -7;

        ck_assert_msg(ce_page_token_parse(&back, bad_tokens[i]) == APR_EINVAL, "accepted \"%s\"",
                      bad_tokens[i]);
        ck_assert(back == -7);
    }
    {
        apr_int64_t back = -7;

        ck_assert_int_eq(ce_page_token_parse(&back, NULL), APR_EINVAL);
        ck_assert_str_eq(ce_page_token(pool, 0), "aTow");
        ck_assert_int_eq(ce_page_token_parse(&back, ce_page_token(pool, -3)), APR_EINVAL);
        ck_assert(back == -7);
    }
}
END_TEST

/* Parses args; fails the test unless it is accepted. */
static ce_instance_query_t query_ok(const char *args, long element_id)
{
    ce_instance_query_t q;
    const char *err = NULL;
    apr_status_t rv = ce_page_query_parse(&q, pool, args, element_id, &err);

    ck_assert_msg(rv == APR_SUCCESS, "refused \"%s\": %s", args ? args : "(null)", err ? err : "?");
    return q;
}

/* The tags of q joined with '|'. */
static const char *tags_of(const ce_instance_query_t *q)
{
    const char *out = "";
    int i;

    for (i = 0; i < q->tags->nelts; i++) {
        out = apr_pstrcat(pool, out, i ? "|" : "", APR_ARRAY_IDX(q->tags, i, const char *), NULL);
    }
    return out;
}

START_TEST(query_defaults)
{
    static const char *const empty[] = {NULL, "", "&", "&&&", "other=1", "page=2&size=3", "="};
    apr_size_t i;

    for (i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        ce_instance_query_t q = query_ok(empty[i], 0);

        ck_assert_int_eq(q.limit, CE_PAGE_SIZE_DEFAULT);
        ck_assert(q.before_id == 0);
        ck_assert_int_eq(q.element_id, 0);
        ck_assert_ptr_nonnull(q.tags);
        ck_assert_int_eq(q.tags->nelts, 0);
    }
    ck_assert_int_eq(query_ok(NULL, 16).element_id, 16);
}
END_TEST

START_TEST(query_page_size)
{
    static const struct {
        const char *args;
        int limit;
    } good[] = {
        {"pageSize=1", 1},
        {"pageSize=7", 7},
        {"pageSize=500", 500},
        {"pageSize=501", CE_PAGE_SIZE_MAX},
        {"pageSize=1000", CE_PAGE_SIZE_MAX},
        {"pageSize=9223372036854775807", CE_PAGE_SIZE_MAX},
        {"pageSize=100000000000000000000", CE_PAGE_SIZE_MAX},
        {"pageSize=18446744073709551617", CE_PAGE_SIZE_MAX},
        {"pageSize=3&pageSize=abc", 3}, /* the first one counts */
        {"pageSize=3&pageSize=5", 3},
        {"PAGESIZE=4", 4}, /* names as httpd's tables compare them */
        {"pagesize=4&pageSize=9", 4},
        {"page%53ize=6", 6}, /* the name is decoded too */
        {"pageSize=%35", 5},
        {"pageSize=2&", 2},
        {"&&pageSize=2", 2},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(query_ok(good[i].args, 0).limit == good[i].limit, "%s", good[i].args);
    }
}
END_TEST

START_TEST(query_page_size_refused)
{
    static const char *const bad[] = {
        "pageSize=0",
        "pageSize=-1",
        "pageSize=abc",
        "pageSize=1.5",
        "pageSize=",
        "pageSize",
        "pageSize=3x",
        "pageSize=016",
        "pageSize=00",
        "pageSize=+5",
        "pageSize=+5",
        "pageSize=%205",
        "pageSize=5%20",
        "pageSize=+5+",
        "pageSize=%2B5",
        "pageSize=1e3",
        "pageSize=0x10",
        "pageSize=-0",
        "pageSize=zero",
        "pageSize=0&pageSize=5",
        "pageSize=x&nextPage=!!",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ce_instance_query_t q;
        const char *err = NULL;

        ck_assert_msg(ce_page_query_parse(&q, pool, bad[i], 0, &err) == APR_EINVAL, "accepted %s",
                      bad[i]);
        ck_assert_str_eq(err, "pageSize must be a positive integer");
    }
}
END_TEST

START_TEST(query_next_page)
{
    const char *t = ce_page_token(pool, 42);

    ck_assert(query_ok(apr_pstrcat(pool, "nextPage=", t, NULL), 0).before_id == 42);
    ck_assert(query_ok(apr_pstrcat(pool, "nextPage=", t, "&nextPage=junk", NULL), 0).before_id ==
              42);
    ck_assert(query_ok(apr_pstrcat(pool, "nextPage=&nextPage=", t, NULL), 0).before_id == 0);
    ck_assert(query_ok("nextPage=", 0).before_id == 0);
    ck_assert(query_ok("nextPage", 0).before_id == 0);
    ck_assert(query_ok("NEXTPAGE=aTo0Mg&pageSize=3", 0).before_id == 42);
    ck_assert(query_ok("nextPage=aTo%30Mg", 0).before_id == 42);
}
END_TEST

START_TEST(query_next_page_refused)
{
    static const char *const bad[] = {
        "nextPage=garbage",
        "nextPage=%25%25",
        "nextPage=aTph",
        "nextPage=!!",
        "nextPage=@@@",
        "nextPage=aTo0Mg==",
        "nextPage=aTo0Mg%3D",
        "nextPage=aTo0Mh",
        "nextPage=aTo+Mg",
        "nextPage=aTo%2BMg",
        "nextPage=aTow",
        "nextPage=aTowNQ",
        "nextPage=+aTo0Mg",
        "nextPage=aTo0Mg&pageSize=2&nextPage=aTo0Mg&nextPage=x&nextPage=aTow"
        "&x=1&nextPage=1&nextPage=2&nextPage=3&nextPage=4&nextPage=5&"
        "nextPage=6&nextPage=7&nextPage=8&nextPage=9&nextPage=0&nextPage=@",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]) - 1; i++) {
        ce_instance_query_t q;
        const char *err = NULL;

        ck_assert_msg(ce_page_query_parse(&q, pool, bad[i], 0, &err) == APR_EINVAL, "accepted %s",
                      bad[i]);
        ck_assert_str_eq(err, "Invalid nextPage token");
    }
    /* the first one counts: a good first token and bad later ones */
    ck_assert(query_ok(bad[i], 0).before_id == 42);
}
END_TEST

START_TEST(query_tags)
{
    {
        ce_instance_query_t q = query_ok("tags[]=a&pageSize=2&tags[]=b&tags[]=a", 0);

        ck_assert_str_eq(tags_of(&q), "a|b|a");
    }
    {
        ce_instance_query_t q =
            query_ok("tags%5B%5D=x+y&TAGS[]=%3Cb%3Ez%3C%2Fb%3E&tags[]=+w+&tags[]"
                     "&tags[]=a%2Bb&tags[]=%C3%A9",
                     0);

        ck_assert_str_eq(tags_of(&q), "x y|z|w||a+b|\xc3\xa9");
    }
    {
        ce_instance_query_t q = query_ok("tags=a&tag[]=b&tags[=c&tags[]x=d", 0);

        ck_assert_int_eq(q.tags->nelts, 0);
    }
    {
        ce_instance_query_t q = query_ok("tags[]=a=b&tags[]==", 0);

        ck_assert_str_eq(tags_of(&q), "a=b|=");
    }
}
END_TEST

/* A pair that does not decode is refused (400), not dropped: a dropped
 * tags[] value would widen the filter to every instance. */
START_TEST(query_undecodable_refused)
{
    static const struct {
        const char *args, *message;
    } bad[] = {
        {"tags%5B%5D=%zz", "Query parameter tags[] does not decode (a bad %-escape or %00)"},
        {"tags[]=qa%00", "Query parameter tags[] does not decode (a bad %-escape or %00)"},
        {"tags[]=ok&tags[]=%e", "Query parameter tags[] does not decode (a bad %-escape or %00)"},
        {"pageSize=5%00", "Query parameter pageSize does not decode (a bad %-escape or %00)"},
        {"pageSize=%zz&pageSize=8",
         "Query parameter pageSize does not decode (a bad %-escape or %00)"},
        {"nextPage=%zz", "Query parameter nextPage does not decode (a bad %-escape or %00)"},
        {"x=%", "Query parameter x does not decode (a bad %-escape or %00)"},
        {"%zz=1", "A query parameter name does not decode (a bad %-escape or %00)"},
        {"a%00b=1", "A query parameter name does not decode (a bad %-escape or %00)"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ce_instance_query_t q;
        const char *err = NULL;

        ck_assert_msg(ce_page_query_parse(&q, pool, bad[i].args, 0, &err) == APR_EINVAL,
                      "accepted %s", bad[i].args);
        ck_assert_str_eq(err, bad[i].message);
    }
}
END_TEST

/* A secret in a query, masked for the logs: by its name as decoded. */
START_TEST(query_secret_masked)
{
    const char *a = "apiKey=k&apiSecret=s3cr3t&callbackUrl=https%3A%2F%2Fx";

    ck_assert_str_eq(ce_page_mask_query(pool, a, "apiSecret"),
                     "apiKey=k&apiSecret=********&callbackUrl=https%3A%2F%2Fx");
    ck_assert_str_eq(ce_page_mask_query(pool, "api%53ecret=s3cr3t&APISECRET=x", "apiSecret"),
                     "api%53ecret=********&APISECRET=********");
    ck_assert_str_eq(ce_page_mask_query(pool, "apiSecret", "apiSecret"), "apiSecret=********");
    ck_assert_ptr_eq(ce_page_mask_query(pool, a + 7, "apiKey"), a + 7);
    ck_assert_ptr_null(ce_page_mask_query(pool, NULL, "apiSecret"));
}
END_TEST

START_TEST(query_pairs_decoded)
{
    apr_table_t *t = NULL;
    const char *err = NULL;

    ck_assert_int_eq(ce_page_query_pairs(&t, pool, "apiKey=a%20b&scope=x+y&state=", &err),
                     APR_SUCCESS);
    ck_assert_str_eq(apr_table_get(t, "apikey"), "a b");
    ck_assert_str_eq(apr_table_get(t, "scope"), "x y");
    ck_assert_str_eq(apr_table_get(t, "state"), "");
    ck_assert_int_eq(ce_page_query_pairs(&t, pool, "apiKey=%zz", &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "apiKey"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("page");
    TCase *tc = UNIT_CASE("page");

    UNIT_FIXTURE(tc);
    tcase_add_test(tc, token_round_trip);
    tcase_add_test(tc, token_rejects_garbage);
    tcase_add_test(tc, query_defaults);
    tcase_add_test(tc, query_page_size);
    tcase_add_test(tc, query_page_size_refused);
    tcase_add_test(tc, query_next_page);
    tcase_add_test(tc, query_next_page_refused);
    tcase_add_test(tc, query_tags);
    tcase_add_test(tc, query_undecodable_refused);
    tcase_add_test(tc, query_secret_masked);
    tcase_add_test(tc, query_pairs_decoded);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
