/* mod_ce_config: the module's configuration and its httpd directives.
 *
 * Server scope: CEInstancesCatalog, CEInstancesKeyFile, CEInstancesMaxBodySize. (The
 * <Location> the handler is mounted at is core's business: see the router.)
 */
#ifndef MOD_CE_CONFIG_H
#define MOD_CE_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include "ce_catalog.h"
#include "ce_crypto.h"

#define CE_MAX_BODY_DEFAULT (1024 * 1024)
#define CE_MAX_BODY_LIMIT (64 * 1024 * 1024)

typedef struct {
    const ce_catalog_t *catalog; /* NULL when no CEInstancesCatalog applies */
    const char *catalog_path;
    apr_off_t max_body;    /* -1: unset (inherit / default) */
    const ce_keys_t *keys; /* NULL when no CEInstancesKeyFile applies */
    const char *key_path;
} ce_server_config_t;

extern module AP_MODULE_DECLARE_DATA ceinstances_module;

extern const command_rec ce_config_directives[];

void *ce_config_server_create(apr_pool_t *p, server_rec *s);
void *ce_config_server_merge(apr_pool_t *p, void *base, void *add);

/* The configuration of server s (never NULL). */
const ce_server_config_t *ce_config_server_of(const server_rec *s);

/* The effective configuration for r (never NULL). */
const ce_server_config_t *ce_config_server(const request_rec *r);

/* The effective body limit for a server configuration. */
apr_off_t ce_config_max_body(const ce_server_config_t *cfg);

#endif
