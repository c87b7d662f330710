/* mod_ceinstances: the Cloud Elements Instances API as an httpd module.
 * Wiring only: the module record and its hooks. See ARCHITECTURE.md for the map. */
#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_log.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <stdlib.h>

#include "ce_render.h"
#include "mod_ce_config.h"
#include "mod_ce_dbd.h"
#include "mod_ce_gateway.h"
#include "mod_ce_guard.h"
#include "mod_ce_provider.h"
#include "mod_ce_router.h"
#include "mod_ce_watchdog.h"

static int ce_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    /* Before any connection is opened (mod_dbd opens them after this). */
    int mt = ce_store_sqlite_threading();

    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, NULL, "CE00062: SQLite %s",
                 mt ? "set to multi-thread mode" : "already in use: its threading mode kept");
    ce_gateway_pre_config();
    return ce_dbd_mutex_register(pconf) == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* Runs under `apache2 -t` too, so a configuration test catches what would
 * otherwise fail only at start or on the first request. mod_dbd registers
 * its optional functions when it is loaded, so they are there by now. */
static int ce_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    const char *err = NULL;
    int catalog = 0;

    if (ce_dbd_bind() != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "CE00020: mod_ceinstances needs mod_dbd: LoadModule dbd_module first");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ce_gateway_check_config(s, &err) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s, "CE00051: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (vs = s; vs; vs = vs->next) {
        const ce_server_config_t *cfg = ce_config_server_of(vs);

        if (cfg->catalog && !cfg->keys) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, vs,
                         "CE00024: CEInstancesKeyFile is not set for %s:%u (make a key file "
                         "with: ceadmin keygen PATH)",
                         vs->server_hostname ? vs->server_hostname : "?", vs->port);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        catalog |= cfg->catalog != NULL;
    }
    if (catalog) {
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                 "CE00023: CEInstancesCatalog is not set in the server or any virtual host");
    return HTTP_INTERNAL_SERVER_ERROR;
}

static int ce_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const char *err = NULL;
    apr_status_t rv;

    /* httpd reads its configuration twice at startup; the mutex is made on
     * the pass that goes on to serve. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    ce_guard_filters_configure(s);
    ce_render_checking = ce_config_server_of(s)->render_check == 1;
    ce_dbd_log_attach(pconf, s); /* the core's messages into httpd's error log */
    if (ce_config_outbound(pconf, s, &err) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "CE00036: outbound requests: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = ce_gateway_post_config(pconf, s, &err)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "CE00052: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Before mod_watchdog's post_config (APR_HOOK_LAST), which makes the
     * singleton's mutex for the watchdogs registered by then. */
    if ((rv = ce_watchdog_register(pconf, s)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "CE00040: cannot register the background jobs (token refresh, events) with "
                     "mod_watchdog");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ce_dbd_mutex_create(pconf, s) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "CE00021: cannot create the %s mutex",
                     CE_MUTEX_NAME);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* A key file that is not the database's is a configuration error, found
 * only here (the parent, root, does not open the database): the child's
 * fatal exit makes httpd stop, with CE00025 in the error log, rather than
 * answer 503 to every request. */
static void ce_child_init(apr_pool_t *pchild, server_rec *s)
{
    ce_dbd_log_attach(pchild, s);
    ce_dbd_child_init(pchild, s);
    ce_gateway_child_init(pchild);
    ce_provider_child_init(pchild);
    ce_watchdog_child_init(pchild, s);
    if (ce_dbd_check_keys(pchild, s) == APR_EACCES) {
        exit(APEXIT_CHILDFATAL);
    }
}

static int ce_pre_connection(conn_rec *c, void *csd)
{
    if (c->outgoing) { /* mod_proxy's, to a backend */
        return ce_gateway_check_connection(c);
    }
    ce_guard_filters_add(c);
    return OK;
}

static void ce_insert_error_filter(request_rec *r)
{
    if (r->status >= 400 && r->status < 600 && (ce_router_is_api(r) || ce_provider_applies(r))) {
        ce_guard_error_json(r);
    }
}

static int ce_post_read_request(request_rec *r)
{
    ce_guard_hide_credentials(r);
    return DECLINED;
}

static void ce_register_hooks(apr_pool_t *p)
{
    /* mod_dbd's connection pool exists once its child_init has run. */
    static const char *const dbd[] = {"mod_dbd.c", NULL};

    /* First: before anything (httpd's own trace4 header dump included) can
     * log the credentials. */
    ap_hook_post_read_request(ce_post_read_request, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_pre_connection(ce_pre_connection, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(ce_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ce_provider_register(p);
    ce_gateway_register(p);
    ce_guard_filters_register();
    ap_hook_pre_config(ce_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(ce_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ce_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ce_child_init, dbd, NULL, APR_HOOK_MIDDLE);
    /* First: a non-API request's credentials are back before any other
     * module's translate_name reads them. */
    ap_hook_translate_name(ce_router_translate, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* Before core's directory walk: the API maps to no file. */
    ap_hook_map_to_storage(ce_router_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(ce_router_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

/* One field a line, as httpd's modules write it. */
/* clang-format off */
AP_DECLARE_MODULE(ceinstances) = {
    STANDARD20_MODULE_STUFF,
    ce_config_dir_create,
    ce_config_dir_merge,
    ce_config_server_create,
    ce_config_server_merge,
    ce_config_directives,
    ce_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
/* clang-format on */
