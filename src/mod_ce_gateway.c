/* mod_ce_gateway: calls through to an instance's provider by mod_proxy
 * (see mod_ce_gateway.h). */
#include <httpd.h>
#include <string.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_uri.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "ce_gateway.h"
#include "ce_oauth.h"
#include "ce_rate.h"
#include "ce_store.h"
#include "mod_ce_config.h"
#include "mod_ce_dbd.h"
#include "mod_ce_gateway.h"
#include "mod_ce_guard.h"
#include "mod_ce_provider.h"

APLOG_USE_MODULE(ceinstances);

#define NOTE "ce-gateway"             /* the provider's host and path, for the log line */
#define NOTE_CALL "ce-gateway-call"   /* a gateway call (refused or not): logged */
#define NOTE_HTTPS "ce-gateway-https" /* "1" when the destination is https */
#define MIN_LIFE_MS 30000             /* a bearer this close to expiring is refreshed first */

static ce_rate_table_t *rates; /* shared memory, made in post_config */
static int used;               /* CEInstancesProxy On is in the configuration */

/* The gateway call whose handler runs on this thread (see check_connection). */
static __thread request_rec *calling;

void ce_gateway_used(void)
{
    used = 1;
}

void ce_gateway_pre_config(void)
{
    used = 0;
    rates = NULL; /* the last generation's table went with its pool */
}

/* Whether an element of s's catalog sends its credential in the query. */
static int query_credentials(const server_rec *s)
{
    const ce_catalog_t *cat = ce_config_server_of(s)->catalog;
    const apr_array_header_t *all = cat ? ce_catalog_elements(cat) : NULL;
    int i;

    for (i = 0; all && i < all->nelts; i++) {
        const ce_element_t *e = APR_ARRAY_IDX(all, i, const ce_element_t *);

        if (e->api && e->api->auth == CE_GATEWAY_QUERY) {
            return 1;
        }
    }
    return 0;
}

apr_status_t ce_gateway_check_config(server_rec *s, const char **perr)
{
    module *proxy = ap_find_linked_module("mod_proxy.c");
    module *http = ap_find_linked_module("mod_proxy_http.c");

    if (!used) {
        return APR_SUCCESS;
    }
    if (!proxy || !http) {
        *perr = "CEInstancesProxy needs mod_proxy and mod_proxy_http (LoadModule them)";
        return APR_EINVAL;
    }
    for (; s; s = s->next) {
        if (query_credentials(s) &&
            (ap_get_server_module_loglevel(s, proxy->module_index) > APLOG_INFO ||
             ap_get_server_module_loglevel(s, http->module_index) > APLOG_INFO)) {
            *perr = "an element of the catalog sends its credential as a query parameter, and "
                    "mod_proxy logs the URLs it forwards to at LogLevel debug: keep it at info "
                    "(LogLevel ... proxy:info proxy_http:info)";
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

apr_status_t ce_gateway_post_config(apr_pool_t *pconf, server_rec *s, const char **perr)
{
    apr_shm_t *shm;
    apr_status_t rv;

    if (!used) {
        return APR_SUCCESS;
    }
    if ((rv = apr_shm_create(&shm, sizeof(ce_rate_table_t), NULL, pconf)) != APR_SUCCESS) {
        *perr = "cannot make the gateway's rate-limit table in shared memory";
        return rv;
    }
    rates = apr_shm_baseaddr_get(shm);
    memset((void *)rates, 0, sizeof(*rates));
    return APR_SUCCESS;
}

static int refuse(request_rec *r, int status, const char *message)
{
    apr_table_setn(r->notes, CE_GUARD_ERROR_NOTE, message);
    return status;
}

/* The access token to send, when an OAuth instance's stored one is about
 * to expire (else NULL: the stored one); refreshed through the core's one
 * way (ce_store_oauth_fresh), so every node refreshes it once of all. */
static int fresh_bearer(request_rec *r, const ce_instance_t *inst, const char **ptoken)
{
    const ce_server_config_t *cfg = ce_config_server(r);
    apr_int64_t expires = ce_instance_oauth_expires(inst);
    apr_interval_time_t timeout =
        cfg->outbound_timeout >= 0 ? cfg->outbound_timeout : CE_OUTBOUND_TIMEOUT_DEFAULT;
    ce_fresh_token_t fresh;
    ce_dbd_conn_t *conn;
    const char *err = NULL, *problem = ce_instance_oauth_problem(inst);
    apr_status_t rv;

    *ptoken = NULL;
    if (problem) {
        return refuse(r, HTTP_UNAUTHORIZED,
                      apr_pstrcat(r->pool, "The instance cannot call its provider: ", problem,
                                  " (re-authenticate the instance)", NULL));
    }
    if (!expires || expires - apr_time_as_msec(apr_time_now()) >= MIN_LIFE_MS) {
        return OK;
    }
    conn = ce_dbd_conn(r->server, r->pool, r);
    if (ce_dbd_acquire(conn, &err) != APR_SUCCESS) {
        return refuse(r, HTTP_SERVICE_UNAVAILABLE, "The database is unavailable");
    }
    rv = ce_store_oauth_fresh(&fresh, &conn->db, cfg->http, r->pool, cfg->catalog, inst->user,
                              inst->id, MIN_LIFE_MS, CE_STORE_OAUTH_LEASE(timeout), &err);
    ce_dbd_release(conn);
    if (rv == APR_SUCCESS || rv == APR_EINVAL) { /* EINVAL: no refresh token, the stored one */
        *ptoken = rv == APR_SUCCESS ? fresh.token : NULL;
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "CE00053: gateway: instance %" APR_INT64_T_FMT "'s access token %s", inst->id,
                      rv != APR_SUCCESS ? "is due, and cannot be refreshed (no refresh token)"
                      : fresh.refreshed ? "refreshed before the call"
                                        : "refreshed meanwhile by another refresher");
        return OK;
    }
    if (rv == CE_OAUTH_REFUSED) {
        return refuse(r, HTTP_UNAUTHORIZED,
                      apr_pstrcat(r->pool, "The provider refused the instance's token: ",
                                  err ? err : "refused", " (re-authenticate the instance)", NULL));
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, rv, r,
                  "CE00048: gateway: instance %" APR_INT64_T_FMT "'s token refresh: %s", inst->id,
                  err ? err : "failed");
    return refuse(r, rv == APR_NOTFOUND ? HTTP_UNAUTHORIZED : HTTP_BAD_GATEWAY,
                  "The instance's access token could not be refreshed now; try again later");
}

/* Destinations found allowed in the last VERDICT_TTL, per process: a
 * resolver call per gateway call costs more than the rest of the check
 * (glibc's getaddrinfo asks the kernel for the interfaces each time). The
 * address mod_proxy connects to is checked on every new connection all
 * the same (ce_gateway_check_connection). */
#define VERDICT_TTL apr_time_from_sec(10)
#define VERDICTS_MAX 4096
static apr_thread_mutex_t *verdict_lock;
static apr_pool_t *verdict_pool;
static apr_hash_t *verdicts; /* "https host:port" -> apr_time_t of the check */

void ce_gateway_child_init(apr_pool_t *pchild)
{
    if (apr_thread_mutex_create(&verdict_lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS ||
        apr_pool_create(&verdict_pool, pchild) != APR_SUCCESS) {
        verdict_lock = NULL; /* no cache: every call resolves */
        return;
    }
    verdicts = apr_hash_make(verdict_pool);
}

/* Whether host:port was found allowed lately (remember: it just was). */
static int allowed_lately(const ce_outbound_t *guard, const char *host, const char *port, int https,
                          int remember)
{
    char key[320];
    apr_time_t *at, now = apr_time_now();
    int yes = 0;

    if (!verdict_lock || strlen(host) > 255) {
        return 0;
    }
    /* per guard: virtual hosts may allow different networks */
    apr_snprintf(key, sizeof(key), "%pp %d %s:%s", (const void *)guard, https, host,
                 port ? port : "");
    apr_thread_mutex_lock(verdict_lock);
    if (remember) {
        if (apr_hash_count(verdicts) >= VERDICTS_MAX) {
            apr_pool_clear(verdict_pool);
            verdicts = apr_hash_make(verdict_pool);
        }
        at = apr_palloc(verdict_pool, sizeof(*at));
        *at = now;
        apr_hash_set(verdicts, apr_pstrdup(verdict_pool, key), APR_HASH_KEY_STRING, at);
    } else {
        at = apr_hash_get(verdicts, key, APR_HASH_KEY_STRING);
        yes = at && now - *at < VERDICT_TTL;
    }
    apr_thread_mutex_unlock(verdict_lock);
    return yes;
}

/* Every address url's host resolves to, held to the outbound guard before
 * mod_proxy connects (the address it does connect to is checked again);
 * *u the URL parsed. */
static int check_destination(request_rec *r, const char *url, apr_uri_t *u, int *phttps)
{
    const ce_outbound_t *guard = ce_config_server(r)->http->guard;
    apr_sockaddr_t *sa = NULL;
    const char *err = NULL;
    char *ip;

    if (ce_outbound_check_url(r->pool, url, phttps, &err) != APR_SUCCESS ||
        apr_uri_parse(r->pool, url, u) != APR_SUCCESS) {
        return refuse(r, HTTP_BAD_GATEWAY, "The provider URL is not usable");
    }
    apr_table_setn(r->notes, NOTE_HTTPS, *phttps ? "1" : "0");
    if (allowed_lately(guard, u->hostname, u->port_str, *phttps, 0)) {
        return OK;
    }
    if (apr_sockaddr_info_get(&sa, u->hostname, APR_UNSPEC,
                              u->port ? u->port : apr_uri_port_of_scheme(u->scheme), 0,
                              r->pool) != APR_SUCCESS) {
        return refuse(
            r, HTTP_BAD_GATEWAY,
            apr_psprintf(r->pool, "The provider's host %.200s cannot be resolved", u->hostname));
    }
    for (; sa; sa = sa->next) {
        if (apr_sockaddr_ip_get(&ip, sa) != APR_SUCCESS ||
            ce_outbound_check_address(guard, r->pool, ip, *phttps, &err) != APR_SUCCESS) {
            return refuse(r, HTTP_FORBIDDEN,
                          apr_pstrcat(r->pool, "The provider URL is refused: ",
                                      err ? err : "an address of its host", NULL));
        }
    }
    allowed_lately(guard, u->hostname, u->port_str, *phttps, 1);
    return OK;
}

/* The instance's credential and the URL to send to. */
static int target(request_rec *r, const ce_instance_t *inst, const char *rest, const char **purl,
                  ce_gateway_cred_t *cred)
{
    const ce_gateway_api_t *api = inst->element->api;
    const char *bearer = NULL, *err = NULL;
    apr_status_t rv;
    int status;

    if (ce_gateway_oauth_bearer(api) && (status = fresh_bearer(r, inst, &bearer)) != OK) {
        return status;
    }
    rv = ce_gateway_credential(cred, r->pool, api, inst->configuration, bearer, &err);

    if (rv == APR_SUCCESS) {
        rv = ce_gateway_url(purl, r->pool, api, inst->configuration, rest, r->args, cred, &err);
    }
    if (rv == APR_EBADPATH) {
        return refuse(r, HTTP_BAD_REQUEST, apr_pstrcat(r->pool, "Bad request: ", err, NULL));
    }
    if (rv != APR_SUCCESS) {
        return refuse(r, HTTP_BAD_GATEWAY,
                      apr_pstrcat(r->pool, "The instance cannot call its provider: ", err, NULL));
    }
    return OK;
}

/* The path below the <Location>, escaped; NULL when r is not below it. */
static const char *below(request_rec *r, const char *location)
{
    apr_size_t n = strlen(location);

    while (n > 1 && location[n - 1] == '/') {
        n--;
    }
    if (strncmp(r->uri, location, n) != 0 || (r->uri[n] && r->uri[n] != '/')) {
        return NULL;
    }
    return ap_os_escape_path(r->pool, r->uri + n, 1);
}

static int over_limit(request_rec *r, const ce_dir_config_t *d, const ce_instance_t *inst)
{
    apr_uint32_t retry = 1;

    if (!d->rate || !rates ||
        ce_rate_take(rates, inst->id, d->rate, d->period, r->request_time, &retry)) {
        return OK;
    }
    apr_table_setn(r->err_headers_out, "Retry-After", apr_psprintf(r->pool, "%u", retry));
    return refuse(r, HTTP_TOO_MANY_REQUESTS,
                  apr_psprintf(r->pool,
                               "Too many calls to this instance's provider (at most %u in %u "
                               "s); retry after %u s",
                               d->rate, d->period, retry));
}

/* Hands r to mod_proxy: its fixup (canonicalisation) and handler do the rest. */
static void hand_over(request_rec *r, const char *url, const apr_uri_t *u,
                      const ce_gateway_cred_t *cred)
{
    apr_table_unset(r->headers_in, "Authorization");
    if (cred->header) {
        apr_table_set(r->headers_in, cred->header, cred->header_value);
    }
    r->filename = apr_pstrcat(r->pool, "proxy:", url, NULL);
    /* Sent as made here (ce_gateway_url escapes the path, the query is the
     * caller's as received): r->args stays the caller's, for the logs. */
    apr_table_setn(r->notes, "proxy-nocanon", "1");
    r->handler = "proxy-server";
    r->proxyreq = PROXYREQ_REVERSE;
    apr_table_setn(r->notes, NOTE,
                   apr_pstrcat(r->pool, u->hostname, u->port_str ? ":" : "",
                               u->port_str ? u->port_str : "", u->path ? u->path : "/", NULL));
}

/* First of all fixups: mod_proxy's own (canonicalisation) must see the
 * proxy: filename. */
static int fixup(request_rec *r)
{
    const ce_dir_config_t *d = ce_config_dir(r);
    const ce_instance_t *inst = ce_provider_instance(r);
    ce_gateway_cred_t cred;
    apr_uri_t u;
    const char *url = NULL, *rest;
    int status, https = 0;

    if (d->proxy != 1) {
        return DECLINED;
    }
    if (!inst) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "CE00049: CEInstancesProxy On needs AuthType CEInstances in its Location");
        return refuse(r, HTTP_INTERNAL_SERVER_ERROR, "Internal server error");
    }
    apr_table_setn(r->notes, NOTE_CALL, "1");
    if (!(rest = below(r, d->location))) {
        return refuse(r, HTTP_NOT_FOUND, "Not found");
    }
    if (!inst->element || !inst->element->api) {
        return refuse(r, HTTP_NOT_IMPLEMENTED,
                      apr_psprintf(r->pool, "The element '%s' has no provider API in the catalog",
                                   inst->element ? inst->element->key : "?"));
    }
    if ((status = over_limit(r, d, inst)) != OK ||
        (status = target(r, inst, rest, &url, &cred)) != OK ||
        (status = check_destination(r, url, &u, &https)) != OK) {
        return status;
    }
    hand_over(r, url, &u, &cred);
    return OK;
}

static apr_status_t forget(void *r)
{
    if (calling == r) {
        calling = NULL;
    }
    return APR_SUCCESS;
}

/* First of all handlers, declining: which gateway call (if any) this
 * thread's mod_proxy is about to connect for. */
static int handler(request_rec *r)
{
    calling = apr_table_get(r->notes, NOTE) ? r : NULL;
    if (calling) {
        apr_pool_cleanup_register(r->pool, r, forget, apr_pool_cleanup_null);
    }
    return DECLINED;
}

int ce_gateway_check_connection(conn_rec *c)
{
    request_rec *r = calling;
    const char *err = NULL;
    int https;

    if (!r) {
        return OK;
    }
    /* (calling stays set: mod_proxy may connect again for the same call,
     * after a reused connection failed; the next request's handler hook
     * resets it before anything of this thread can connect again.) */
    https = apr_table_get(r->notes, NOTE_HTTPS) && *apr_table_get(r->notes, NOTE_HTTPS) == '1';
    if (ce_outbound_check_address(ce_config_server(r)->http->guard, r->pool, c->client_ip, https,
                                  &err) == APR_SUCCESS) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "CE00050: gateway: the provider's host resolved to a refused address: %s", err);
    refuse(r, HTTP_FORBIDDEN, apr_pstrcat(r->pool, "The provider URL is refused: ", err, NULL));
    return HTTP_FORBIDDEN;
}

static int log_call(request_rec *r)
{
    const char *to = apr_table_get(r->notes, NOTE);

    if (apr_table_get(r->notes, NOTE_CALL)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "CE00047: gateway call: instance %s (%s) %s %s: %d, %" APR_OFF_T_FMT
                      " bytes sent, request body %s bytes",
                      apr_table_get(r->notes, "CE_INSTANCE_ID"),
                      apr_table_get(r->notes, "CE_ELEMENT_KEY"), r->method, to ? to : "(not sent)",
                      r->status, r->bytes_sent,
                      apr_table_get(r->headers_in, "Content-Length")
                          ? apr_table_get(r->headers_in, "Content-Length")
                          : (apr_table_get(r->headers_in, "Transfer-Encoding") ? "chunked" : "0"));
    }
    return DECLINED;
}

/* A gateway call maps to no file: no directory walk, as mod_proxy's own
 * map_to_storage does for what it proxies. Known at translate_name (the
 * early location walk's configuration; map_to_storage runs with the
 * server's). */
#define NOTE_NO_FILE "ce-gateway-no-file"
static int translate(request_rec *r)
{
    if (ce_config_dir(r)->proxy == 1) {
        apr_table_setn(r->notes, NOTE_NO_FILE, "1");
    }
    return DECLINED;
}

static int map_to_storage(request_rec *r)
{
    return apr_table_get(r->notes, NOTE_NO_FILE) ? OK : DECLINED;
}

void ce_gateway_register(apr_pool_t *p)
{
    ap_hook_translate_name(translate, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_map_to_storage(map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_fixups(fixup, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(handler, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_log_transaction(log_call, NULL, NULL, APR_HOOK_MIDDLE);
}
