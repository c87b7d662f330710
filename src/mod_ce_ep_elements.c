/* mod_ce_ep_elements: the catalog endpoints, GET /elements and
 * GET /elements/{key or id}. The JSON was built when the catalog loaded. */
#include <httpd.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "ce_json.h"
#include "mod_ce_endpoints.h"

int ce_ep_elements_list(ce_request_t *req)
{
    const apr_array_header_t *all = ce_catalog_elements(req->catalog);
    json_t *list = ce_json_array(req->r->pool);
    int i;

    for (i = 0; i < all->nelts; i++) {
        json_array_append(list, APR_ARRAY_IDX(all, i, const ce_element_t *)->json);
    }
    return ce_request_reply(req, HTTP_OK, list);
}

int ce_ep_elements_get(ce_request_t *req)
{
    const ce_element_t *e = ce_catalog_find(req->catalog, req->element_ref);

    if (!e) {
        req->err = apr_psprintf(req->r->pool, "Element '%s' not found", req->element_ref);
        return ce_request_fail(req, APR_NOTFOUND);
    }
    return ce_request_reply(req, HTTP_OK, e->detail);
}
