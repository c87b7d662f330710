/* mod_ce_router: the handler — maps a path and method under the mounted
 * <Location> to one endpoint, after authenticating the caller.
 *
 * Order of checks, each answered in JSON: unknown path 404, wrong method
 * 405 (+ Allow), caller 401, unknown scope element 404, then the endpoint. */
#include <httpd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mod_ce_authn.h"
#include "mod_ce_config.h"
#include "mod_ce_endpoints.h"
#include "mod_ce_guard.h"
#include "mod_ce_router.h"

APLOG_USE_MODULE(ceinstances);

#define MAX_SEGMENTS 8

typedef struct {
    int method;
    ce_endpoint_fn fn;
} ce_method_t;

/* Pattern segments: "#" is a positive integer (first one the instance id,
 * second the configuration id), "*" any one segment (an element key or id). */
typedef struct {
    const char *pattern;
    const char *allow;
    ce_method_t methods[4];
} ce_route_t;

static const ce_route_t routes[] = {
    {"elements", "GET", {{M_GET, ce_elements_list}}},
    {"elements/*", "GET", {{M_GET, ce_elements_get}}},
    {"instances", "GET, POST", {{M_GET, ce_instances_list}, {M_POST, ce_instances_create}}},
    {"instances/#",
     "GET, PUT, PATCH, DELETE",
     {{M_GET, ce_instances_get},
      {M_PUT, ce_instances_update},
      {M_PATCH, ce_instances_update},
      {M_DELETE, ce_instances_delete}}},
    {"instances/#/configuration", "GET", {{M_GET, ce_instances_config_list}}},
    {"instances/#/configuration/#",
     "GET, PATCH",
     {{M_GET, ce_instances_config_get}, {M_PATCH, ce_instances_config_patch}}},
    {"instances/#/enabled",
     "PUT, DELETE",
     {{M_PUT, ce_instances_enable}, {M_DELETE, ce_instances_disable}}},
};

/* Digits only, no leading zero, 1..10^18-1: ids are never anything else. */
static int parse_id(apr_int64_t *pid, const char *s)
{
    apr_int64_t v = 0;
    const char *c;

    if (!*s || *s == '0' || strlen(s) > 18) {
        return 0;
    }
    for (c = s; *c; c++) {
        if (!apr_isdigit(*c)) {
            return 0;
        }
        v = v * 10 + (*c - '0');
    }
    *pid = v;
    return 1;
}

/* Splits path on '/', ignoring empty segments ("/instances/" is "/instances").
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

/* Walks pattern in place, segment by segment (no per-request copy). */
static int match(const char *pattern, char **segs, int n, ce_request_t *req)
{
    const char *pat = pattern, *end;
    apr_size_t len;
    apr_int64_t id;
    int i, ids = 0;

    for (i = 0; i < n; i++, pat = *end ? end + 1 : end) {
        if (!*pat) {
            return 0; /* the path is longer than the pattern */
        }
        end = strchr(pat, '/');
        end = end ? end : pat + strlen(pat);
        len = (apr_size_t)(end - pat);
        if (len == 1 && *pat == '#') {
            if (!parse_id(&id, segs[i])) {
                return 0;
            }
            if (ids++ == 0) {
                req->instance_id = id;
            } else {
                req->config_id = (long)id;
            }
        } else if (len == 1 && *pat == '*') {
            req->element_ref = segs[i];
        } else if (strlen(segs[i]) != len || strncmp(pat, segs[i], len) != 0) {
            return 0;
        }
    }
    return *pat == '\0'; /* and not shorter */
}

/* The path below the <Location> the handler is mounted at, or NULL when
 * r->uri is not below it. The section's path is core's: httpd creates our
 * own per-directory configuration only where one of our directives appears,
 * and a mount is just "SetHandler ceinstances". */
static char *relative_path(request_rec *r)
{
    const core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    const char *base = core && core->d ? core->d : "";
    apr_size_t len = strlen(base);

    while (len > 0 && base[len - 1] == '/') {
        len--; /* <Location /elements/api-v2/> mounts the same API */
    }
    if (len && (strncmp(r->uri, base, len) != 0 || (r->uri[len] && r->uri[len] != '/'))) {
        return NULL;
    }
    return apr_pstrdup(r->pool, r->uri + len);
}

static const ce_route_t *route(ce_request_t *req)
{
    char *segs[MAX_SEGMENTS], *path = relative_path(req->r);
    int n = path ? split(segs, MAX_SEGMENTS, path) : -1;
    apr_size_t i;

    if (n >= 3 && strcmp(segs[0], "elements") == 0 && strcmp(segs[2], "instances") == 0) {
        /* /elements/{key or id}/instances... is /instances... scoped to it */
        req->element_ref = segs[1];
        memmove(segs, segs + 2, (n - 2) * sizeof(*segs));
        n -= 2;
    }
    for (i = 0; n > 0 && i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (match(routes[i].pattern, segs, n, req)) {
            return &routes[i];
        }
    }
    return NULL;
}

static ce_endpoint_fn method_fn(const ce_route_t *rt, int method)
{
    int i;

    for (i = 0; i < 4 && rt->methods[i].fn; i++) {
        if (rt->methods[i].method == method) {
            return rt->methods[i].fn;
        }
    }
    return NULL;
}

static int dispatch(ce_request_t *req)
{
    const ce_route_t *rt = route(req);
    ce_endpoint_fn fn;
    apr_status_t rv;

    if (!rt) {
        return ce_request_fail_status(req, HTTP_NOT_FOUND, "No such resource", NULL);
    }
    if (!(fn = method_fn(rt, req->r->method_number))) {
        return ce_request_fail_status(
            req, HTTP_METHOD_NOT_ALLOWED,
            apr_psprintf(req->r->pool, "Method not allowed here; use %s", rt->allow), rt->allow);
    }
    if ((rv = ce_authn_request(req)) != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    if (req->element_ref && strncmp(rt->pattern, "instances", 9) == 0) {
        req->scope = ce_catalog_find(req->catalog, req->element_ref);
        if (!req->scope) {
            req->err = apr_psprintf(req->r->pool, "Element '%s' not found", req->element_ref);
            return ce_request_fail(req, APR_NOTFOUND);
        }
    }
    return fn(req);
}

/* The API maps to no file, so a request for it skips httpd's walk of the
 * document root (a stat per path segment and an .htaccess probe per
 * directory). At translate_name the configuration is that of the request's
 * <Location>, where SetHandler is; map_to_storage then reports the request
 * mapped, the way mod_proxy does. A request that is not the API's gets its
 * Authorization header back here (see ce_guard_hide_credentials), before
 * any other module's translate_name (the hook runs REALLY_FIRST). */
/* Whether r's <Location> configuration (walked) sets our handler. */
static int mounted(request_rec *r)
{
    const core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *handler;

    if (core && core->expr_handler) {
        handler = ap_expr_str_exec(r, core->expr_handler, &err);
        return !err && handler && strcmp(handler, CE_HANDLER_NAME) == 0;
    }
    return 0;
}

int ce_router_translate(request_rec *r)
{
    if (mounted(r)) {
        ap_set_module_config(r->request_config, &ceinstances_module, (void *)CE_HANDLER_NAME);
        return DECLINED;
    }
    ce_guard_restore_credentials(r);
    return DECLINED;
}

int ce_router_is_api(request_rec *r)
{
    if (ap_get_module_config(r->request_config, &ceinstances_module)) {
        return 1;
    }
    /* Refused before translate_name (while reading the request, or
     * decoding its path): the location walk has not run yet. */
    if (r->main || !r->uri || r->uri[0] != '/' || r->per_dir_config != r->server->lookup_defaults ||
        ap_location_walk(r) != OK) {
        return 0;
    }
    return mounted(r);
}

int ce_router_map_to_storage(request_rec *r)
{
    return ap_get_module_config(r->request_config, &ceinstances_module) ? OK : DECLINED;
}

int ce_router_handler(request_rec *r)
{
    ce_request_t req;

    if (!r->handler || strcmp(r->handler, CE_HANDLER_NAME) != 0) {
        return DECLINED;
    }
    ce_request_init(&req, r);
    if (!req.catalog) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "CE00010: no CEInstancesCatalog for this server; cannot serve %s", r->uri);
        return ce_request_fail_status(&req, HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    return dispatch(&req);
}
