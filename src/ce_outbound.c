/* ce_outbound: the destination guard of outbound requests (see
 * ce_outbound.h). */
#include <string.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "ce_outbound.h"

/* Networks that are not the public Internet (RFC 6890 and friends). */
static const char *const not_public[] = {
    "0.0.0.0/8",      "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8",
    "169.254.0.0/16", "172.16.0.0/12",  "192.0.0.0/24",  "192.0.2.0/24",
    "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4",    "240.0.0.0/4",   "::/128",
    "::1/128",        "64:ff9b::/96",   "100::/64",      "2001:db8::/32",
    "fc00::/7",       "fe80::/10",      "ff00::/8",      NULL};

struct ce_outbound_t {
    apr_array_header_t *allowed;    /* apr_ipsubnet_t * */
    apr_array_header_t *not_public; /* apr_ipsubnet_t * */
};

/* "net/bits" or "address" as a subnet in p; NULL when it is not one. */
static apr_ipsubnet_t *subnet(apr_pool_t *p, const char *cidr)
{
    const char *slash = strchr(cidr, '/');
    apr_ipsubnet_t *sub = NULL;
    char *ip = slash ? apr_pstrmemdup(p, cidr, slash - cidr) : apr_pstrdup(p, cidr);

    if (!*ip || apr_ipsubnet_create(&sub, ip, slash ? slash + 1 : NULL, p) != APR_SUCCESS) {
        return NULL;
    }
    return sub;
}

apr_status_t ce_outbound_make(ce_outbound_t **pout, apr_pool_t *p, const apr_array_header_t *allow,
                              const char **perr)
{
    ce_outbound_t *o = apr_pcalloc(p, sizeof(*o));
    const char *const *n;
    apr_ipsubnet_t *sub;
    int i;

    *pout = NULL;
    o->allowed = apr_array_make(p, 4, sizeof(apr_ipsubnet_t *));
    o->not_public = apr_array_make(p, 24, sizeof(apr_ipsubnet_t *));
    for (i = 0; allow && i < allow->nelts; i++) {
        const char *cidr = APR_ARRAY_IDX(allow, i, const char *);

        if (!(sub = subnet(p, cidr))) {
            *perr = apr_psprintf(p, "'%s' is not a network (address/bits) or an address", cidr);
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(o->allowed, apr_ipsubnet_t *) = sub;
    }
    for (n = not_public; *n; n++) {
        if (!(sub = subnet(p, *n))) {
            *perr = apr_psprintf(p, "cannot make network %s", *n);
            return APR_EGENERAL;
        }
        APR_ARRAY_PUSH(o->not_public, apr_ipsubnet_t *) = sub;
    }
    *pout = o;
    return APR_SUCCESS;
}

apr_status_t ce_outbound_check_url(apr_pool_t *p, const char *url, int *phttps, const char **perr)
{
    apr_uri_t u;

    *phttps = 0;
    if (!url || apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname ||
        !*u.hostname || strpbrk(url, " \t\r\n")) {
        *perr = "not an absolute URL";
        return APR_EINVAL;
    }
    if (strcasecmp(u.scheme, "https") != 0 && strcasecmp(u.scheme, "http") != 0) {
        *perr =
            apr_psprintf(p, "a %.16s URL (only https, or http to an allowed network)", u.scheme);
        return APR_EINVAL;
    }
    if (u.user || u.password || u.fragment) {
        *perr =
            apr_psprintf(p, "the URL to %.128s carries a user, password or fragment", u.hostname);
        return APR_EINVAL;
    }
    *phttps = strcasecmp(u.scheme, "https") == 0;
    return APR_SUCCESS;
}

static int in_any(const apr_array_header_t *subs, apr_sockaddr_t *sa)
{
    int i;

    for (i = 0; i < subs->nelts; i++) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(subs, i, apr_ipsubnet_t *), sa)) {
            return 1;
        }
    }
    return 0;
}

apr_status_t ce_outbound_check_address(const ce_outbound_t *o, apr_pool_t *p, const char *ip,
                                       int https, const char **perr)
{
    apr_sockaddr_t *sa = NULL;

    if (!ip || !*ip || strspn(ip, "0123456789abcdefABCDEF.:") != strlen(ip) ||
        apr_sockaddr_info_get(&sa, ip, APR_UNSPEC, 0, 0, p) != APR_SUCCESS || !sa) {
        *perr = "the address to connect to is not a numeric address";
        return APR_EACCES;
    }
    if (in_any(o->allowed, sa)) {
        return APR_SUCCESS;
    }
    if (!https) {
        *perr = apr_psprintf(p,
                             "plain http to %s refused (https only, outside "
                             "CEInstancesOutboundAllow)",
                             ip);
        return APR_EACCES;
    }
    if (in_any(o->not_public, sa)) {
        *perr = apr_psprintf(p,
                             "%s is not a public address (allow its network with "
                             "CEInstancesOutboundAllow)",
                             ip);
        return APR_EACCES;
    }
    return APR_SUCCESS;
}
