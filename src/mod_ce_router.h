/* mod_ce_router: the handler — maps a path and method under the mounted
 * <Location> to one endpoint, after authenticating the caller. */
#ifndef MOD_CE_ROUTER_H
#define MOD_CE_ROUTER_H

#include <httpd.h>

#define CE_HANDLER_NAME "ceinstances"

/* The handler hook. */
int ce_router_handler(request_rec *r);

/* translate_name and map_to_storage hooks: requests for the handler map to
 * no file (no document root walk). */
int ce_router_translate(request_rec *r);
int ce_router_map_to_storage(request_rec *r);

/* Whether r is a request to the API (a <Location> with SetHandler
 * ceinstances), also when httpd refuses it before translate_name (then
 * this runs the location walk itself). */
int ce_router_is_api(request_rec *r);

#endif
