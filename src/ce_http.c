/* ce_http: the part of outbound HTTP every transport shares. */
#include "ce_http.h"

apr_status_t ce_http_perform(ce_http_t *h, apr_pool_t *p, const ce_http_request_t *rq,
                             ce_http_response_t *rs, const char **perr)
{
    int https = 0;

    rs->status = 0;
    rs->content_type = NULL;
    rs->body = "";
    rs->len = 0;
    if (ce_outbound_check_url(p, rq->url, &https, perr) != APR_SUCCESS)
        return CE_HTTP_REFUSED;
    return h->perform(h, p, rq, rs, perr);
}
