/* mod_ce_cors: cross-origin calls from browsers (CEInstancesCORSOrigins). */
#ifndef MOD_CE_CORS_H
#define MOD_CE_CORS_H

#include <httpd.h>

#include "mod_ce_config.h"

typedef enum {
    CE_CORS_NONE,      /* not a preflight: serve the request as usual */
    CE_CORS_PREFLIGHT, /* a preflight from an allowed origin: answer 204 */
    CE_CORS_REFUSED    /* a preflight from an origin not allowed: answer 403 */
} ce_cors_t;

/* For API request r: when its Origin is one of cfg's, the answer (errors
 * too) names it in Access-Control-Allow-Origin and exposes the Elements-*
 * headers; a preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) also gets the methods allow (the path's,
 * never asked of the database: it needs no Authorization), the headers a
 * client sends and a Max-Age. Says what r is. */
ce_cors_t ce_cors_apply(request_rec *r, const ce_server_config_t *cfg, const char *allow);

#endif
