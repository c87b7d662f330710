/* mod_ce_ep_instances: the /instances endpoints (also mounted under
 * /elements/{key or id}/instances, where req->scope is that element).
 *
 * Updates are read-modify-write of one row, done inside the store's
 * transaction (ce_store_instance_modify) so that concurrent updates never
 * undo each other: the merge rules live in ce_instance, the SQL in
 * ce_store; this file only sequences them. */
#include <httpd.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "ce_json.h"
#include "ce_page.h"
#include "mod_ce_endpoints.h"
#include "mod_ce_oauth.h"

static apr_status_t instance_not_found(ce_request_t *req)
{
    req->err =
        apr_psprintf(req->r->pool, "Instance %" APR_INT64_T_FMT " not found", req->instance_id);
    return APR_NOTFOUND;
}

unsigned ce_ep_answer_read(const ce_request_t *req)
{
    return CE_STORE_READ_VIEW | (ce_request_render_check(req) ? CE_STORE_READ_FULL : 0);
}

/* req's instance, if it is the caller's and (when scoped) of that element,
 * read as how says (ce_store.h). */
static apr_status_t load_as(ce_instance_t **pinst, ce_request_t *req, unsigned how)
{
    const char *err = NULL;
    apr_status_t rv = ce_store_instance_read(pinst, &req->conn->db, req->r->pool, req->catalog,
                                             req->user, req->instance_id, how, &err);

    if (rv == APR_SUCCESS && req->scope && (*pinst)->element_id != req->scope->id) {
        rv = APR_NOTFOUND;
    }
    if (rv == APR_NOTFOUND) {
        return instance_not_found(req);
    }
    if (rv != APR_SUCCESS) {
        req->err = err; /* logged, never sent */
    }
    return rv;
}

static apr_status_t load(ce_instance_t **pinst, ce_request_t *req)
{
    return load_as(pinst, req, CE_STORE_READ_FULL);
}

/* Answers j, a view of inst, with inst's ETag. */
static int reply_with_etag(ce_request_t *req, const ce_instance_t *inst, const json_t *j)
{
    apr_table_setn(req->r->headers_out, "ETag", ce_instance_etag(req->r->pool, inst));
    return ce_request_reply(req, HTTP_OK, j);
}

/* Answers inst, rendered straight (ce_instance_render), with its ETag. */
static int reply_instance(ce_request_t *req, const ce_instance_t *inst)
{
    ce_render_t w;

    ce_render_init(&w, req->r->pool, 4096);
    ce_instance_render(&w, inst, 0);
    apr_table_setn(req->r->headers_out, "ETag", ce_instance_etag(req->r->pool, inst));
    return ce_request_reply_rendered(
        req, HTTP_OK, &w,
        ce_request_render_check(req) ? ce_instance_reference(req->r->pool, inst, 0) : NULL);
}

/* A list page's reference tree (CEInstancesRenderCheck). */
static json_t *list_reference(apr_pool_t *p, const apr_array_header_t *found, unsigned flags)
{
    json_t *list = ce_json_array(p);
    int i;

    for (i = 0; i < found->nelts; i++) {
        json_array_append(
            list, ce_instance_reference(p, APR_ARRAY_IDX(found, i, const ce_instance_t *), flags));
    }
    return list;
}

/* What an update does to the instance as stored, inside the store's
 * transaction (see ce_store_instance_modify). */
typedef enum { CHANGE_MERGE, CHANGE_CONFIG_ENTRY, CHANGE_DISABLED, CHANGE_DELETE } change_kind_t;

typedef struct {
    ce_request_t *req;
    change_kind_t kind;
    const char *if_match; /* the request's If-Match, or NULL */
    const json_t *body;   /* CHANGE_MERGE, CHANGE_CONFIG_ENTRY */
    int disabled;         /* CHANGE_DISABLED */
    int found;            /* the instance is the caller's and in scope */
    int got_tokens;       /* CHANGE_MERGE: tokens obtained before the transaction */
    ce_oauth_token_t tokens;
} change_t;

static apr_status_t apply_change(ce_instance_t *inst, void *baton, const char **perr)
{
    change_t *c = baton;
    ce_request_t *req = c->req;

    if (req->scope && inst->element_id != req->scope->id) {
        return APR_NOTFOUND;
    }
    c->found = 1;
    /* Optimistic concurrency: the client's copy must be the stored one. */
    if (c->if_match && !ce_instance_etag_match(c->if_match, ce_instance_etag(req->r->pool, inst))) {
        *perr = "The instance has changed since the ETag given in If-Match";
        return CE_EPRECONDITION;
    }
    switch (c->kind) {
        case CHANGE_MERGE: {
            apr_status_t rv =
                ce_instance_merge(inst, req->r->pool, req->catalog, c->body, req->scope, perr);

            if (rv == APR_SUCCESS && c->got_tokens) {
                ce_oauth_apply(inst, req->r->pool, &c->tokens, apr_time_now());
                inst->reauthenticated = 1; /* its event (ce_event_of_change) */
            }
            return rv;
        }
        case CHANGE_CONFIG_ENTRY:
            return ce_instance_config_set(inst, req->r->pool, req->catalog, req->config_id, c->body,
                                          perr);
        case CHANGE_DISABLED:
            inst->disabled = c->disabled;
            inst->updated_date = ce_instance_now(req->r->pool);
            return APR_SUCCESS;
        case CHANGE_DELETE:
            return CE_STORE_DELETE;
    }
    return APR_EINVAL;
}

static apr_status_t config_not_found(ce_request_t *req)
{
    req->err = apr_psprintf(req->r->pool, "Configuration %ld not found", req->config_id);
    return APR_NOTFOUND;
}

/* Applies c to req's instance in one transaction; *pinst: as written. */
static apr_status_t change(ce_instance_t **pinst, ce_request_t *req, change_t *c)
{
    apr_status_t rv;

    c->req = req;
    c->if_match = apr_table_get(req->r->headers_in, "If-Match");
    rv = ce_store_instance_modify(pinst, &req->conn->db, req->r->pool, req->catalog, req->user,
                                  req->instance_id, apply_change, c, &req->err);
    if (rv == APR_NOTFOUND) {
        return c->found ? config_not_found(req) : instance_not_found(req);
    }
    return rv;
}

/* Elements-Total-Count: how many instances q matches on all pages,
 * unless q has more tags than are counted (then the header is left out:
 * see README). */
static apr_status_t total_count(ce_request_t *req, const ce_instance_query_t *q)
{
    apr_int64_t total = 0;
    apr_status_t rv =
        ce_store_instance_count(&total, &req->conn->db, req->r->pool, req->user, q, &req->err);

    if (rv == APR_SUCCESS) {
        apr_table_setn(req->r->headers_out, "Elements-Total-Count",
                       apr_psprintf(req->r->pool, "%" APR_INT64_T_FMT, total));
    }
    return rv == APR_ENOTIMPL ? APR_SUCCESS : rv;
}

int ce_ep_instances_list(ce_request_t *req)
{
    apr_pool_t *p = req->r->pool;
    ce_instance_query_t q;
    apr_array_header_t *found;
    ce_render_t w;
    unsigned flags;
    int more = 0;
    apr_status_t rv;

    rv = ce_page_query_parse(&q, p, req->r->args, req->scope ? req->scope->id : 0, &req->err);
    q.read = ce_ep_answer_read(req);
    if (rv != APR_SUCCESS ||
        (rv = ce_store_instance_list(&found, &more, &req->conn->db, p, req->catalog, req->user, &q,
                                     &req->err)) != APR_SUCCESS ||
        (rv = total_count(req, &q)) != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    flags = q.dehydrated ? CE_INSTANCE_DEHYDRATED : 0;
    ce_render_init(&w, p, 4096 * (apr_size_t)(found->nelts + 1));
    ce_instance_render_list(&w, found, flags);
    ce_request_page_headers(
        req, found->nelts, more,
        found->nelts ? APR_ARRAY_IDX(found, found->nelts - 1, ce_instance_t *)->id : 0);
    return ce_request_reply_rendered(
        req, HTTP_OK, &w, ce_request_render_check(req) ? list_reference(p, found, flags) : NULL);
}

/* A new OAuth instance's tokens, obtained before anything is stored. */
static apr_status_t tokens_for_create(ce_request_t *req, ce_instance_t *inst)
{
    ce_oauth_token_t tok;
    int got = 0;
    apr_status_t rv = ce_oauth_request_tokens(req, inst, &tok, &got);

    if (rv == APR_SUCCESS && got) {
        ce_oauth_apply(inst, req->r->pool, &tok, apr_time_now());
    }
    return rv;
}

int ce_ep_instances_create(ce_request_t *req)
{
    ce_instance_t *inst;
    json_t *body;
    apr_status_t rv;

    if ((rv = ce_request_body(&body, req)) != APR_SUCCESS ||
        (rv = ce_instance_create(&inst, req->r->pool, req->catalog, body, req->scope, req->user,
                                 &req->err)) != APR_SUCCESS ||
        (rv = tokens_for_create(req, inst)) != APR_SUCCESS ||
        (rv = ce_store_instance_create(&req->conn->db, req->r->pool, inst, &req->err)) !=
            APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    return reply_instance(req, inst);
}

int ce_ep_instances_get(ce_request_t *req)
{
    ce_instance_t *inst = req->read; /* read with the caller, or not yet */
    apr_status_t rv = APR_SUCCESS;

    if (inst && req->scope && inst->element_id != req->scope->id) {
        rv = instance_not_found(req);
    } else if (!inst) {
        rv = load_as(&inst, req, ce_ep_answer_read(req));
    }
    return rv == APR_SUCCESS ? reply_instance(req, inst) : ce_request_fail(req, rv);
}

/* Reads the body, then applies it as kind in one transaction. */
static apr_status_t change_with_body(ce_instance_t **pinst, ce_request_t *req, change_kind_t kind)
{
    change_t c = {NULL, kind, NULL, NULL, 0, 0, 0, {0}};
    json_t *body;
    apr_status_t rv = ce_request_body(&body, req);

    if (rv == APR_SUCCESS) {
        c.body = body;
        rv = change(pinst, req, &c);
    }
    return rv;
}

/* ?reAuthenticate=true: only with providerData.code. */
static apr_status_t check_reauthenticate(ce_request_t *req, int has_code)
{
    apr_table_t *q = NULL;
    const char *re;
    apr_status_t rv = ce_page_query_pairs(&q, req->r->pool, req->r->args, &req->err);

    if (rv == APR_SUCCESS && (re = apr_table_get(q, "reAuthenticate")) && strcmp(re, "true") == 0 &&
        !has_code) {
        req->err = "reAuthenticate=true needs providerData.code";
        rv = APR_EINVAL;
    }
    return rv;
}

/* Re-authentication: the body merged into the instance as stored now (no
 * lock) tells what to ask the provider; the tokens are obtained outside
 * any transaction, then kept by the merge in one (apply_change). */
static apr_status_t tokens_for_update(ce_request_t *req, change_t *c)
{
    ce_instance_t *cur;
    int has_code = 0;
    int asks = ce_instance_asks_provider(req->r->pool, c->body, &has_code);
    const char *err = NULL;
    apr_status_t rv = check_reauthenticate(req, has_code);

    if (rv != APR_SUCCESS || !asks) {
        return rv;
    }
    if ((rv = load(&cur, req)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = ce_instance_merge(cur, req->r->pool, req->catalog, c->body, req->scope, &err)) !=
        APR_SUCCESS) {
        req->err = err;
        return rv;
    }
    return ce_oauth_request_tokens(req, cur, &c->tokens, &c->got_tokens);
}

int ce_ep_instances_update(ce_request_t *req)
{
    change_t c = {NULL, CHANGE_MERGE, NULL, NULL, 0, 0, 0, {0}};
    ce_instance_t *inst;
    json_t *body;
    apr_status_t rv = ce_request_body(&body, req);

    if (rv == APR_SUCCESS) {
        c.body = body;
        if ((rv = tokens_for_update(req, &c)) == APR_SUCCESS) {
            rv = change(&inst, req, &c);
        }
    }
    return rv == APR_SUCCESS ? reply_instance(req, inst) : ce_request_fail(req, rv);
}

int ce_ep_instances_delete(ce_request_t *req)
{
    change_t c = {NULL, CHANGE_DELETE, NULL, NULL, 0, 0, 0, {0}};
    ce_instance_t *inst = NULL;
    apr_status_t rv = APR_SUCCESS;

    if (apr_table_get(req->r->headers_in, "If-Match")) {
        /* Checked and deleted in one transaction. */
        rv = change(&inst, req, &c);
    } else {
        /* Read first: scoped, the instance must be of that element; an
         * OAuth instance's token is revoked once it is deleted. One whose
         * stored values do not open is deleted all the same. */
        rv = load(&inst, req);
        if (rv != APR_SUCCESS && rv != APR_NOTFOUND && !req->scope) {
            inst = NULL;
            rv = APR_SUCCESS;
        }
        if (rv == APR_SUCCESS) {
            rv = ce_store_instance_delete(&req->conn->db, req->r->pool, req->user, req->instance_id,
                                          &req->err);
        }
        if (rv == APR_NOTFOUND) {
            rv = instance_not_found(req);
        }
    }
    if (rv != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    ce_oauth_request_revoke(req, inst);
    return ce_request_reply_empty(req);
}

int ce_ep_instances_config_list(ce_request_t *req)
{
    ce_instance_t *inst;
    apr_status_t rv = load(&inst, req);

    if (rv != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    return reply_with_etag(req, inst, ce_instance_config_list(req->r->pool, inst));
}

int ce_ep_instances_config_get(ce_request_t *req)
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
    return reply_with_etag(req, inst, entry);
}

int ce_ep_instances_config_patch(ce_request_t *req)
{
    ce_instance_t *inst;
    apr_status_t rv = change_with_body(&inst, req, CHANGE_CONFIG_ENTRY);

    if (rv != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    return reply_with_etag(req, inst, ce_instance_config_entry(req->r->pool, inst, req->config_id));
}

static int set_disabled(ce_request_t *req, int disabled)
{
    change_t c = {NULL, CHANGE_DISABLED, NULL, NULL, disabled, 0, 0, {0}};
    ce_instance_t *inst;
    apr_status_t rv = ce_request_media_type(req);

    if (rv == APR_SUCCESS) {
        rv = change(&inst, req, &c);
    }
    return rv == APR_SUCCESS ? reply_instance(req, inst) : ce_request_fail(req, rv);
}

int ce_ep_instances_enable(ce_request_t *req)
{
    return set_disabled(req, 0);
}

int ce_ep_instances_disable(ce_request_t *req)
{
    return set_disabled(req, 1);
}
