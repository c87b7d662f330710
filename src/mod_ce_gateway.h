/* mod_ce_gateway: calls through httpd to an instance's provider
 * (issue 13, the gateway). In a <Location> that authenticates with
 * AuthType CEInstances (mod_ce_provider):
 *
 *   <Location /hubs>
 *       AuthType CEInstances
 *       Require ce-instance
 *       CEInstancesProxy On
 *       CEInstancesProxyRateLimit 10 1
 *   </Location>
 *
 * the path below the Location (and the query) go on to the instance's
 * provider API (the catalog's "api": ce_gateway.h) by mod_proxy, so
 * streaming, keep-alive and timeouts are httpd's own. The request carries
 * the instance's credential (bearer, refreshed first when it is about to
 * expire; HTTP Basic; an API-key header or query parameter) and never the
 * caller's Authorization. The destination is held to the outbound guard
 * (CEInstancesOutboundAllow) twice: every address the name resolves to
 * before mod_proxy connects, and the address mod_proxy did connect to (a
 * name that resolves elsewhere the second time is refused too). Calls over
 * the instance's rate limit get 429 with Retry-After. One log line per
 * call (CE00047, LogLevel info): instance, element, method, provider host
 * and path, status, bytes; never a credential or a query. */
#ifndef MOD_CE_GATEWAY_H
#define MOD_CE_GATEWAY_H

#include <httpd.h>

/* Registers the hooks (fixups, handler, log_transaction). */
void ce_gateway_register(apr_pool_t *p);

/* pre_config: forgets the last configuration's use of the gateway. */
void ce_gateway_pre_config(void);

/* check_config (apache2 -t too), for s and its virtual hosts: errors
 * (APR_EINVAL, *perr) are CEInstancesProxy without mod_proxy and
 * mod_proxy_http, and a catalog with a query-parameter credential where
 * mod_proxy logs at debug (it logs the URL it forwards to, query and all).
 * A per-directory LogLevel is the operator's to keep at info. */
apr_status_t ce_gateway_check_config(server_rec *s, const char **perr);

/* post_config: the rate-limit table in shared memory (before the children
 * fork). */
apr_status_t ce_gateway_post_config(apr_pool_t *pconf, server_rec *s, const char **perr);

/* child_init: the per-process memory of destinations found allowed. */
void ce_gateway_child_init(apr_pool_t *pchild);

/* CEInstancesProxy On was read (the configuration uses the gateway). */
void ce_gateway_used(void);

/* pre_connection of an outgoing connection: the address mod_proxy
 * connected to, for a gateway call, checked with the outbound guard. OK,
 * or an error status that aborts the connection. */
int ce_gateway_check_connection(conn_rec *c);

#endif
