/* mod_ce_router: the handler — maps a path and method under the mounted
 * <Location> to one endpoint, after authenticating the caller. */
#ifndef MOD_CE_ROUTER_H
#define MOD_CE_ROUTER_H

#include <httpd.h>

/* The "ceinstances" handler hook. */
int ce_router_handler(request_rec *r);

#endif
