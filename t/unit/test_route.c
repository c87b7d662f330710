/* Unit tests of ce_route: every route and method, 404 against 405 + Allow,
 * the /elements/{ref}/instances scope, ids, segments. */
#include <string.h>
#include "unit.h"
#include "ce_route.h"

static const char *const methods[] = {"GET",     "HEAD",  "POST", "PUT", "PATCH",    "DELETE",
                                      "OPTIONS", "TRACE", "get",  "Get", "PROPFIND", ""};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

/* Each path shape, its Allow, and the endpoint of each method above
 * (CE_ROUTE_NONE: 405). */
static const struct {
    const char *path, *allow;
    ce_route_endpoint_t ep[N_METHODS];
    int by_token; /* of PUT, PATCH and DELETE (and every method of a path without "/7") */
} table[] = {
    {"elements", "GET", {CE_ROUTE_ELEMENTS_LIST, CE_ROUTE_ELEMENTS_LIST}, 0},
    {"elements/jira", "GET", {CE_ROUTE_ELEMENTS_GET, CE_ROUTE_ELEMENTS_GET}, 0},
    {"elements/jira/oauth/url",
     "GET, POST",
     {CE_ROUTE_OAUTH_URL, CE_ROUTE_OAUTH_URL, CE_ROUTE_OAUTH_URL},
     0},
    {"instances",
     "GET, POST, PUT, PATCH, DELETE",
     {CE_ROUTE_INSTANCES_LIST, CE_ROUTE_INSTANCES_LIST, CE_ROUTE_INSTANCES_CREATE,
      CE_ROUTE_INSTANCES_UPDATE, CE_ROUTE_INSTANCES_UPDATE, CE_ROUTE_INSTANCES_DELETE},
     1},
    {"instances/configuration", "GET", {CE_ROUTE_CONFIG_LIST, CE_ROUTE_CONFIG_LIST}, 1},
    {"instances/configuration/3",
     "GET, PATCH",
     {CE_ROUTE_CONFIG_GET, CE_ROUTE_CONFIG_GET, 0, 0, CE_ROUTE_CONFIG_PATCH},
     1},
    {"instances/enabled", "PUT, DELETE", {0, 0, 0, CE_ROUTE_ENABLE, 0, CE_ROUTE_DISABLE}, 1},
    {"instances/7",
     "GET, PUT, PATCH, DELETE",
     {CE_ROUTE_INSTANCES_GET, CE_ROUTE_INSTANCES_GET, 0, CE_ROUTE_INSTANCES_UPDATE,
      CE_ROUTE_INSTANCES_UPDATE, CE_ROUTE_INSTANCES_DELETE},
     0},
    {"instances/7/configuration", "GET", {CE_ROUTE_CONFIG_LIST, CE_ROUTE_CONFIG_LIST}, 0},
    {"instances/7/configuration/3",
     "GET, PATCH",
     {CE_ROUTE_CONFIG_GET, CE_ROUTE_CONFIG_GET, 0, 0, CE_ROUTE_CONFIG_PATCH},
     0},
    {"instances/7/enabled", "PUT, DELETE", {0, 0, 0, CE_ROUTE_ENABLE, 0, CE_ROUTE_DISABLE}, 0},
    {"instances/events", "GET", {CE_ROUTE_EVENTS_LIST, CE_ROUTE_EVENTS_LIST}, 0},
    {"instances/events/ev-9", "GET", {CE_ROUTE_EVENTS_GET, CE_ROUTE_EVENTS_GET}, 0},
    {"instances/events/ev-9/redeliver", "PUT", {0, 0, 0, CE_ROUTE_EVENTS_REDELIVER}, 0},
    {"instances/7/events", "GET", {CE_ROUTE_EVENTS_LIST, CE_ROUTE_EVENTS_LIST}, 0},
    {"instances/7/events/ev-9", "GET", {CE_ROUTE_EVENTS_GET, CE_ROUTE_EVENTS_GET}, 0},
    {"instances/7/docs", "GET", {CE_ROUTE_INSTANCE_DOCS, CE_ROUTE_INSTANCE_DOCS}, 0},
    {"instances/docs", "GET", {CE_ROUTE_INSTANCE_DOCS, CE_ROUTE_INSTANCE_DOCS}, 1},
    {"docs", "GET", {CE_ROUTE_DOCS, CE_ROUTE_DOCS}, 0},
};
#define N_TABLE (sizeof(table) / sizeof(table[0]))

/* Every route × method, unscoped and (for instances) scoped. */
START_TEST(every_route_and_method)
{
    int scoped = _i / (int)N_TABLE, r = _i % (int)N_TABLE;
    const char *path = table[r].path;
    apr_size_t m;

    if (scoped && strncmp(path, "instances", 9) != 0) {
        return;
    }
    if (scoped) {
        path = apr_pstrcat(pool, "elements/sfdc/", path, NULL);
    }
    for (m = 0; m < N_METHODS; m++) {
        ce_route_t rt;
        apr_status_t rv = ce_route_match(&rt, pool, path, methods[m]);

        ck_assert_msg(rv == (table[r].ep[m] ? APR_SUCCESS : APR_ENOTIMPL), "%s %s: %d", methods[m],
                      path, rv);
        ck_assert_int_eq(rt.endpoint, table[r].ep[m]);
        ck_assert_str_eq(rt.allow, table[r].allow);
        ck_assert_int_eq(rt.scoped, scoped);
        /* by the token: every method of a path without {id}, but for the
         * list and the create */
        ck_assert_int_eq(rt.by_token, table[r].by_token && table[r].ep[m] &&
                                          table[r].ep[m] != CE_ROUTE_INSTANCES_LIST &&
                                          table[r].ep[m] != CE_ROUTE_INSTANCES_CREATE);
        ck_assert(rt.instance_id == (strstr(path, "/7") ? 7 : 0));
        ck_assert(rt.config_id == (strstr(path, "/3") ? 3 : 0));
        if (strstr(path, "ev-9")) {
            ck_assert_str_eq(rt.event_id, "ev-9");
        } else {
            ck_assert_ptr_null(rt.event_id);
        }
        if (scoped) {
            ck_assert_str_eq(rt.element_ref, "sfdc");
        } else if (r == 1 || r == 2) {
            ck_assert_str_eq(rt.element_ref, "jira");
        } else {
            ck_assert_ptr_null(rt.element_ref);
        }
    }
}
END_TEST

static void not_found(const char *path)
{
    ce_route_t rt;
    apr_size_t m;

    for (m = 0; m < N_METHODS; m++) {
        ck_assert_msg(ce_route_match(&rt, pool, path, methods[m]) == APR_NOTFOUND, "%s %s",
                      methods[m], path ? path : "(null)");
        ck_assert_int_eq(rt.endpoint, CE_ROUTE_NONE);
        ck_assert_ptr_null(rt.allow);
        ck_assert_ptr_null(rt.element_ref);
        ck_assert(rt.instance_id == 0 && rt.config_id == 0 && !rt.scoped);
    }
}

START_TEST(unknown_paths)
{
    static const char *const paths[] = {
        NULL,
        "",
        "/",
        "//",
        "nope",
        "instance",
        "Instances",
        "INSTANCES",
        "elements/jira/nope",
        "instances/7/nope",
        "instances/7/configuration/1/x",
        "instances/7/enabled/x",
        "elements/jira/instances/7/nope",
        "elements/jira/instances/x",
        "instances/7/7",
        "instances/configuration/3/x",
        "instances/enabled/3",
        "instances/configuration/0",
        "instances/7/configuration/configuration",
        "a/b/c/d/e/f/g/h/i/j",
        "elements/a/b",
        "instances/7/configuration/0",
        "elements/jira/elements",
        "elements/jira/instances/7/enabled/1",
        "instances%2F7",
        "instances/7/Enabled",
        "elements/jira/docs",
        "instances/7/docs/x",
        "docs/x",
        /* more than CE_ROUTE_MAX_SEGMENTS segments */
        "elements/x/instances/7/configuration/3/a/b/c",
        "/a/b/c/d/e/f/g/h/i",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        not_found(paths[i]);
    }
}
END_TEST

START_TEST(bad_ids)
{
    static const char *const ids[] = {
        "0",
        "-1",
        "+1",
        "016",
        "007",
        "00",
        "abc",
        "1.5",
        "1e3",
        "0x10",
        "%20",
        "7abc",
        " 7",
        "7 ",
        "9223372036854775808",
        "18446744073709551617",
        "99999999999999999999",
        "\xd9\xa7",
    };
    static const char *const shapes[][2] = {
        {"instances/", ""},
        {"instances/", "/configuration"},
        {"instances/", "/configuration/1"},
        {"instances/1/configuration/", ""},
        {"instances/", "/enabled"},
        {"elements/jira/instances/", ""},
    };
    apr_size_t i, j;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        for (j = 0; j < sizeof(shapes) / sizeof(shapes[0]); j++) {
            not_found(apr_pstrcat(pool, shapes[j][0], ids[i], shapes[j][1], NULL));
        }
    }
}
END_TEST

START_TEST(good_ids)
{
    ce_route_t rt;

    ck_assert_int_eq(ce_route_match(&rt, pool,
                                    "instances/9223372036854775807/configuration/"
                                    "9223372036854775807",
                                    "GET"),
                     APR_SUCCESS);
    ck_assert(rt.instance_id == APR_INT64_MAX && rt.config_id == APR_INT64_MAX);
    /* 19 digits: the router refused more than 18 before (both end in 404) */
    ck_assert_int_eq(ce_route_match(&rt, pool, "instances/1000000000000000000", "GET"),
                     APR_SUCCESS);
    ck_assert(rt.instance_id == 1000000000000000000LL);
    ck_assert_int_eq(ce_route_match(&rt, pool, "instances/10/configuration/20", "PATCH"),
                     APR_SUCCESS);
    ck_assert(rt.instance_id == 10 && rt.config_id == 20);
}
END_TEST

START_TEST(empty_segments_and_limits)
{
    ce_route_t rt;

    ck_assert_int_eq(ce_route_match(&rt, pool, "/instances/", "GET"), APR_SUCCESS);
    ck_assert_int_eq(rt.endpoint, CE_ROUTE_INSTANCES_LIST);
    ck_assert_int_eq(ce_route_match(&rt, pool, "//instances//7///enabled//", "DELETE"),
                     APR_SUCCESS);
    ck_assert_int_eq(rt.endpoint, CE_ROUTE_DISABLE);
    ck_assert(rt.instance_id == 7);
    ck_assert_int_eq(ce_route_match(&rt, pool, "instances/7/configuration/3/", "GET"), APR_SUCCESS);
    /* the longest route: six segments, scoped */
    ck_assert_int_eq(ce_route_match(&rt, pool, "/elements/x/instances/7/configuration/3", "GET"),
                     APR_SUCCESS);
    ck_assert_int_eq(rt.endpoint, CE_ROUTE_CONFIG_GET);
    ck_assert(rt.scoped && strcmp(rt.element_ref, "x") == 0);
    ck_assert_int_eq(ce_route_match(&rt, pool, "a/b/c/d/e/f/g/h", "GET"), APR_NOTFOUND);
    ck_assert_int_eq(ce_route_match(&rt, pool, "a/b/c/d/e/f/g/h/i", "GET"), APR_NOTFOUND);
}
END_TEST

START_TEST(scope_and_element_refs)
{
    ce_route_t rt;

    /* the ref is any segment: resolved (or not) by the caller */
    ck_assert_int_eq(ce_route_match(&rt, pool, "elements/16/instances", "POST"), APR_SUCCESS);
    ck_assert_int_eq(rt.endpoint, CE_ROUTE_INSTANCES_CREATE);
    ck_assert(rt.scoped && strcmp(rt.element_ref, "16") == 0);
    ck_assert_int_eq(ce_route_match(&rt, pool, "elements/instances/instances", "GET"), APR_SUCCESS);
    ck_assert(rt.scoped && strcmp(rt.element_ref, "instances") == 0);
    ck_assert_int_eq(ce_route_match(&rt, pool, "elements/%3Cx%3E", "GET"), APR_SUCCESS);
    ck_assert(!rt.scoped && strcmp(rt.element_ref, "%3Cx%3E") == 0);
    /* 405 keeps what the path said */
    ck_assert_int_eq(ce_route_match(&rt, pool, "elements/jira/instances/5", "POST"), APR_ENOTIMPL);
    ck_assert_str_eq(rt.allow, "GET, PUT, PATCH, DELETE");
    ck_assert(rt.scoped && rt.instance_id == 5);
    ck_assert_int_eq(ce_route_match(&rt, pool, "elements/jira", "DELETE"), APR_ENOTIMPL);
    ck_assert_str_eq(rt.allow, "GET");
    ck_assert_int_eq(ce_route_match(&rt, pool, "elements", NULL), APR_ENOTIMPL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("route");
    TCase *tc = UNIT_CASE("route");

    UNIT_FIXTURE(tc);
    tcase_add_loop_test(tc, every_route_and_method, 0, 2 * (int)N_TABLE);
    tcase_add_test(tc, unknown_paths);
    tcase_add_test(tc, bad_ids);
    tcase_add_test(tc, good_ids);
    tcase_add_test(tc, empty_segments_and_limits);
    tcase_add_test(tc, scope_and_element_refs);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
