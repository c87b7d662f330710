/* mod_ce_ep_events: the event log (issue 14) — the caller's events, newest
 * first, a page at a time (pageSize, nextPage, as the instance list), one
 * event by its id, and a failed event sent again. A deleted instance's
 * events are listed under its id as long as the log keeps them. */
#include <httpd.h>
#include <apr_strings.h>

#include "ce_event.h"
#include "ce_json.h"
#include "ce_page.h"
#include "mod_ce_endpoints.h"

/* Events are the caller's, not an element's: no scoped route has them. */
static apr_status_t unscoped(ce_request_t *req)
{
    if (req->scope) {
        req->err = "Events are listed under /instances, not under an element";
        return APR_NOTFOUND;
    }
    return APR_SUCCESS;
}

int ce_ep_events_list(ce_request_t *req)
{
    apr_pool_t *p = req->r->pool;
    ce_instance_query_t q;
    apr_array_header_t *found;
    json_t *list;
    int more = 0, i;
    apr_status_t rv;

    if ((rv = unscoped(req)) != APR_SUCCESS ||
        (rv = ce_page_query_parse(&q, p, req->r->args, 0, &req->err)) != APR_SUCCESS ||
        (rv = ce_store_event_list(&found, &more, &req->conn->db, p, req->user, req->instance_id,
                                  q.before_id, q.limit, &req->err)) != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    list = ce_json_array(p);
    for (i = 0; i < found->nelts; i++) {
        json_array_append(list, ce_event_view(p, APR_ARRAY_IDX(found, i, ce_event_row_t *)));
    }
    ce_request_page_headers(
        req, found->nelts, more,
        found->nelts ? APR_ARRAY_IDX(found, found->nelts - 1, ce_event_row_t *)->id : 0);
    return ce_request_reply(req, HTTP_OK, list);
}

/* The caller's event req->event_id (of req->instance_id, when the path
 * names one). */
static apr_status_t load_event(ce_event_row_t **pev, ce_request_t *req)
{
    apr_status_t rv =
        ce_store_event_get(pev, &req->conn->db, req->r->pool, req->user, req->event_id, &req->err);

    if (rv == APR_SUCCESS && req->instance_id && (*pev)->instance_id != req->instance_id) {
        rv = APR_NOTFOUND;
    }
    if (rv == APR_NOTFOUND) {
        req->err = "Event not found";
    }
    return rv;
}

int ce_ep_events_get(ce_request_t *req)
{
    ce_event_row_t *ev;
    apr_status_t rv;

    if ((rv = unscoped(req)) != APR_SUCCESS || (rv = load_event(&ev, req)) != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    return ce_request_reply(req, HTTP_OK, ce_event_view(req->r->pool, ev));
}

int ce_ep_events_redeliver(ce_request_t *req)
{
    ce_event_row_t *ev;
    apr_status_t rv;

    if ((rv = unscoped(req)) != APR_SUCCESS ||
        (rv = ce_store_event_redeliver(&ev, &req->conn->db, req->r->pool, req->user, req->event_id,
                                       &req->err)) != APR_SUCCESS) {
        if (rv == APR_NOTFOUND) {
            req->err = "Event not found";
        }
        return ce_request_fail(req, rv);
    }
    return ce_request_reply(req, HTTP_OK, ce_event_view(req->r->pool, ev));
}
