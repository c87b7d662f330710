/* fuzz_route: libFuzzer target of the core functions that read the request
 * line's path and query (src/ce_route.c, src/ce_page.c):
 *   ce_route_match       the path below the mount, with a method name;
 *   ce_page_query_parse  the same bytes as a raw (still encoded) query string.
 * Input: "METHOD\nREST" (no newline: method GET); REST ends at the first NUL
 * byte and is copied into a buffer of exactly its size.
 *
 * Contracts checked (FUZZ_CHECK):
 *   route   one of three answers; a match names an endpoint whose method is in
 *           its Allow, a 405 has an Allow without the method, a 404 nothing;
 *           each id is positive and its canonical digits are a segment of the
 *           path, the element ref is a segment too, scoped only for
 *           /instances endpoints; empty segments change nothing and whether
 *           a path exists does not depend on the method;
 *   query   accepted: 1 <= limit <= CE_PAGE_SIZE_MAX, the element id as
 *           given, a page id whose token round-trips, tags without '<';
 *           refused: one of the two messages.
 */
#include <stdint.h>
#include <string.h>
#include <apr_strings.h>

#include "ce_page.h"
#include "ce_route.h"
#include "fuzz.h"

#define METHOD_MAX 16

/* Whether seg is one whole segment of path. */
static int has_segment(const char *path, const char *seg)
{
    apr_size_t len = strlen(seg);
    const char *at = path;

    for (; (at = strstr(at, seg)) != NULL; at++) {
        if ((at == path || at[-1] == '/') && (at[len] == '\0' || at[len] == '/')) {
            return 1;
        }
    }
    return 0;
}

/* Whether method (HEAD as GET) is one of allow's comma-separated names. */
static int allows(apr_pool_t *p, const char *allow, const char *method)
{
    char *list = apr_pstrdup(p, allow), *state = NULL, *m;

    method = strcmp(method, "HEAD") == 0 ? "GET" : method;
    for (m = apr_strtok(list, ", ", &state); m; m = apr_strtok(NULL, ", ", &state)) {
        if (strcmp(m, method) == 0) {
            return 1;
        }
    }
    return 0;
}

static int is_instances_endpoint(ce_route_endpoint_t ep)
{
    return ep >= CE_ROUTE_INSTANCES_LIST && ep < CE_ROUTE_ENDPOINTS;
}

static int is_events_endpoint(ce_route_endpoint_t ep)
{
    return ep >= CE_ROUTE_EVENTS_LIST && ep <= CE_ROUTE_EVENTS_REDELIVER;
}

/* The event log's: an instance id only where the path has one (never on
 * redeliver); an event id, one whole segment of the path, on one event. */
static void check_event_ids(const ce_route_t *rt, const char *path)
{
    int needs_event =
        rt->endpoint == CE_ROUTE_EVENTS_GET || rt->endpoint == CE_ROUTE_EVENTS_REDELIVER;

    FUZZ_CHECK(!rt->by_token, "by token on events endpoint %d", (int)rt->endpoint);
    FUZZ_CHECK(rt->instance_id >= 0 &&
                   (rt->endpoint != CE_ROUTE_EVENTS_REDELIVER || rt->instance_id == 0),
               "events instance id %lld", (long long)rt->instance_id);
    FUZZ_CHECK(needs_event ? rt->event_id && *rt->event_id && !strchr(rt->event_id, '/') &&
                                 has_segment(path, rt->event_id)
                           : rt->event_id == NULL,
               "event id '%s' on endpoint %d", rt->event_id ? rt->event_id : "(none)",
               (int)rt->endpoint);
}

static void check_ids(apr_pool_t *p, const ce_route_t *rt, const char *path)
{
    ce_route_endpoint_t ep = rt->endpoint;
    int events = is_events_endpoint(ep);
    int on_one = is_instances_endpoint(ep) && !events && ep != CE_ROUTE_INSTANCES_LIST &&
                 ep != CE_ROUTE_INSTANCES_CREATE;
    int needs_id = on_one && !rt->by_token; /* else the Element token names it */
    int needs_config = ep == CE_ROUTE_CONFIG_GET || ep == CE_ROUTE_CONFIG_PATCH;

    FUZZ_CHECK(!rt->by_token || on_one, "by token on endpoint %d", (int)ep);
    if (events) {
        check_event_ids(rt, path);
    } else {
        FUZZ_CHECK(needs_id ? rt->instance_id > 0 : rt->instance_id == 0, "instance id %lld",
                   (long long)rt->instance_id);
    }
    FUZZ_CHECK(needs_config ? rt->config_id > 0 : rt->config_id == 0, "config id %lld",
               (long long)rt->config_id);
    FUZZ_CHECK(!rt->instance_id ||
                   has_segment(path, apr_psprintf(p, "%" APR_INT64_T_FMT, rt->instance_id)),
               "instance id %lld is not spelled in the path", (long long)rt->instance_id);
    FUZZ_CHECK(!rt->config_id ||
                   has_segment(path, apr_psprintf(p, "%" APR_INT64_T_FMT, rt->config_id)),
               "config id %lld is not spelled in the path", (long long)rt->config_id);
}

static void check_match(apr_pool_t *p, const ce_route_t *rt, const char *path, const char *method)
{
    FUZZ_CHECK(rt->endpoint > CE_ROUTE_NONE && rt->endpoint < CE_ROUTE_ENDPOINTS, "endpoint %d",
               (int)rt->endpoint);
    FUZZ_CHECK(rt->allow && allows(p, rt->allow, method), "%s not in Allow", method);
    FUZZ_CHECK(!rt->scoped || (rt->element_ref && is_instances_endpoint(rt->endpoint)),
               "scoped endpoint %d", (int)rt->endpoint);
    FUZZ_CHECK(!rt->element_ref || (*rt->element_ref && !strchr(rt->element_ref, '/') &&
                                    has_segment(path, rt->element_ref)),
               "element ref '%s'", rt->element_ref);
    FUZZ_CHECK(rt->scoped || !rt->element_ref || rt->endpoint == CE_ROUTE_ELEMENTS_GET,
               "element ref without scope on endpoint %d", (int)rt->endpoint);
    check_ids(p, rt, path);
}

static void route(apr_pool_t *p, const char *path, const char *method)
{
    ce_route_t rt, again, get;
    apr_status_t rv = ce_route_match(&rt, p, path, method);

    if (rv == APR_SUCCESS) {
        check_match(p, &rt, path, method);
    } else if (rv == APR_ENOTIMPL) {
        FUZZ_CHECK(rt.endpoint == CE_ROUTE_NONE && rt.allow && !allows(p, rt.allow, method),
                   "405 for %s with Allow %s", method, rt.allow ? rt.allow : "(null)");
    } else {
        FUZZ_CHECK(rv == APR_NOTFOUND, "status %d", rv);
        FUZZ_CHECK(rt.endpoint == CE_ROUTE_NONE && !rt.allow && !rt.element_ref && !rt.scoped &&
                       !rt.instance_id && !rt.config_id,
                   "404 with a result");
    }
    FUZZ_CHECK(ce_route_match(&again, p, apr_pstrcat(p, "//", path, "/", NULL), method) == rv &&
                   again.endpoint == rt.endpoint && again.instance_id == rt.instance_id &&
                   again.config_id == rt.config_id && again.scoped == rt.scoped,
               "empty segments changed the route");
    FUZZ_CHECK((ce_route_match(&get, p, path, "GET") == APR_NOTFOUND) == (rv == APR_NOTFOUND),
               "whether the path exists depends on the method");
}

static void query(apr_pool_t *p, const char *args)
{
    ce_instance_query_t q;
    const char *err = NULL;
    apr_int64_t back = 0;
    int i;

    if (ce_page_query_parse(&q, p, args, 16, &err) != APR_SUCCESS) {
        FUZZ_CHECK(err && (strcmp(err, "pageSize must be a positive integer") == 0 ||
                           strcmp(err, "Invalid nextPage token") == 0 ||
                           strcmp(err, "hydrate must be true or false") == 0 ||
                           strstr(err, "does not decode (a bad %-escape or %00)")),
                   "message '%s'", err ? err : "(null)");
        return;
    }
    FUZZ_CHECK(q.limit >= 1 && q.limit <= CE_PAGE_SIZE_MAX, "limit %d", q.limit);
    FUZZ_CHECK(q.element_id == 16 && q.tags, "element id %ld", q.element_id);
    FUZZ_CHECK(q.before_id >= 0, "page id %lld", (long long)q.before_id);
    FUZZ_CHECK(!q.before_id ||
                   (ce_page_token_parse(&back, ce_page_token(p, q.before_id)) == APR_SUCCESS &&
                    back == q.before_id),
               "page id %lld does not round-trip", (long long)q.before_id);
    for (i = 0; i < q.tags->nelts; i++) {
        FUZZ_CHECK(!strchr(APR_ARRAY_IDX(q.tags, i, const char *), '<'), "tag with '<'");
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ce_route_t rt;

    fuzz_init();
    FUZZ_CHECK(ce_route_match(&rt, fuzz_root, NULL, "GET") == APR_NOTFOUND, "NULL path");
    fuzz_init_done();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *nl = memchr(data, '\n', size < METHOD_MAX ? size : METHOD_MAX);
    size_t mlen = nl ? (size_t)(nl - (const char *)data) : 0;
    const char *rest = nl ? nl + 1 : (const char *)data;
    size_t len = strnlen(rest, size - (size_t)(rest - (const char *)data));
    const char *method = nl ? apr_pstrmemdup(p, (const char *)data, mlen) : "GET";
    char *s = malloc(len + 1);

    memcpy(s, rest, len);
    s[len] = '\0';
    route(p, s, method);
    query(p, s);
    free(s);
    apr_pool_destroy(p);
    return 0;
}
