/* rebind_preload: failure injection for t/40-gateway.t, preloaded into one
 * httpd (LD_PRELOAD): a DNS name that answers one address the first time a
 * process asks and another one ever after, as a hostile name server
 * rebinding its name does. getaddrinfo for $CE_REBIND_NAME gives
 * $CE_REBIND_FIRST once per process, then $CE_REBIND_THEN; every other
 * name goes to the C library as usual.
 *
 * The gateway checks a destination's addresses before mod_proxy connects
 * (and remembers an allowed one for a while); mod_proxy resolves the name
 * again to connect. With this, the first check sees an allowed address and
 * mod_proxy connects to a refused one: only the check of the connected
 * address (ce_gateway_check_connection) can stop the call. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

typedef int getaddrinfo_fn(const char *, const char *, const struct addrinfo *,
                           struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    static int asked; /* per process: the first answer is the allowed one */
    getaddrinfo_fn *real = (getaddrinfo_fn *)dlsym(RTLD_NEXT, "getaddrinfo");
    const char *name = getenv("CE_REBIND_NAME");
    const char *first = getenv("CE_REBIND_FIRST"), *then = getenv("CE_REBIND_THEN");

    if (node && name && first && then && strcmp(node, name) == 0) {
        node = __atomic_fetch_add(&asked, 1, __ATOMIC_SEQ_CST) == 0 ? first : then;
    }
    return real(node, service, hints, res);
}
