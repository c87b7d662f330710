/* mod_ce_ep_elements: the catalog endpoints, GET /elements and
 * GET /elements/{key or id} (their JSON was built when the catalog
 * loaded), and an OAuth element's authorization URL. */
#include <httpd.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "ce_json.h"
#include "ce_oauth.h"
#include "ce_page.h"
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

/* POST's parameters: the body's fields, each a string. */
static apr_status_t body_params(apr_table_t **pparams, ce_request_t *req)
{
    json_t *body, *v;
    const char *name;
    apr_status_t rv;

    if ((rv = ce_request_body(&body, req)) != APR_SUCCESS) {
        return rv;
    }
    *pparams = apr_table_make(req->r->pool, 5);
    json_object_foreach(body, name, v)
    {
        if (!json_is_string(v)) {
            req->err = apr_psprintf(req->r->pool, "%s must be a string",
                                    ce_instance_sanitize(req->r->pool, name));
            return APR_EINVAL;
        }
        apr_table_setn(*pparams, name, json_string_value(v));
    }
    return APR_SUCCESS;
}

/* GET (query) and POST (JSON body) /elements/{key or id}/oauth/url:
 * {"oauthUrl": ..., "element": key} (ce_oauth_element_url). */
int ce_ep_elements_oauth_url(ce_request_t *req)
{
    request_rec *r = req->r;
    const ce_element_t *e = ce_catalog_find(req->catalog, req->element_ref);
    apr_table_t *params = NULL;
    const char *url = NULL;
    json_t *out;
    apr_status_t rv;

    if (!e) {
        req->err = apr_psprintf(r->pool, "Element '%s' not found", req->element_ref);
        return ce_request_fail(req, APR_NOTFOUND);
    }
    rv = r->method_number == M_POST ? body_params(&params, req)
                                    : ce_page_query_pairs(&params, r->pool, r->args, &req->err);
    if (rv != APR_SUCCESS ||
        (rv = ce_oauth_element_url(&url, r->pool, e, params, &req->err)) != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    out = ce_json_object(r->pool);
    json_object_set_new(out, "oauthUrl", json_string(url));
    json_object_set_new(out, "element", json_string(e->key));
    return ce_request_reply(req, HTTP_OK, out);
}
