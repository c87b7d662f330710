/* mod_ce_instances: the /instances endpoints (also mounted under
 * /elements/{key or id}/instances, where req->scope is that element).
 *
 * Updates are read-modify-write of one row: the merge rules live in
 * ce_instance, the SQL in ce_store; this file only sequences them. */
#include <httpd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "ce_json.h"
#include "mod_ce_endpoints.h"

#define PAGE_TOKEN_HEADER "Elements-Next-Page-Token"

/* req's instance, if it is the caller's and (when scoped) of that element. */
static apr_status_t load(ce_instance_t **pinst, ce_request_t *req)
{
    const char *err = NULL;
    apr_status_t rv = ce_store_instance_get(pinst, &req->conn->db, req->r->pool, req->catalog,
                                            req->user, req->instance_id, &err);

    if (rv == APR_SUCCESS && req->scope && (*pinst)->element_id != req->scope->id) {
        rv = APR_NOTFOUND;
    }
    if (rv == APR_NOTFOUND) {
        req->err =
            apr_psprintf(req->r->pool, "Instance %" APR_INT64_T_FMT " not found", req->instance_id);
    } else if (rv != APR_SUCCESS) {
        req->err = err; /* logged, never sent */
    }
    return rv;
}

static int reply_instance(ce_request_t *req, const ce_instance_t *inst)
{
    return ce_request_reply(req, HTTP_OK, ce_instance_to_json(req->r->pool, inst));
}

static int store_and_reply(ce_request_t *req, ce_instance_t *inst)
{
    apr_status_t rv = ce_store_instance_update(&req->conn->db, req->r->pool, inst, &req->err);

    return rv == APR_SUCCESS ? reply_instance(req, inst) : ce_request_fail(req, rv);
}

/* pageSize: a positive integer; more than the maximum is the maximum. */
static apr_status_t page_size(int *psize, ce_request_t *req, const char *s)
{
    apr_int64_t v;
    char *end = NULL;

    *psize = CE_PAGE_SIZE_DEFAULT;
    if (!s) {
        return APR_SUCCESS;
    }
    v = apr_strtoi64(s, &end, 10);
    if (!*s || *end || !apr_isdigit(*s) || v < 1) {
        req->err = "pageSize must be a positive integer";
        return APR_EINVAL;
    }
    *psize = v > CE_PAGE_SIZE_MAX ? CE_PAGE_SIZE_MAX : (int)v;
    return APR_SUCCESS;
}

static int collect_tag(void *ctx, const char *key, const char *value)
{
    apr_array_header_t *tags = ctx;

    APR_ARRAY_PUSH(tags, const char *) = ce_instance_sanitize(tags->pool, value);
    return 1;
}

/* Reads pageSize, nextPage and tags[] into q. */
static apr_status_t list_query(ce_instance_query_t *q, ce_request_t *req)
{
    apr_table_t *args = ce_request_query(req);
    const char *next = apr_table_get(args, "nextPage");
    apr_array_header_t *tags = apr_array_make(req->r->pool, 2, sizeof(const char *));
    apr_status_t rv;

    memset(q, 0, sizeof(*q));
    if ((rv = page_size(&q->limit, req, apr_table_get(args, "pageSize"))) != APR_SUCCESS) {
        return rv;
    }
    if (next && *next && ce_instance_page_token_parse(&q->before_id, next) != APR_SUCCESS) {
        req->err = "Invalid nextPage token";
        return APR_EINVAL;
    }
    apr_table_do(collect_tag, tags, args, "tags[]", NULL);
    q->tags = tags;
    q->element_id = req->scope ? req->scope->id : 0;
    return APR_SUCCESS;
}

int ce_instances_list(ce_request_t *req)
{
    apr_pool_t *p = req->r->pool;
    ce_instance_query_t q;
    apr_array_header_t *found;
    json_t *list;
    int more = 0, i;
    apr_status_t rv;

    if ((rv = list_query(&q, req)) != APR_SUCCESS ||
        (rv = ce_store_instance_list(&found, &more, &req->conn->db, p, req->catalog, req->user, &q,
                                     &req->err)) != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    list = ce_json_array(p);
    for (i = 0; i < found->nelts; i++) {
        json_array_append(list, ce_instance_to_json(p, APR_ARRAY_IDX(found, i, ce_instance_t *)));
    }
    if (more && found->nelts > 0) {
        const ce_instance_t *last = APR_ARRAY_IDX(found, found->nelts - 1, ce_instance_t *);
        apr_table_setn(req->r->headers_out, PAGE_TOKEN_HEADER, ce_instance_page_token(p, last->id));
    }
    return ce_request_reply(req, HTTP_OK, list);
}

int ce_instances_create(ce_request_t *req)
{
    ce_instance_t *inst;
    json_t *body;
    apr_status_t rv;

    if ((rv = ce_request_body(&body, req)) != APR_SUCCESS ||
        (rv = ce_instance_create(&inst, req->r->pool, req->catalog, body, req->scope, req->user,
                                 &req->err)) != APR_SUCCESS ||
        (rv = ce_store_instance_create(&req->conn->db, req->r->pool, inst, &req->err)) !=
            APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    return reply_instance(req, inst);
}

int ce_instances_get(ce_request_t *req)
{
    ce_instance_t *inst;
    apr_status_t rv = load(&inst, req);

    return rv == APR_SUCCESS ? reply_instance(req, inst) : ce_request_fail(req, rv);
}

int ce_instances_update(ce_request_t *req)
{
    ce_instance_t *inst;
    json_t *body;
    apr_status_t rv;

    if ((rv = ce_request_body(&body, req)) != APR_SUCCESS ||
        (rv = load(&inst, req)) != APR_SUCCESS ||
        (rv = ce_instance_merge(inst, req->r->pool, req->catalog, body, req->scope, &req->err)) !=
            APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    return store_and_reply(req, inst);
}

int ce_instances_delete(ce_request_t *req)
{
    ce_instance_t *inst;
    apr_status_t rv = APR_SUCCESS;

    /* Scoped: the instance must be of that element, which only a read tells. */
    if (req->scope) {
        rv = load(&inst, req);
    }
    if (rv == APR_SUCCESS) {
        rv = ce_store_instance_delete(&req->conn->db, req->r->pool, req->user, req->instance_id,
                                      &req->err);
    }
    if (rv == APR_NOTFOUND) {
        req->err =
            apr_psprintf(req->r->pool, "Instance %" APR_INT64_T_FMT " not found", req->instance_id);
    }
    return rv == APR_SUCCESS ? ce_request_reply_empty(req) : ce_request_fail(req, rv);
}

int ce_instances_config_list(ce_request_t *req)
{
    ce_instance_t *inst;
    apr_status_t rv = load(&inst, req);

    if (rv != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    return ce_request_reply(req, HTTP_OK, ce_instance_config_list(req->r->pool, inst));
}

static apr_status_t config_not_found(ce_request_t *req)
{
    req->err = apr_psprintf(req->r->pool, "Configuration %ld not found", req->config_id);
    return APR_NOTFOUND;
}

int ce_instances_config_get(ce_request_t *req)
{
    ce_instance_t *inst;
    json_t *entry;
    apr_status_t rv = load(&inst, req);

    if (rv != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    if (!(entry = ce_instance_config_entry(req->r->pool, inst, req->config_id))) {
        return ce_request_fail(req, config_not_found(req));
    }
    return ce_request_reply(req, HTTP_OK, entry);
}

int ce_instances_config_patch(ce_request_t *req)
{
    apr_pool_t *p = req->r->pool;
    ce_instance_t *inst;
    json_t *body;
    apr_status_t rv;

    if ((rv = ce_request_body(&body, req)) != APR_SUCCESS ||
        (rv = load(&inst, req)) != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    rv = ce_instance_config_set(inst, p, req->config_id, body, &req->err);
    if (rv == APR_NOTFOUND) {
        rv = config_not_found(req);
    }
    if (rv != APR_SUCCESS ||
        (rv = ce_store_instance_update(&req->conn->db, p, inst, &req->err)) != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    return ce_request_reply(req, HTTP_OK, ce_instance_config_entry(p, inst, req->config_id));
}

static int set_disabled(ce_request_t *req, int disabled)
{
    ce_instance_t *inst;
    apr_status_t rv = ce_request_media_type(req);

    if (rv == APR_SUCCESS) {
        rv = load(&inst, req);
    }
    if (rv != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    inst->disabled = disabled;
    inst->updated_date = ce_instance_now(req->r->pool);
    return store_and_reply(req, inst);
}

int ce_instances_enable(ce_request_t *req)
{
    return set_disabled(req, 0);
}

int ce_instances_disable(ce_request_t *req)
{
    return set_disabled(req, 1);
}
