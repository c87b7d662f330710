/* Unit tests of ce_render and ce_instance_render: every byte equal to
 * what jansson's json_dumps writes for the same value (the reference). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "unit.h"
#include "ce_catalog.h"
#include "ce_instance.h"
#include "ce_json.h"
#include "ce_render.h"

/* What the reference writes for the string s: null when jansson refuses
 * it (not UTF-8). */
static const char *reference_string(const char *s)
{
    json_t *j = json_string(s);
    const char *out = j ? ce_json_dump(pool, j) : "null";

    json_decref(j);
    return out;
}

static const char *rendered_string(const char *s)
{
    ce_render_t w;

    ce_render_init(&w, pool, 1); /* smallest start: every append grows it */
    ce_render_string(&w, s);
    return ce_render_text(&w);
}

START_TEST(strings_as_jansson)
{
    static const char *const cases[] = {
        "",
        "plain",
        "quote\" backslash\\ slash/",
        "\b\f\n\r\t",
        "\x01\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", /* 2, 3 and 4 bytes */
        "\xc0\x80",                                  /* overlong NUL */
        "\xe0\x80\xaf",                              /* overlong '/' */
        "\xed\xa0\x80",                              /* a surrogate */
        "\xf4\x90\x80\x80",                          /* past U+10FFFF */
        "\xe2\x82",                                  /* cut short */
        "\x80",
        "a\xf5\x80\x80\x80",
        "\xff",
        "<b>x</b> & 'y'",
        "\xef\xbb\xbf BOM",
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(strcmp(rendered_string(cases[i]), reference_string(cases[i])) == 0,
                      "case %zu: %s vs %s", i, rendered_string(cases[i]),
                      reference_string(cases[i]));
    }
    ck_assert_str_eq(rendered_string(NULL), "null");
}
END_TEST

/* 20,000 random byte strings, biased to the bytes that matter (controls,
 * quotes, UTF-8 lead and continuation bytes). */
START_TEST(random_strings_as_jansson)
{
    static const unsigned char pick[] = {'a',  '"',  '\\', '/',  '\n', 0x01, 0x1f, 0x7f,
                                         0x80, 0xbf, 0xc2, 0xc0, 0xdf, 0xe0, 0xed, 0xef,
                                         0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x90, 0x8f, ' '};
    char buf[16];
    unsigned int seed = 15;
    int i, n, k;

    for (i = 0; i < 20000; i++) {
        n = rand_r(&seed) % 12;
        for (k = 0; k < n; k++) {
            buf[k] = (char)pick[rand_r(&seed) % sizeof(pick)];
        }
        buf[n] = '\0';
        ck_assert_str_eq(rendered_string(buf), reference_string(buf));
    }
}
END_TEST

START_TEST(values_as_jansson)
{
    static const char *const cases[] = {
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "1.5",
        "0.1",
        "1e300",
        "-0.0",
        "2.5e-7",
        "true",
        "false",
        "null",
        "[]",
        "{}",
        "[1,\"a\",null,[true,{}]]",
        "{\"k\\\"ey\":{\"n\":[1,2.25,\"\\u00e9\\n\"]},\"\":\"\"}",
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = json_loads(cases[i], JSON_DECODE_ANY, NULL);
        ce_render_t w;

        ck_assert_ptr_nonnull(j);
        ce_render_init(&w, pool, 8);
        ce_render_json(&w, j);
        ck_assert_str_eq(ce_render_text(&w), ce_json_dump(pool, j));
        json_decref(j);
    }
}
END_TEST

/* ---- instances ------------------------------------------------------------ */

static ce_catalog_t *cat;
static const ce_user_t ann = {7, 3, "ann@example.com", "Ann", "Lee"};
static const ce_user_t odd = {8, 3, "o\"d\xc3\xa9@example.com", "", "\n"};

static void load_catalog(void)
{
    const char *path = getenv("CE_CATALOG"), *err = NULL;

    path = path && *path ? path : "conf/elements.json";
    ck_assert_msg(ce_catalog_load(&cat, pool, path, &err) == APR_SUCCESS, "%s", err);
}

static ce_instance_t *created(const char *body, const ce_user_t *owner)
{
    ce_instance_t *inst = NULL;
    const char *err = NULL;
    json_t *j = json_loads(body, 0, NULL);

    ck_assert_ptr_nonnull(j);
    ck_assert_msg(ce_instance_create(&inst, pool, cat, j, NULL, owner, &err) == APR_SUCCESS, "%s",
                  err ? err : "?");
    json_decref(j);
    return inst;
}

static void assert_renders(const ce_instance_t *inst)
{
    static const unsigned flags[] = {0, CE_INSTANCE_DEHYDRATED, CE_INSTANCE_NO_TOKEN,
                                     CE_INSTANCE_DEHYDRATED | CE_INSTANCE_NO_TOKEN};
    size_t i;

    for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        ce_render_t w;

        ce_render_init(&w, pool, 16);
        ce_instance_render(&w, inst, flags[i]);
        ck_assert_str_eq(ce_render_text(&w),
                         ce_json_dump(pool, ce_instance_reference(pool, inst, flags[i])));
    }
}

#define JIRA                                                                                       \
    "{\"element\":{\"key\":\"jira\"},\"name\":\"<i>J</i> \\\"q\\\" \\u00e9\\t\","                  \
    "\"tags\":[\"a/b\",\"\\u0001\",\"\\ud83d\\ude00\"],\"configuration\":{"                        \
    "\"jira.username\":\"ann\",\"jira.password\":\"s3cr3t\",\"jira.api.url\":\"https://x\","       \
    "\"n\":12,\"r\":0.1,\"b\":false,\"z\":null,\"e\":\"\"}}"

START_TEST(instances_as_reference)
{
    ce_instance_t *inst, *bare;

    load_catalog();
    inst = created(JIRA, &ann);
    inst->id = 42;
    assert_renders(inst);
    inst->user = &odd;
    assert_renders(inst);
    inst->user = NULL; /* an admin's read */
    inst->token = NULL;
    inst->name = "\xff not UTF-8";
    assert_renders(inst);
    bare = created("{\"element\":{\"key\":\"amazons3\"},\"name\":\"S\",\"configuration\":{"
                   "\"filemanagement.provider.access_key\":\"A\","
                   "\"filemanagement.provider.secret_key\":\"k\","
                   "\"filemanagement.provider.bucket_name\":\"b\"}}",
                   &ann);
    /* a blank secret shows as it is, not masked */
    json_object_set_new(bare->configuration, "filemanagement.provider.secret_key", json_string(""));
    bare->tags = NULL;
    assert_renders(bare);
    bare->element = NULL; /* gone from the catalog */
    assert_renders(bare);
}
END_TEST

START_TEST(list_as_reference)
{
    apr_array_header_t *list;
    json_t *reference;
    ce_render_t w;
    int i;

    load_catalog();
    list = apr_array_make(pool, 4, sizeof(ce_instance_t *));
    APR_ARRAY_PUSH(list, ce_instance_t *) = created(JIRA, &ann);
    APR_ARRAY_PUSH(list, ce_instance_t *) = created(JIRA, &ann);
    APR_ARRAY_PUSH(list, ce_instance_t *) = created(JIRA, &odd); /* another owner */
    APR_ARRAY_PUSH(list, ce_instance_t *) = created(JIRA, &ann);
    reference = ce_json_array(pool);
    for (i = 0; i < list->nelts; i++) {
        json_array_append(reference,
                          ce_instance_reference(pool, APR_ARRAY_IDX(list, i, ce_instance_t *), 0));
    }
    ce_render_init(&w, pool, 16);
    ce_instance_render_list(&w, list, 0);
    ck_assert_str_eq(ce_render_text(&w), ce_json_dump(pool, reference));
    list->nelts = 0;
    ce_render_init(&w, pool, 16);
    ce_instance_render_list(&w, list, 0);
    ck_assert_str_eq(ce_render_text(&w), "[]");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("render");
    TCase *tc = UNIT_CASE("core");
    UNIT_FIXTURE(tc);
    tcase_add_test(tc, strings_as_jansson);
    tcase_add_test(tc, random_strings_as_jansson);
    tcase_add_test(tc, values_as_jansson);
    tcase_add_test(tc, instances_as_reference);
    tcase_add_test(tc, list_as_reference);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
