/* mod_ce_router: the handler — maps a path and method under the mounted
 * <Location> to one endpoint (the table and matching are ce_route's), after
 * authenticating the caller. What is httpd's stays here: the path below the
 * <Location>, the translate/map_to_storage hooks, the order of checks.
 *
 * Order of checks, each answered in JSON: a CORS preflight from an origin
 * not allowed 403, unknown path 404, a preflight 204, wrong method
 * 405 (+ Allow), the public GET /docs, caller 401, a by-token call without an Element token 400,
 * unknown scope element 404, then the endpoint. */
#include <httpd.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "ce_route.h"
#include "mod_ce_authn.h"
#include "mod_ce_config.h"
#include "mod_ce_cors.h"
#include "mod_ce_endpoints.h"
#include "mod_ce_guard.h"
#include "mod_ce_router.h"

APLOG_USE_MODULE(ceinstances);

/* The handler of each endpoint ce_route names. */
static const ce_endpoint_fn endpoints[CE_ROUTE_ENDPOINTS] = {
    [CE_ROUTE_ELEMENTS_LIST] = ce_ep_elements_list,
    [CE_ROUTE_ELEMENTS_GET] = ce_ep_elements_get,
    [CE_ROUTE_OAUTH_URL] = ce_ep_elements_oauth_url,
    [CE_ROUTE_INSTANCES_LIST] = ce_ep_instances_list,
    [CE_ROUTE_INSTANCES_CREATE] = ce_ep_instances_create,
    [CE_ROUTE_INSTANCES_GET] = ce_ep_instances_get,
    [CE_ROUTE_INSTANCES_UPDATE] = ce_ep_instances_update,
    [CE_ROUTE_INSTANCES_DELETE] = ce_ep_instances_delete,
    [CE_ROUTE_CONFIG_LIST] = ce_ep_instances_config_list,
    [CE_ROUTE_CONFIG_GET] = ce_ep_instances_config_get,
    [CE_ROUTE_CONFIG_PATCH] = ce_ep_instances_config_patch,
    [CE_ROUTE_ENABLE] = ce_ep_instances_enable,
    [CE_ROUTE_DISABLE] = ce_ep_instances_disable,
    [CE_ROUTE_EVENTS_LIST] = ce_ep_events_list,
    [CE_ROUTE_EVENTS_GET] = ce_ep_events_get,
    [CE_ROUTE_EVENTS_REDELIVER] = ce_ep_events_redeliver,
    [CE_ROUTE_DOCS] = ce_ep_docs_get,
    [CE_ROUTE_INSTANCE_DOCS] = ce_ep_instances_docs,
};

/* The path below the <Location> the handler is mounted at, or NULL when
 * r->uri is not below it. The section's path is core's: httpd creates our
 * own per-directory configuration only where one of our directives appears,
 * and a mount is just "SetHandler ceinstances". */
static const char *relative_path(const request_rec *r)
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
    return r->uri + len;
}

static int dispatch(ce_request_t *req)
{
    ce_route_t rt;
    apr_status_t rv = ce_route_match(&rt, req->r->pool, relative_path(req->r), req->r->method);
    ce_cors_t cors = ce_cors_apply(req->r, req->cfg, rt.allow);

    if (cors == CE_CORS_REFUSED) {
        return ce_request_fail_status(
            req, HTTP_FORBIDDEN, "This origin may not call the API (CEInstancesCORSOrigins)", NULL);
    }
    if (rv == APR_NOTFOUND) {
        return ce_request_fail_status(req, HTTP_NOT_FOUND, "No such resource", NULL);
    }
    if (cors == CE_CORS_PREFLIGHT) {
        return ce_request_reply_no_content(req); /* before any Authorization: browsers send none */
    }
    if (rv != APR_SUCCESS) {
        return ce_request_fail_status(
            req, HTTP_METHOD_NOT_ALLOWED,
            apr_psprintf(req->r->pool, "Method not allowed here; use %s", rt.allow), rt.allow);
    }
    if (rt.endpoint == CE_ROUTE_DOCS) {
        return endpoints[rt.endpoint](req); /* public: the document holds no tenant's data */
    }
    req->instance_id = rt.instance_id;
    req->config_id = (long)rt.config_id;
    req->element_ref = rt.element_ref;
    req->event_id = rt.event_id;
    /* GET /instances/{id}: the caller and the instance in one statement */
    rv = rt.endpoint == CE_ROUTE_INSTANCES_GET && !rt.by_token
             ? ce_authn_request_reading(req, ce_ep_answer_read(req), &req->read)
             : ce_authn_request(req);
    if (rv != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    if (rt.by_token) {
        if (!req->token_instance_id) {
            req->err = "This call acts on the instance of the caller's Element token: send "
                       "Authorization: User <secret>, Organization <secret>, Element <token>";
            return ce_request_fail(req, APR_EINVAL);
        }
        req->instance_id = req->token_instance_id;
    }
    if (rt.scoped && !(req->scope = ce_catalog_find(req->catalog, req->element_ref))) {
        req->err = apr_psprintf(req->r->pool, "Element '%s' not found", req->element_ref);
        return ce_request_fail(req, APR_NOTFOUND);
    }
    return endpoints[rt.endpoint](req);
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

/* A request that read or sent more than this gives the C library's free
 * memory back when it ends. */
#define TRIM_AFTER_BYTES (1024 * 1024)

/* r->pool cleanup, registered first so that it runs last, after every
 * JSON tree of the request is released: jansson allocates with malloc,
 * which MaxMemFree (APR's pools) does not govern, and glibc keeps what a
 * large request freed in the thread's arena otherwise. */
static apr_status_t trim_after_large(void *data)
{
#ifdef __GLIBC__
    const request_rec *r = data;

    if (r->bytes_sent > TRIM_AFTER_BYTES || r->read_length > TRIM_AFTER_BYTES) {
        malloc_trim(0);
    }
#endif
    return APR_SUCCESS;
}

int ce_router_handler(request_rec *r)
{
    ce_request_t req;

    if (!r->handler || strcmp(r->handler, CE_HANDLER_NAME) != 0) {
        return DECLINED;
    }
    apr_pool_cleanup_register(r->pool, r, trim_after_large, apr_pool_cleanup_null);
    ce_request_init(&req, r);
    if (!req.catalog) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "CE00010: no CEInstancesCatalog for this server; cannot serve %s", r->uri);
        return ce_request_fail_status(&req, HTTP_INTERNAL_SERVER_ERROR, NULL, NULL);
    }
    return dispatch(&req);
}
