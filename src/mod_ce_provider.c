/* mod_ce_provider: AuthType CEInstances, Require ce-instance and Require
 * ce-element (see mod_ce_provider.h). Authentication is the API's own
 * (ce_authn_check), on a connection from mod_ce_dbd. */
#include <httpd.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>

#include "ce_store.h"
#include "mod_ce_authn.h"
#include "mod_ce_config.h"
#include "mod_ce_dbd.h"
#include "mod_ce_guard.h"
#include "mod_ce_provider.h"

APLOG_USE_MODULE(ceinstances);

#define AUTH_TYPE "CEInstances"
#define INSTANCE_KEY "ce-provider-instance"

int ce_provider_applies(request_rec *r)
{
    const char *type = ap_auth_type(r);

    return type && strcasecmp(type, AUTH_TYPE) == 0;
}

const ce_instance_t *ce_provider_instance(request_rec *r)
{
    void *inst = NULL;

    for (; r && !inst; r = r->main) {
        apr_pool_userdata_get(&inst, INSTANCE_KEY, r->pool);
    }
    return inst;
}

/* The refusal's status, its message kept for the JSON body. */
static int refuse(request_rec *r, int status, const char *message)
{
    apr_table_setn(r->notes, CE_GUARD_ERROR_NOTE, message);
    return status;
}

/* What the request knows of its instance, for whatever runs after. */
static void publish(request_rec *r, const ce_instance_t *inst)
{
    const char *id = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, inst->id);
    const char *pairs[][2] = {
        {"CE_INSTANCE_ID", id},
        {"CE_ELEMENT_KEY", inst->element ? inst->element->key : ""},
        {"CE_USER_ID", apr_psprintf(r->pool, "%" APR_INT64_T_FMT, inst->user->id)},
        {"CE_ORGANIZATION_ID", apr_psprintf(r->pool, "%" APR_INT64_T_FMT, inst->organization_id)},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        apr_table_setn(r->notes, pairs[i][0], pairs[i][1]);
        apr_table_setn(r->subprocess_env, pairs[i][0], pairs[i][1]);
    }
    ce_authn_name_instance(r, inst->id);
    apr_pool_userdata_setn(inst, INSTANCE_KEY, NULL, r->pool);
    r->user = (char *)pairs[2][1]; /* our pool string: the user's id, never a secret */
    r->ap_auth_type = AUTH_TYPE;
    /* Nothing behind this Location (a CGI, a proxied server) sees them. */
    apr_table_unset(r->headers_in, "Authorization");
}

/* This process's memory of the instances Element tokens opened (see
 * ce_authcache.h); NULL when it could not be made (every call reads). */
#define CACHE_SLOTS 4096
static ce_authcache_t *cache;

void ce_provider_child_init(apr_pool_t *pchild)
{
    if (ce_authcache_create(&cache, pchild, CACHE_SLOTS) != APR_SUCCESS) {
        cache = NULL;
    }
}

/* The caller's instance, or why not. */
static apr_status_t find_instance(ce_instance_t **pinst, request_rec *r, const char **perr)
{
    ce_dbd_conn_t *conn = ce_dbd_conn(r->server, r->pool, r);
    const ce_server_config_t *cfg = ce_config_server(r);
    /* scope: the server's configuration (its catalog, its database) */
    apr_status_t rv = ce_authn_check_instance(pinst, conn, r->pool, cfg->catalog, cache, cfg,
                                              ce_guard_authorization(r), perr);

    ce_dbd_release(conn);
    return rv;
}

static int check_authn(request_rec *r)
{
    ce_instance_t *inst = NULL;
    const char *err = NULL;
    apr_status_t rv;

    if (!ce_provider_applies(r)) {
        return DECLINED;
    }
    if (!ce_config_server(r)->catalog) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "CE00045: AuthType CEInstances without a CEInstancesCatalog for this server");
        return refuse(r, HTTP_INTERNAL_SERVER_ERROR, "Internal server error");
    }
    rv = find_instance(&inst, r, &err);
    if (rv == APR_SUCCESS) {
        publish(r, inst);
        return OK;
    }
    if (rv == APR_EACCES) {
        return refuse(r, HTTP_UNAUTHORIZED, err ? err : "Unauthorized");
    }
    if (rv == CE_EFORBIDDEN) {
        return refuse(r, HTTP_FORBIDDEN, err ? err : "Forbidden");
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "CE00046: AuthType CEInstances: %s",
                  err ? err : "database failure");
    return refuse(r, HTTP_SERVICE_UNAVAILABLE, "The database is unavailable");
}

static authz_status instance_check(request_rec *r, const char *line, const void *parsed)
{
    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    return apr_table_get(r->notes, "CE_INSTANCE_ID") ? AUTHZ_GRANTED : AUTHZ_DENIED;
}

static authz_status element_check(request_rec *r, const char *line, const void *parsed)
{
    const char *key = apr_table_get(r->notes, "CE_ELEMENT_KEY"), *rest = line, *w;

    if (!r->user) {
        return AUTHZ_DENIED_NO_USER;
    }
    while (key && *key && (w = ap_getword_conf(r->pool, &rest)) && *w) {
        if (strcmp(w, key) == 0) {
            return AUTHZ_GRANTED;
        }
    }
    apr_table_setn(r->notes, CE_GUARD_ERROR_NOTE,
                   "This Element token's instance is not of an element allowed here");
    return AUTHZ_DENIED;
}

/* mod_authz_core's 401 (a Require this caller does not meet) notes the
 * failure for the Location's AuthType: the challenge, as on every 401. */
static int note_auth_failure(request_rec *r, const char *auth_type)
{
    if (strcasecmp(auth_type, AUTH_TYPE) != 0) {
        return DECLINED;
    }
    ce_guard_challenge(r, HTTP_UNAUTHORIZED);
    return OK;
}

static const authz_provider instance_provider = {&instance_check, NULL};
static const authz_provider element_provider = {&element_check, NULL};

void ce_provider_register(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "ce-instance", AUTHZ_PROVIDER_VERSION,
                              &instance_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "ce-element", AUTHZ_PROVIDER_VERSION,
                              &element_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
}
