/* ce_route: the route table and matching (see ce_route.h). */
#include <string.h>
#include <apr_strings.h>

#include "ce_num.h"
#include "ce_route.h"

typedef struct {
    const char *name;
    ce_route_endpoint_t endpoint;
} method_t;

/* Pattern segments: "#" a positive id (first the instance's, second the
 * configuration's), "*" any one segment (an element key or id). */
typedef struct {
    const char *pattern;
    const char *allow;
    method_t methods[4];
} route_t;

static const route_t routes[] = {
    {"elements", "GET", {{"GET", CE_ROUTE_ELEMENTS_LIST}}},
    {"elements/*", "GET", {{"GET", CE_ROUTE_ELEMENTS_GET}}},
    {"elements/*/oauth/url",
     "GET, POST",
     {{"GET", CE_ROUTE_OAUTH_URL}, {"POST", CE_ROUTE_OAUTH_URL}}},
    {"instances",
     "GET, POST",
     {{"GET", CE_ROUTE_INSTANCES_LIST}, {"POST", CE_ROUTE_INSTANCES_CREATE}}},
    {"instances/#",
     "GET, PUT, PATCH, DELETE",
     {{"GET", CE_ROUTE_INSTANCES_GET},
      {"PUT", CE_ROUTE_INSTANCES_UPDATE},
      {"PATCH", CE_ROUTE_INSTANCES_UPDATE},
      {"DELETE", CE_ROUTE_INSTANCES_DELETE}}},
    {"instances/#/configuration", "GET", {{"GET", CE_ROUTE_CONFIG_LIST}}},
    {"instances/#/configuration/#",
     "GET, PATCH",
     {{"GET", CE_ROUTE_CONFIG_GET}, {"PATCH", CE_ROUTE_CONFIG_PATCH}}},
    {"instances/#/enabled",
     "PUT, DELETE",
     {{"PUT", CE_ROUTE_ENABLE}, {"DELETE", CE_ROUTE_DISABLE}}},
};

/* Splits path on '/', ignoring empty segments ("/instances/" is "instances").
 * Returns the count, or -1 when there are more than max. */
static int split(char **segs, int max, char *path)
{
    char *state = NULL, *seg;
    int n = 0;

    for (seg = apr_strtok(path, "/", &state); seg; seg = apr_strtok(NULL, "/", &state)) {
        if (n == max) {
            return -1;
        }
        segs[n++] = seg;
    }
    return n;
}

/* One segment against one pattern segment [pat, pat + len). */
static int match_segment(ce_route_t *rt, int *ids, const char *pat, apr_size_t len, char *seg)
{
    apr_int64_t id;

    if (len == 1 && *pat == '#') {
        if (ce_num_parse(&id, seg, 1, APR_INT64_MAX) != APR_SUCCESS) {
            return 0;
        }
        if ((*ids)++ == 0) {
            rt->instance_id = id;
        } else {
            rt->config_id = id;
        }
        return 1;
    }
    if (len == 1 && *pat == '*') {
        rt->element_ref = seg;
        return 1;
    }
    return strlen(seg) == len && strncmp(pat, seg, len) == 0;
}

/* Whether segs[0..n) is pattern, walking it in place; fills rt's ids. */
static int match(const char *pattern, char **segs, int n, ce_route_t *rt)
{
    const char *pat = pattern, *end;
    int i, ids = 0;

    for (i = 0; i < n; i++, pat = *end ? end + 1 : end) {
        if (!*pat) {
            return 0; /* the path is longer than the pattern */
        }
        end = strchr(pat, '/');
        end = end ? end : pat + strlen(pat);
        if (!match_segment(rt, &ids, pat, (apr_size_t)(end - pat), segs[i])) {
            return 0;
        }
    }
    return *pat == '\0'; /* and not shorter */
}

/* The route segs[0..n) names, with rt's ids filled in; NULL if none. A
 * route that does not match leaves rt as it was. */
static const route_t *find(ce_route_t *rt, char **segs, int n)
{
    apr_size_t i;
    ce_route_t tried;

    for (i = 0; n > 0 && i < sizeof(routes) / sizeof(routes[0]); i++) {
        tried = *rt;
        if (match(routes[i].pattern, segs, n, &tried)) {
            *rt = tried;
            return &routes[i];
        }
    }
    return NULL;
}

static ce_route_endpoint_t endpoint_of(const route_t *route, const char *method)
{
    int i;

    if (strcmp(method, "HEAD") == 0) {
        method = "GET"; /* httpd numbers HEAD as GET and drops the body */
    }
    for (i = 0; i < 4 && route->methods[i].name; i++) {
        if (strcmp(route->methods[i].name, method) == 0) {
            return route->methods[i].endpoint;
        }
    }
    return CE_ROUTE_NONE;
}

apr_status_t ce_route_match(ce_route_t *rt, apr_pool_t *p, const char *path, const char *method)
{
    char *segs[CE_ROUTE_MAX_SEGMENTS];
    int n = path ? split(segs, CE_ROUTE_MAX_SEGMENTS, apr_pstrdup(p, path)) : -1;
    const route_t *route;

    memset(rt, 0, sizeof(*rt));
    if (n >= 3 && strcmp(segs[0], "elements") == 0 && strcmp(segs[2], "instances") == 0) {
        /* /elements/{key or id}/instances... is /instances... scoped to it */
        rt->element_ref = segs[1];
        rt->scoped = 1;
        memmove(segs, segs + 2, (apr_size_t)(n - 2) * sizeof(*segs));
        n -= 2;
    }
    if (!(route = find(rt, segs, n))) {
        memset(rt, 0, sizeof(*rt));
        return APR_NOTFOUND;
    }
    rt->allow = route->allow;
    rt->endpoint = method ? endpoint_of(route, method) : CE_ROUTE_NONE;
    return rt->endpoint != CE_ROUTE_NONE ? APR_SUCCESS : APR_ENOTIMPL;
}
