/* ce_outbound: where the module may send what it sends out (OAuth token
 * exchange, refresh and revocation; later, webhooks). Secrets go only to
 * https:// URLs on public addresses, checked on the address actually about
 * to be connected to (after DNS, so a name that resolves to a private
 * address is refused too), and to networks the operator allows
 * (CEInstancesOutboundAllow), where plain http:// is allowed as well.
 *
 * Core unit: no httpd headers. Addresses and networks are APR's
 * (apr_sockaddr_info_get, apr_ipsubnet_create/test), URLs apr-util's
 * (apr_uri_parse).
 */
#ifndef CE_OUTBOUND_H
#define CE_OUTBOUND_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct ce_outbound_t ce_outbound_t;

/* A policy in p: allow is an array of const char * networks ("10.1.0.0/16",
 * "127.0.0.1", "::1/128"), or NULL. APR_EINVAL with *perr naming the
 * first that is not one. */
apr_status_t ce_outbound_make(ce_outbound_t **pout, apr_pool_t *p, const apr_array_header_t *allow,
                              const char **perr);

/* Checks a URL before anything is sent: http or https, a host, no user
 * or password in it, no fragment. *phttps says which. APR_EINVAL with
 * *perr (which names the URL's host, never its query). */
apr_status_t ce_outbound_check_url(apr_pool_t *p, const char *url, int *phttps, const char **perr);

/* Checks the address (numeric, as DNS gave it) a request is about to
 * connect to: in an allowed network, any scheme; otherwise https only,
 * and only to a public address (not loopback, private, link-local, shared,
 * multicast, reserved or documentation space, IPv4 or IPv6, IPv4-mapped
 * included). APR_EACCES with *perr when refused. */
apr_status_t ce_outbound_check_address(const ce_outbound_t *o, apr_pool_t *p, const char *ip,
                                       int https, const char **perr);

#endif
