/* mod_ce_config: the module's configuration and its httpd directives.
 *
 * Server scope: CEInstancesCatalog, CEInstancesKeyFile, CEInstancesMaxBodySize,
 * CEInstancesConfigLimits, CEInstancesOutboundAllow, CEInstancesOutboundTimeout,
 * CEInstancesCORSOrigins, CEInstancesEventRetry, CEInstancesEventRetention.
 * Directory scope (<Location>): CEInstancesProxy,
 * CEInstancesProxyRateLimit. (The
 * <Location> the handler is mounted at is core's business: see the router.)
 */
#ifndef MOD_CE_CONFIG_H
#define MOD_CE_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "ce_catalog.h"
#include "ce_crypto.h"
#include "ce_http.h"

#define CE_MAX_BODY_DEFAULT (1024 * 1024)
#define CE_MAX_BODY_LIMIT (64 * 1024 * 1024)

typedef struct {
    const ce_catalog_t *catalog; /* NULL when no CEInstancesCatalog applies */
    const char *catalog_path;
    apr_off_t max_body;    /* -1: unset (inherit / default) */
    const ce_keys_t *keys; /* NULL when no CEInstancesKeyFile applies */
    const char *key_path;
    apr_array_header_t *outbound_allow;   /* CIDRs (const char *), NULL: none given */
    apr_interval_time_t outbound_timeout; /* -1: unset (CE_OUTBOUND_TIMEOUT_DEFAULT) */
    ce_http_t *http; /* outbound requests: made after configuration (ce_config_outbound) */
    apr_array_header_t *cors_origins;    /* CEInstancesCORSOrigins (const char *), NULL: none */
    apr_interval_time_t event_retry;     /* CEInstancesEventRetry: first wait; -1: unset */
    int event_attempts;                  /* ... attempts before FAILED; 0: unset */
    apr_interval_time_t event_retention; /* CEInstancesEventRetention; -1: unset */
    int render_check;                    /* CEInstancesRenderCheck: -1 unset (off), 0 off, 1 on */
} ce_server_config_t;

#define CE_EVENT_RETRY_DEFAULT apr_time_from_sec(60)
#define CE_EVENT_ATTEMPTS_DEFAULT 10
#define CE_EVENT_ATTEMPTS_MAX 100
#define CE_EVENT_RETENTION_DEFAULT apr_time_from_sec(30 * 24 * 3600)

/* The event delivery settings of cfg, defaults filled in. */
apr_interval_time_t ce_config_event_retry(const ce_server_config_t *cfg);
int ce_config_event_attempts(const ce_server_config_t *cfg);
apr_interval_time_t ce_config_event_retention(const ce_server_config_t *cfg);

/* Per directory (<Location>): the gateway (mod_ce_gateway). */
typedef struct {
    int proxy;            /* CEInstancesProxy: -1 unset, 0 off, 1 on */
    const char *location; /* the <Location> path CEInstancesProxy On was given in */
    apr_uint32_t rate;    /* CEInstancesProxyRateLimit: calls per period; 0: none */
    apr_uint32_t period;  /* seconds */
    int rate_set;
} ce_dir_config_t;

#define CE_RATE_PERIOD_MAX 3600

#define CE_OUTBOUND_TIMEOUT_DEFAULT apr_time_from_sec(10)
#define CE_OUTBOUND_TIMEOUT_MAX 300

extern module AP_MODULE_DECLARE_DATA ceinstances_module;

extern const command_rec ce_config_directives[];

void *ce_config_server_create(apr_pool_t *p, server_rec *s);
void *ce_config_server_merge(apr_pool_t *p, void *base, void *add);

void *ce_config_dir_create(apr_pool_t *p, char *dir);
void *ce_config_dir_merge(apr_pool_t *p, void *base, void *add);

/* The per-directory configuration for r (never NULL). */
const ce_dir_config_t *ce_config_dir(const request_rec *r);

/* The configuration of server s (never NULL). */
const ce_server_config_t *ce_config_server_of(const server_rec *s);

/* The effective configuration for r (never NULL). */
const ce_server_config_t *ce_config_server(const request_rec *r);

/* post_config: libcurl initialised (once, before any child exists) and
 * every server's outbound transport made from its allowed networks and
 * timeout. APR_EGENERAL with *perr when libcurl cannot start. */
apr_status_t ce_config_outbound(apr_pool_t *pconf, server_rec *s, const char **perr);

/* The effective body limit for a server configuration. */
apr_off_t ce_config_max_body(const ce_server_config_t *cfg);

#endif
