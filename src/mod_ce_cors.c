/* mod_ce_cors: cross-origin calls from browsers (see mod_ce_cors.h). No
 * origin is allowed unless CEInstancesCORSOrigins names it: the API's
 * answers carry tokens, and a browser page may call it only where the
 * operator says so. */
#include <string.h>
#include <apr_strings.h>

#include "mod_ce_cors.h"

/* What a browser script may read of an answer, beyond the simple headers. */
#define EXPOSED                                                                                    \
    "Elements-Request-Id, Elements-Element-Instance-Id, Elements-Returned-Count, "                 \
    "Elements-Total-Count, Elements-Next-Page-Token, ETag, WWW-Authenticate"
/* What a client sends beyond the simple headers. */
#define ALLOWED_HEADERS "Authorization, Content-Type, If-Match"
#define MAX_AGE "600"

static int allowed(const ce_server_config_t *cfg, const char *origin)
{
    int i;

    for (i = 0; cfg->cors_origins && i < cfg->cors_origins->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(cfg->cors_origins, i, const char *), origin) == 0) {
            return 1;
        }
    }
    return 0;
}

ce_cors_t ce_cors_apply(request_rec *r, const ce_server_config_t *cfg, const char *allow)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    int preflight = r->method_number == M_OPTIONS && origin &&
                    apr_table_get(r->headers_in, "Access-Control-Request-Method");

    if (!cfg->cors_origins) {
        return CE_CORS_NONE; /* no CORS: OPTIONS is what it always was (405) */
    }
    /* Answers differ by Origin (errors too: err_headers_out). */
    apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    if (!origin || !allowed(cfg, origin)) {
        return preflight ? CE_CORS_REFUSED : CE_CORS_NONE;
    }
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin", origin);
    apr_table_setn(r->err_headers_out, "Access-Control-Expose-Headers", EXPOSED);
    if (!preflight) {
        return CE_CORS_NONE;
    }
    if (allow) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Methods", allow);
    }
    apr_table_setn(r->err_headers_out, "Access-Control-Allow-Headers", ALLOWED_HEADERS);
    apr_table_setn(r->err_headers_out, "Access-Control-Max-Age", MAX_AGE);
    return CE_CORS_PREFLIGHT;
}
