/* mod_ce_config: the module's configuration and its httpd directives. */
#include <httpd.h>
#include <string.h>
#include <apr_strings.h>
#include <http_log.h>

#include "ce_num.h"
#include "ce_outbound.h"
#include "mod_ce_config.h"
#include "mod_ce_gateway.h"

void *ce_config_server_create(apr_pool_t *p, server_rec *s)
{
    ce_server_config_t *cfg = apr_pcalloc(p, sizeof(*cfg));

    cfg->max_body = -1;
    cfg->outbound_timeout = -1;
    cfg->event_retry = -1;
    cfg->event_retention = -1;
    cfg->render_check = -1;
    return cfg;
}

void *ce_config_server_merge(apr_pool_t *p, void *basev, void *addv)
{
    const ce_server_config_t *base = basev, *add = addv;
    ce_server_config_t *cfg = apr_pcalloc(p, sizeof(*cfg));

    cfg->catalog = add->catalog ? add->catalog : base->catalog;
    cfg->catalog_path = add->catalog ? add->catalog_path : base->catalog_path;
    cfg->max_body = add->max_body >= 0 ? add->max_body : base->max_body;
    cfg->keys = add->keys ? add->keys : base->keys;
    cfg->key_path = add->keys ? add->key_path : base->key_path;
    cfg->outbound_allow = add->outbound_allow ? add->outbound_allow : base->outbound_allow;
    cfg->outbound_timeout =
        add->outbound_timeout >= 0 ? add->outbound_timeout : base->outbound_timeout;
    cfg->cors_origins = add->cors_origins ? add->cors_origins : base->cors_origins;
    cfg->event_retry = add->event_retry >= 0 ? add->event_retry : base->event_retry;
    cfg->event_attempts = add->event_attempts ? add->event_attempts : base->event_attempts;
    cfg->event_retention = add->event_retention >= 0 ? add->event_retention : base->event_retention;
    cfg->render_check = add->render_check >= 0 ? add->render_check : base->render_check;
    return cfg;
}

void *ce_config_dir_create(apr_pool_t *p, char *dir)
{
    ce_dir_config_t *d = apr_pcalloc(p, sizeof(*d));

    d->proxy = -1;
    return d;
}

void *ce_config_dir_merge(apr_pool_t *p, void *basev, void *addv)
{
    const ce_dir_config_t *base = basev, *add = addv;
    ce_dir_config_t *d = apr_pcalloc(p, sizeof(*d));

    d->proxy = add->proxy >= 0 ? add->proxy : base->proxy;
    d->location = add->proxy >= 0 ? add->location : base->location;
    d->rate = add->rate_set ? add->rate : base->rate;
    d->period = add->rate_set ? add->period : base->period;
    d->rate_set = add->rate_set || base->rate_set;
    return d;
}

const ce_dir_config_t *ce_config_dir(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &ceinstances_module);
}

const ce_server_config_t *ce_config_server_of(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &ceinstances_module);
}

const ce_server_config_t *ce_config_server(const request_rec *r)
{
    return ce_config_server_of(r->server);
}

apr_off_t ce_config_max_body(const ce_server_config_t *cfg)
{
    return cfg->max_body >= 0 ? cfg->max_body : CE_MAX_BODY_DEFAULT;
}

/* The catalog is loaded and validated here, at configuration time, so a bad
 * file fails `apache2 -t` and a running server never serves half a catalog. */
static const char *set_catalog(cmd_parms *cmd, void *dcfg, const char *arg)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);
    const char *path = ap_server_root_relative(cmd->temp_pool, arg);
    const char *err = NULL;
    ce_catalog_t *cat;

    if (!path) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
    }
    if (ce_catalog_load(&cat, cmd->pool, path, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    cfg->catalog = cat;
    cfg->catalog_path = apr_pstrdup(cmd->pool, path);
    return NULL;
}

/* The key file is read here too: a missing, unreadable, group/world
 * readable or malformed file fails `apache2 -t`, naming the directive. */
static const char *set_key_file(cmd_parms *cmd, void *dcfg, const char *arg)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);
    const char *path = ap_server_root_relative(cmd->temp_pool, arg);
    const char *err = NULL;
    ce_keys_t *keys;

    if (!path) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
    }
    if (ce_crypto_keys_load(&keys, cmd->pool, path, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    cfg->keys = keys;
    cfg->key_path = apr_pstrdup(cmd->pool, path);
    return NULL;
}

static const char *set_max_body(cmd_parms *cmd, void *dcfg, const char *arg)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);
    apr_int64_t n;

    if (ce_num_parse(&n, arg, 1, CE_MAX_BODY_LIMIT) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a byte count between 1 and %d",
                            cmd->cmd->name, arg, CE_MAX_BODY_LIMIT);
    }
    cfg->max_body = (apr_off_t)n;
    return NULL;
}

/* CEInstancesConfigLimits ENTRIES VALUE-BYTES TOTAL-BYTES: held by the
 * catalog of this server, so it follows CEInstancesCatalog. */
static const char *set_config_limits(cmd_parms *cmd, void *dcfg, const char *entries,
                                     const char *value, const char *total)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);
    ce_config_limits_t l;
    apr_int64_t n[3];

    if (!cfg->catalog) {
        return apr_psprintf(cmd->pool, "%s must follow CEInstancesCatalog (in the same server)",
                            cmd->cmd->name);
    }
    if (ce_num_parse(&n[0], entries, 1, 100000) != APR_SUCCESS ||
        ce_num_parse(&n[1], value, 1, CE_MAX_BODY_LIMIT) != APR_SUCCESS ||
        ce_num_parse(&n[2], total, n[1], CE_MAX_BODY_LIMIT) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s %s %s' is not ENTRIES (1..100000) VALUE-BYTES and "
                            "TOTAL-BYTES (VALUE-BYTES..%d)",
                            cmd->cmd->name, entries, value, total, CE_MAX_BODY_LIMIT);
    }
    l.entries = (int)n[0];
    l.value_bytes = (apr_size_t)n[1];
    l.total_bytes = (apr_size_t)n[2];
    /* The catalog was loaded by this server's own CEInstancesCatalog. */
    ce_catalog_set_limits((ce_catalog_t *)cfg->catalog, &l);
    return NULL;
}

/* CEInstancesOutboundAllow CIDR...: networks outbound requests may go to
 * over plain http too (each checked here, so a typo fails apache2 -t). */
static const char *add_outbound_allow(cmd_parms *cmd, void *dcfg, const char *arg)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);
    apr_array_header_t *one = apr_array_make(cmd->temp_pool, 1, sizeof(const char *));
    ce_outbound_t *o;
    const char *err = NULL;

    APR_ARRAY_PUSH(one, const char *) = arg;
    if (ce_outbound_make(&o, cmd->temp_pool, one, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    if (!cfg->outbound_allow) {
        cfg->outbound_allow = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(cfg->outbound_allow, const char *) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_outbound_timeout(cmd_parms *cmd, void *dcfg, const char *arg)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);
    apr_int64_t n;

    if (ce_num_parse(&n, arg, 1, CE_OUTBOUND_TIMEOUT_MAX) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of seconds between 1 and %d",
                            cmd->cmd->name, arg, CE_OUTBOUND_TIMEOUT_MAX);
    }
    cfg->outbound_timeout = apr_time_from_sec(n);
    return NULL;
}

/* CEInstancesEventRetry SECONDS ATTEMPTS: the first wait after a failed
 * delivery (each next one three times longer, at most a day), and the
 * attempts before an event is given up. */
static const char *set_event_retry(cmd_parms *cmd, void *dcfg, const char *wait,
                                   const char *attempts)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);
    apr_int64_t w, n;

    if (ce_num_parse(&w, wait, 1, 24 * 3600) != APR_SUCCESS ||
        ce_num_parse(&n, attempts, 1, CE_EVENT_ATTEMPTS_MAX) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s %s' is not a wait of 1 to 86400 seconds and 1 to %d attempts",
                            cmd->cmd->name, wait, attempts, CE_EVENT_ATTEMPTS_MAX);
    }
    cfg->event_retry = apr_time_from_sec(w);
    cfg->event_attempts = (int)n;
    return NULL;
}

/* CEInstancesEventRetention DAYS: how long the event log keeps an event. */
static const char *set_event_retention(cmd_parms *cmd, void *dcfg, const char *arg)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);
    apr_int64_t n;

    if (ce_num_parse(&n, arg, 1, 3650) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of days between 1 and 3650",
                            cmd->cmd->name, arg);
    }
    cfg->event_retention = apr_time_from_sec(n * 24 * 3600);
    return NULL;
}

apr_interval_time_t ce_config_event_retry(const ce_server_config_t *cfg)
{
    return cfg->event_retry >= 0 ? cfg->event_retry : CE_EVENT_RETRY_DEFAULT;
}

int ce_config_event_attempts(const ce_server_config_t *cfg)
{
    return cfg->event_attempts ? cfg->event_attempts : CE_EVENT_ATTEMPTS_DEFAULT;
}

apr_interval_time_t ce_config_event_retention(const ce_server_config_t *cfg)
{
    return cfg->event_retention >= 0 ? cfg->event_retention : CE_EVENT_RETENTION_DEFAULT;
}

/* CEInstancesCORSOrigins ORIGIN...: browser origins (scheme://host[:port],
 * as browsers send them) allowed to call the API. */
static const char *add_cors_origin(cmd_parms *cmd, void *dcfg, const char *arg)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);
    const char *host = strstr(arg, "://");

    if (!host || (strncmp(arg, "https://", 8) != 0 && strncmp(arg, "http://", 7) != 0) ||
        !host[3] || strpbrk(host + 3, "/?#* \t") || strchr(host + 3, '@')) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not an origin (scheme://host[:port], e.g. "
                            "https://app.example.com)",
                            cmd->cmd->name, arg);
    }
    if (!cfg->cors_origins) {
        cfg->cors_origins = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(cfg->cors_origins, const char *) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* CEInstancesProxy On|Off: calls below this <Location> go on to the
 * instance's provider. The path below the Location is what is sent on, so
 * the Location must be a plain path. */
static const char *set_render_check(cmd_parms *cmd, void *dcfg, int on)
{
    ce_server_config_t *cfg = ap_get_module_config(cmd->server->module_config, &ceinstances_module);

    cfg->render_check = on;
    return NULL;
}

static const char *set_proxy(cmd_parms *cmd, void *dcfg, int on)
{
    ce_dir_config_t *d = dcfg;
    const ap_directive_t *in = cmd->directive->parent;

    if (on && (!cmd->path || !in || strcasecmp(in->directive, "<Location") != 0 || !in->args ||
               in->args[0] == '~' || cmd->path[0] != '/')) {
        return apr_psprintf(cmd->pool, "%s On belongs in a <Location /path> (not a regex)",
                            cmd->cmd->name);
    }
    if (on) {
        ce_gateway_used();
    }
    d->proxy = on;
    d->location = on ? apr_pstrdup(cmd->pool, cmd->path) : NULL;
    return NULL;
}

/* CEInstancesProxyRateLimit CALLS [SECONDS]: at most CALLS gateway calls per
 * instance in each SECONDS (default 1); 0 lifts an inherited limit. */
static const char *set_rate(cmd_parms *cmd, void *dcfg, const char *calls, const char *secs)
{
    ce_dir_config_t *d = dcfg;
    apr_int64_t n, s = 1;

    if (ce_num_parse(&n, calls, 0, 0xffffff) != APR_SUCCESS ||
        (secs && ce_num_parse(&s, secs, 1, CE_RATE_PERIOD_MAX) != APR_SUCCESS)) {
        return apr_psprintf(
            cmd->pool, "%s: '%s%s%s' is not CALLS (0 to 16777215) [SECONDS (1 to %d)]",
            cmd->cmd->name, calls, secs ? " " : "", secs ? secs : "", CE_RATE_PERIOD_MAX);
    }
    d->rate = (apr_uint32_t)n;
    d->period = (apr_uint32_t)s;
    d->rate_set = 1;
    return NULL;
}

apr_status_t ce_config_outbound(apr_pool_t *pconf, server_rec *s, const char **perr)
{
    server_rec *vs;
    apr_status_t rv;

    if ((rv = ce_http_curl_global_init(perr)) != APR_SUCCESS) {
        return rv;
    }
    for (vs = s; vs; vs = vs->next) {
        ce_server_config_t *cfg = ap_get_module_config(vs->module_config, &ceinstances_module);
        ce_outbound_t *o;

        if ((rv = ce_outbound_make(&o, pconf, cfg->outbound_allow, perr)) != APR_SUCCESS) {
            return rv;
        }
        cfg->http = ce_http_curl_make(pconf, o,
                                      cfg->outbound_timeout >= 0 ? cfg->outbound_timeout
                                                                 : CE_OUTBOUND_TIMEOUT_DEFAULT);
    }
    return APR_SUCCESS;
}

const command_rec ce_config_directives[] = {
    AP_INIT_TAKE1("CEInstancesCatalog", set_catalog, NULL, RSRC_CONF,
                  "Path of the element catalog (JSON), e.g. conf/elements.json"),
    AP_INIT_TAKE1("CEInstancesKeyFile", set_key_file, NULL, RSRC_CONF,
                  "Path of the key file sealing secrets at rest (ceadmin keygen PATH)"),
    AP_INIT_TAKE1("CEInstancesMaxBodySize", set_max_body, NULL, RSRC_CONF,
                  "Largest request body accepted, in bytes (default 1048576)"),
    AP_INIT_TAKE3("CEInstancesConfigLimits", set_config_limits, NULL, RSRC_CONF,
                  "An instance's configuration: most entries, bytes of one value, bytes in all "
                  "(default 200 16384 262144)"),
    AP_INIT_ITERATE("CEInstancesOutboundAllow", add_outbound_allow, NULL, RSRC_CONF,
                    "Networks (CIDR or address) token and webhook requests may reach, plain http "
                    "included; without it only https to public addresses"),
    AP_INIT_TAKE1("CEInstancesOutboundTimeout", set_outbound_timeout, NULL, RSRC_CONF,
                  "Longest an outbound request (token exchange, refresh, revocation, event) may "
                  "take, "
                  "in seconds (default 10)"),
    AP_INIT_ITERATE("CEInstancesCORSOrigins", add_cors_origin, NULL, RSRC_CONF,
                    "Browser origins (scheme://host[:port]) allowed to call the API (CORS); "
                    "none by default"),
    AP_INIT_TAKE2("CEInstancesEventRetry", set_event_retry, NULL, RSRC_CONF,
                  "Event delivery: the first wait after a failure, in seconds (each next one "
                  "three times longer, at most a day), and the attempts before giving up "
                  "(default 60 10)"),
    AP_INIT_TAKE1("CEInstancesEventRetention", set_event_retention, NULL, RSRC_CONF,
                  "Days the event log keeps an event (default 30)"),
    AP_INIT_FLAG("CEInstancesRenderCheck", set_render_check, NULL, RSRC_CONF,
                 "On: every instance answer is also built as a jansson tree and must serialize "
                 "to the same bytes (a test setting: it costs a read its speed)"),
    AP_INIT_FLAG("CEInstancesProxy", set_proxy, NULL, ACCESS_CONF,
                 "On: calls below this <Location> (AuthType CEInstances) go on to the instance's "
                 "provider API with its credentials"),
    AP_INIT_TAKE12("CEInstancesProxyRateLimit", set_rate, NULL, ACCESS_CONF,
                   "Most gateway calls per instance in each period: CALLS [SECONDS] (default 1 "
                   "second; none by default)"),
    {NULL}};
