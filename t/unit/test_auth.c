/* Unit tests of ce_auth (Authorization header parser). */
#include <string.h>
#include "unit.h"
#include "ce_auth.h"

#define USER_SECRET "uSeCrEt+/0123456789abcdefghijklmnopqrstuvwx="
#define ORG_SECRET "oRgSeCrEt/+9876543210ABCDEFGHIJKLMNOPQRSTU="
#define ELEMENT_TOKEN "eLeMeNtToKeN0123456789+/abcdefghijklmnopqr="

static ce_credentials_t creds;
static const char *err;

static apr_status_t parse(const char *header)
{
    err = NULL;
    return ce_auth_parse(&creds, pool, header, &err);
}

/* The header is rejected, with a message that does not echo any value. */
static void assert_rejected(const char *header)
{
    ck_assert_int_eq(parse(header), APR_EACCES);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(strstr(err, "uSeCrEt"));
    ck_assert_ptr_null(strstr(err, "oRgSeCrEt"));
    ck_assert_ptr_null(strstr(err, "eLeMeNt"));
    ck_assert_ptr_null(strstr(err, "bogus"));
    ck_assert_ptr_null(creds.user_secret);
    ck_assert_ptr_null(creds.organization_secret);
    ck_assert_ptr_null(creds.element_token);
}

static void assert_parsed(const char *header, const char *element)
{
    ck_assert_int_eq(parse(header), APR_SUCCESS);
    ck_assert_str_eq(creds.user_secret, USER_SECRET);
    ck_assert_str_eq(creds.organization_secret, ORG_SECRET);
    if (element) {
        ck_assert_str_eq(creds.element_token, element);
    } else {
        ck_assert_ptr_null(creds.element_token);
    }
}

START_TEST(user_and_organization)
{
    assert_parsed("User " USER_SECRET ", Organization " ORG_SECRET, NULL);
}
END_TEST

START_TEST(with_element)
{
    assert_parsed("User " USER_SECRET ", Organization " ORG_SECRET ", Element " ELEMENT_TOKEN,
                  ELEMENT_TOKEN);
}
END_TEST

START_TEST(any_order)
{
    assert_parsed("Organization " ORG_SECRET ", User " USER_SECRET, NULL);
    assert_parsed("Element " ELEMENT_TOKEN ", Organization " ORG_SECRET ", User " USER_SECRET,
                  ELEMENT_TOKEN);
    assert_parsed("Organization " ORG_SECRET ", Element " ELEMENT_TOKEN ", User " USER_SECRET,
                  ELEMENT_TOKEN);
}
END_TEST

START_TEST(names_case_insensitive)
{
    assert_parsed("user " USER_SECRET ", ORGANIZATION " ORG_SECRET ", eLeMeNt " ELEMENT_TOKEN,
                  ELEMENT_TOKEN);
}
END_TEST

START_TEST(extra_and_missing_spaces)
{
    assert_parsed("  User   " USER_SECRET "  ,   Organization\t" ORG_SECRET "  ", NULL);
    assert_parsed("User " USER_SECRET ",Organization " ORG_SECRET ",Element " ELEMENT_TOKEN,
                  ELEMENT_TOKEN);
}
END_TEST

START_TEST(values_are_copied)
{
    char header[] = "User " USER_SECRET ", Organization " ORG_SECRET;

    ck_assert_int_eq(parse(header), APR_SUCCESS);
    memset(header, 'x', sizeof(header) - 1);
    ck_assert_str_eq(creds.user_secret, USER_SECRET);
    ck_assert_str_eq(creds.organization_secret, ORG_SECRET);
}
END_TEST

START_TEST(null_and_empty)
{
    assert_rejected(NULL);
    ck_assert_str_eq(err, "Missing Authorization header");
    assert_rejected("");
    assert_rejected("   ");
}
END_TEST

START_TEST(missing_parts)
{
    assert_rejected("User " USER_SECRET);
    ck_assert_ptr_nonnull(strstr(err, "Organization"));
    assert_rejected("Organization " ORG_SECRET);
    ck_assert_ptr_nonnull(strstr(err, "User"));
    assert_rejected("Element " ELEMENT_TOKEN ", Organization " ORG_SECRET);
    assert_rejected("User " USER_SECRET ", Element " ELEMENT_TOKEN);
}
END_TEST

START_TEST(duplicates)
{
    assert_rejected("User " USER_SECRET ", Organization " ORG_SECRET ", User " USER_SECRET);
    ck_assert_ptr_nonnull(strstr(err, "more than one User"));
    assert_rejected("User " USER_SECRET ", Organization " ORG_SECRET ", organization " ORG_SECRET);
    assert_rejected("User " USER_SECRET ", Organization " ORG_SECRET ", Element " ELEMENT_TOKEN
                    ", Element " ELEMENT_TOKEN);
}
END_TEST

START_TEST(empty_values)
{
    assert_rejected("User , Organization " ORG_SECRET);
    ck_assert_ptr_nonnull(strstr(err, "empty User value"));
    assert_rejected("User " USER_SECRET ", Organization");
    assert_rejected("User " USER_SECRET ", Organization   ");
    assert_rejected("User " USER_SECRET ", Organization " ORG_SECRET ", Element");
    assert_rejected("User,Organization " ORG_SECRET);
}
END_TEST

START_TEST(malformed_separators)
{
    /* trailing / doubled / missing commas, two values for one name */
    assert_rejected("User " USER_SECRET ", Organization " ORG_SECRET ",");
    assert_rejected("User " USER_SECRET ",, Organization " ORG_SECRET);
    assert_rejected(", User " USER_SECRET ", Organization " ORG_SECRET);
    assert_rejected("User " USER_SECRET " Organization " ORG_SECRET);
    assert_rejected("User " USER_SECRET " bogus, Organization " ORG_SECRET);
    assert_rejected("User" USER_SECRET ", Organization " ORG_SECRET);
}
END_TEST

START_TEST(unknown_parts)
{
    assert_rejected("User " USER_SECRET ", Organization " ORG_SECRET ", bogus " ELEMENT_TOKEN);
    ck_assert_ptr_nonnull(strstr(err, "unknown part"));
    assert_rejected("Bearer " USER_SECRET);
    assert_rejected("Basic " ORG_SECRET);
    assert_rejected("Users " USER_SECRET ", Organization " ORG_SECRET);
}
END_TEST

START_TEST(over_long_header)
{
    char *header;
    const char *prefix = "User " USER_SECRET ", Organization ";
    apr_size_t plen = strlen(prefix);

    /* exactly CE_AUTH_MAX_LEN bytes is accepted, one more is not */
    header = apr_palloc(pool, CE_AUTH_MAX_LEN + 2);
    memcpy(header, prefix, plen);
    memset(header + plen, 'A', CE_AUTH_MAX_LEN - plen);
    header[CE_AUTH_MAX_LEN] = '\0';
    ck_assert_int_eq(parse(header), APR_SUCCESS);
    ck_assert_uint_eq(strlen(creds.organization_secret), CE_AUTH_MAX_LEN - plen);

    header[CE_AUTH_MAX_LEN] = 'A';
    header[CE_AUTH_MAX_LEN + 1] = '\0';
    assert_rejected(header);
    ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

/* sizeof, not strlen: a literal may hold NUL */
#define HAS_CTL(lit) ce_auth_line_has_ctl(lit, sizeof(lit) - 1)

START_TEST(control_characters_in_the_raw_line)
{
    static const char nul_line[] = "Authorization: User a\0b, Organization c\r\n";

    ck_assert(HAS_CTL("Authorization: User \001x, Organization y\r\n"));
    ck_assert(HAS_CTL("authorization: User x\177, Organization y\n"));
    ck_assert(HAS_CTL(nul_line));
    ck_assert(HAS_CTL("AUTHORIZATION:\rUser x\r\n"));
    /* HTAB is allowed; the line's own CRLF or LF is not the value's */
    ck_assert(!HAS_CTL("Authorization:\tUser x,\tOrganization y\r\n"));
    ck_assert(!HAS_CTL("Authorization: User x, Organization y\n"));
    ck_assert(!HAS_CTL("Authorization: User x, Organization y"));
    /* other headers, and lines too short to be one, are not looked at */
    ck_assert(!HAS_CTL("X-Authorization: \001\r\n"));
    ck_assert(!HAS_CTL("Cookie: a\001b\r\n"));
    ck_assert(!HAS_CTL("Author"));
    ck_assert(!HAS_CTL(""));
    /* what such a line becomes is refused, with a message of its own */
    ck_assert_int_eq(parse(CE_AUTH_SCRUBBED), APR_EACCES);
    ck_assert_str_eq(err, "Malformed Authorization header: control characters");
}
END_TEST

START_TEST(messages_never_echo_values)
{
    /* every rejection path, with secrets in every position */
    static const char *const headers[] = {
        "User " USER_SECRET ", Organization " ORG_SECRET ", Element " ELEMENT_TOKEN " bogus",
        "User " USER_SECRET " " ORG_SECRET,
        USER_SECRET ", Organization " ORG_SECRET,
        "uSeCrEt " ORG_SECRET,
        "User " USER_SECRET ", Organization " ORG_SECRET ", User " USER_SECRET,
        "User " USER_SECRET ", Element " ELEMENT_TOKEN,
        "Organization " ORG_SECRET ", Element " ELEMENT_TOKEN,
    };
    apr_size_t i;

    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        assert_rejected(headers[i]);
    }
}
END_TEST

/* One connection's header lines through the scrubber, in order. */
static const char *scrub(ce_auth_lines_t *st, const char *line)
{
    return ce_auth_line_scrub(st, line, strlen(line));
}

START_TEST(line_scrub)
{
    ce_auth_lines_t st = {0, 0};
    const char *bad_line = "Authorization: " CE_AUTH_MALFORMED "\r\n";

    ck_assert_ptr_null(scrub(&st, "Host: x\r\n"));
    ck_assert_ptr_null(scrub(&st, "Authorization: User u, Organization o\r\n"));
    ck_assert_ptr_null(scrub(&st, "Accept: */*\r\n"));
    ck_assert_ptr_null(scrub(&st, "Authorization-Extra: x\r\n")); /* another header */
    ck_assert_ptr_null(scrub(&st, "Authorizations: x\r\n"));
    /* malformed names */
    ck_assert_str_eq(scrub(&st, "Authorization : User u\r\n"), bad_line);
    ck_assert_str_eq(scrub(&st, "authorization User u, Organization o\r\n"), bad_line);
    ck_assert_str_eq(scrub(&st, "AUTHORIZATION\t: x\n"), bad_line);
    /* control characters */
    ck_assert_str_eq(scrub(&st, "Authorization: User \x01u\r\n"),
                     "Authorization: " CE_AUTH_SCRUBBED "\r\n");
    /* folding: continuation lines of an Authorization line only */
    ck_assert_ptr_null(scrub(&st, "Authorization: User u,\r\n"));
    ck_assert_str_eq(scrub(&st, " Organization o\r\n"), " " CE_AUTH_MALFORMED "\r\n");
    ck_assert_str_eq(scrub(&st, "\tmore\r\n"), " " CE_AUTH_MALFORMED "\r\n");
    ck_assert_ptr_null(scrub(&st, "X-Other: a\r\n"));
    ck_assert_ptr_null(scrub(&st, " folded into X-Other\r\n"));
    ck_assert_ptr_null(scrub(&st, "\r\n")); /* end of the headers */
    ck_assert_ptr_null(scrub(&st, " not a fold after the blank line\r\n"));
    /* a line in parts (too long for one read): its first part, then spaces */
    ck_assert_str_eq(scrub(&st, "Authorization: User u, Organization o   "),
                     "Authorization: " CE_AUTH_MALFORMED);
    ck_assert_str_eq(scrub(&st, "          "), " ");
    ck_assert_str_eq(scrub(&st, "      x\r\n"), "\r\n");
    ck_assert_ptr_null(scrub(&st, "Host: y\r\n"));
    /* one long line at once */
    {
        char *longline = apr_pstrcat(pool, "Authorization: User u, Organization o",
                                     apr_psprintf(pool, "%2000s", ""), "\r\n", NULL);

        ck_assert_str_eq(scrub(&st, longline), bad_line);
    }
    /* and what ce_auth_parse makes of the replacements */
    {
        ce_credentials_t c;
        const char *why = NULL;

        ck_assert_int_eq(ce_auth_parse(&c, pool, CE_AUTH_MALFORMED, &why), APR_EACCES);
        ck_assert_str_eq(why, "Malformed Authorization header line (its name, folding or length)");
        ck_assert_int_eq(ce_auth_parse(&c, pool, "User u, " CE_AUTH_MALFORMED, &why), APR_EACCES);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = UNIT_CASE("parse");
    UNIT_FIXTURE(tc);
    tcase_add_test(tc, user_and_organization);
    tcase_add_test(tc, with_element);
    tcase_add_test(tc, any_order);
    tcase_add_test(tc, names_case_insensitive);
    tcase_add_test(tc, extra_and_missing_spaces);
    tcase_add_test(tc, values_are_copied);
    tcase_add_test(tc, null_and_empty);
    tcase_add_test(tc, missing_parts);
    tcase_add_test(tc, duplicates);
    tcase_add_test(tc, empty_values);
    tcase_add_test(tc, malformed_separators);
    tcase_add_test(tc, unknown_parts);
    tcase_add_test(tc, over_long_header);
    tcase_add_test(tc, messages_never_echo_values);
    tcase_add_test(tc, control_characters_in_the_raw_line);
    tcase_add_test(tc, line_scrub);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
