/* ce_route: the route table and matching (see ce_route.h). */
#include <string.h>
#include <apr_strings.h>

#include "ce_num.h"
#include "ce_route.h"

/* by_token: the instance is the caller's Element token's (the path has no
 * {id}). */
typedef struct {
    const char *name;
    ce_route_endpoint_t endpoint;
    int by_token;
} method_t;

#define M(name, endpoint)                                                                          \
    {                                                                                              \
        name, endpoint, 0                                                                          \
    }
#define T(name, endpoint)                                                                          \
    {                                                                                              \
        name, endpoint, 1                                                                          \
    }

/* Pattern segments: "#" a positive id (the instance's, then the
 * configuration entry's; the only one of a by-token path is the entry's),
 * "*" any one segment (an element key or id), "~" any one segment (an
 * event id). */
typedef struct {
    const char *pattern;
    const char *allow;
    method_t methods[5];
} route_t;

static const route_t routes[] = {
    {"docs", "GET", {M("GET", CE_ROUTE_DOCS)}},
    {"elements", "GET", {M("GET", CE_ROUTE_ELEMENTS_LIST)}},
    {"elements/*", "GET", {M("GET", CE_ROUTE_ELEMENTS_GET)}},
    {"elements/*/oauth/url",
     "GET, POST",
     {M("GET", CE_ROUTE_OAUTH_URL), M("POST", CE_ROUTE_OAUTH_URL)}},
    {"instances",
     "GET, POST, PUT, PATCH, DELETE",
     {M("GET", CE_ROUTE_INSTANCES_LIST), M("POST", CE_ROUTE_INSTANCES_CREATE),
      T("PUT", CE_ROUTE_INSTANCES_UPDATE), T("PATCH", CE_ROUTE_INSTANCES_UPDATE),
      T("DELETE", CE_ROUTE_INSTANCES_DELETE)}},
    {"instances/configuration", "GET", {T("GET", CE_ROUTE_CONFIG_LIST)}},
    {"instances/configuration/#",
     "GET, PATCH",
     {T("GET", CE_ROUTE_CONFIG_GET), T("PATCH", CE_ROUTE_CONFIG_PATCH)}},
    {"instances/enabled",
     "PUT, DELETE",
     {T("PUT", CE_ROUTE_ENABLE), T("DELETE", CE_ROUTE_DISABLE)}},
    {"instances/docs", "GET", {T("GET", CE_ROUTE_INSTANCE_DOCS)}},
    {"instances/events", "GET", {M("GET", CE_ROUTE_EVENTS_LIST)}},
    {"instances/events/~", "GET", {M("GET", CE_ROUTE_EVENTS_GET)}},
    {"instances/events/~/redeliver", "PUT", {M("PUT", CE_ROUTE_EVENTS_REDELIVER)}},
    {"instances/#",
     "GET, PUT, PATCH, DELETE",
     {M("GET", CE_ROUTE_INSTANCES_GET), M("PUT", CE_ROUTE_INSTANCES_UPDATE),
      M("PATCH", CE_ROUTE_INSTANCES_UPDATE), M("DELETE", CE_ROUTE_INSTANCES_DELETE)}},
    {"instances/#/configuration", "GET", {M("GET", CE_ROUTE_CONFIG_LIST)}},
    {"instances/#/configuration/#",
     "GET, PATCH",
     {M("GET", CE_ROUTE_CONFIG_GET), M("PATCH", CE_ROUTE_CONFIG_PATCH)}},
    {"instances/#/enabled",
     "PUT, DELETE",
     {M("PUT", CE_ROUTE_ENABLE), M("DELETE", CE_ROUTE_DISABLE)}},
    {"instances/#/events", "GET", {M("GET", CE_ROUTE_EVENTS_LIST)}},
    {"instances/#/events/~", "GET", {M("GET", CE_ROUTE_EVENTS_GET)}},
    {"instances/#/docs", "GET", {M("GET", CE_ROUTE_INSTANCE_DOCS)}},
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
    if (len == 1 && *pat == '~') {
        rt->event_id = seg;
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

static const method_t *method_of(const route_t *route, const char *method)
{
    int i;

    if (strcmp(method, "HEAD") == 0) {
        method = "GET"; /* httpd numbers HEAD as GET and drops the body */
    }
    for (i = 0; i < 5 && route->methods[i].name; i++) {
        if (strcmp(route->methods[i].name, method) == 0) {
            return &route->methods[i];
        }
    }
    return NULL;
}

apr_status_t ce_route_match(ce_route_t *rt, apr_pool_t *p, const char *path, const char *method)
{
    char *segs[CE_ROUTE_MAX_SEGMENTS];
    int n = path ? split(segs, CE_ROUTE_MAX_SEGMENTS, apr_pstrdup(p, path)) : -1;
    const route_t *route;
    const method_t *m;

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
    if (route->methods[0].by_token) {
        rt->config_id = rt->instance_id; /* the one id of a by-token path is the entry's */
        rt->instance_id = 0;
    }
    if (!method || !(m = method_of(route, method))) {
        return APR_ENOTIMPL;
    }
    rt->endpoint = m->endpoint;
    rt->by_token = m->by_token;
    return APR_SUCCESS;
}
