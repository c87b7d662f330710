/* mod_ce_request: one API request — body, query and reply — and the
 * single place where failures become HTTP statuses and JSON error bodies
 * (see mod_ce_request.h). */
#include <strings.h>
#include <httpd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

#include "ce_crypto.h"
#include "ce_json.h"
#include "ce_render.h"
#include "ce_page.h"
#include "mod_ce_guard.h"
#include "mod_ce_request.h"

APLOG_USE_MODULE(ceinstances);

void ce_request_init(ce_request_t *req, request_rec *r)
{
    memset(req, 0, sizeof(*req));
    req->r = r;
    req->cfg = ce_config_server(r);
    req->catalog = req->cfg->catalog;
    req->conn = ce_dbd_conn(r->server, r->pool, r);
    ce_guard_request_id(r); /* Elements-Request-Id on every answer */
}

static int is_json_type(const char *ct)
{
    const char *semi = strchr(ct, ';');
    apr_size_t len = semi ? (apr_size_t)(semi - ct) : strlen(ct);

    while (len > 0 && apr_isspace(ct[len - 1])) {
        len--;
    }
    if (len == 16 && strncasecmp(ct, "application/json", 16) == 0) {
        return 1;
    }
    /* application/<anything>+json, e.g. application/merge-patch+json */
    return len > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + len - 5, "+json", 5) == 0;
}

/* Reads the body into a pool buffer, at most limit bytes. */
static apr_status_t read_body(char **pbuf, apr_size_t *plen, request_rec *r, apr_off_t limit)
{
    apr_size_t cap = 8192, len = 0;
    char *buf = apr_palloc(r->pool, cap);
    long n;

    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return APR_EINVAL;
    }
    if (r->remaining > limit) {
        return CE_ETOOLARGE;
    }
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + len, cap - len)) > 0) {
            len += (apr_size_t)n;
            if ((apr_off_t)len > limit) {
                return CE_ETOOLARGE;
            }
            if (len == cap) {
                char *bigger = apr_palloc(r->pool, cap * 2);
                memcpy(bigger, buf, len);
                buf = bigger;
                cap *= 2;
            }
        }
        if (n < 0) {
            return APR_EINVAL;
        }
    }
    *pbuf = buf;
    *plen = len;
    return APR_SUCCESS;
}

apr_status_t ce_request_media_type(ce_request_t *req)
{
    const char *ct = apr_table_get(req->r->headers_in, "Content-Type");
    const char *ce = apr_table_get(req->r->headers_in, "Content-Encoding");

    if (ct && !is_json_type(ct)) {
        req->err = "Content-Type must be application/json";
        return CE_EMEDIATYPE;
    }
    /* Bodies are never decompressed: a gzip body would be read as broken
     * JSON (a misleading 400), a br one ignored. */
    if (ce && strcasecmp(ce, "identity") != 0) {
        req->err = "Content-Encoding must be identity (request bodies are not decompressed)";
        return CE_EMEDIATYPE;
    }
    return APR_SUCCESS;
}

apr_status_t ce_request_body(json_t **pbody, ce_request_t *req)
{
    request_rec *r = req->r;
    char *buf = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if ((rv = ce_request_media_type(req)) != APR_SUCCESS) {
        return rv;
    }
    req->body_consumed = 1;
    rv = read_body(&buf, &len, r, ce_config_max_body(req->cfg));
    if (rv != APR_SUCCESS) {
        /* Part of the body may still be on the wire. */
        r->connection->keepalive = AP_CONN_CLOSE;
    }
    if (rv == CE_ETOOLARGE) {
        req->err = apr_psprintf(r->pool, "Request body is larger than %" APR_OFF_T_FMT " bytes",
                                ce_config_max_body(req->cfg));
        return rv;
    }
    if (rv != APR_SUCCESS || len == 0) {
        req->err = rv != APR_SUCCESS ? "The request body could not be read"
                                     : "A JSON object is required as request body";
        return APR_EINVAL;
    }
    if ((rv = ce_json_parse(pbody, r->pool, buf, len, &req->err)) != APR_SUCCESS) {
        return rv;
    }
    if (!json_is_object(*pbody)) {
        req->err = "The request body must be a JSON object";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* A body we did not read must not be taken for the next request on the
 * connection; a large one is not worth reading just to throw away. */
static void settle_body(ce_request_t *req, int status)
{
    request_rec *r = req->r;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    int has_body = apr_table_get(r->headers_in, "Transfer-Encoding") || (cl && apr_atoi64(cl) > 0);

    if (req->body_consumed || !has_body) {
        return;
    }
    /* Refused (401 before authentication, 404, 405, ...): the body is not
     * read, not even to throw it away, and no "100 Continue" is sent for
     * it: a slow or unauthenticated client cannot hold a worker with a
     * body nobody wants. The connection closes after the answer. */
    if (status >= 400 || apr_table_get(r->headers_in, "Transfer-Encoding") ||
        (cl && apr_atoi64(cl) > ce_config_max_body(req->cfg)) || ap_discard_request_body(r) != OK) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
}

static int send_bytes(ce_request_t *req, int status, const char *body, apr_size_t len)
{
    request_rec *r = req->r;

    ce_dbd_release(req->conn); /* the answer is made: let the next request have it */
    settle_body(req, status);
    r->status = status;
    /* Answers carry tokens and configuration: no cache keeps them. */
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (body) {
        ap_set_content_type(r, "application/json");
    }
    ap_set_content_length(r, len);
    if (len && !r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

static int send_text(ce_request_t *req, int status, const char *body)
{
    return send_bytes(req, status, body, body ? strlen(body) : 0);
}

int ce_request_render_check(const ce_request_t *req)
{
    (void)req;
    return ce_render_checking; /* the main server's setting (ce_post_config) */
}

int ce_request_reply_rendered(ce_request_t *req, int status, ce_render_t *w,
                              const json_t *reference)
{
    const char *fast = ce_render_text(w), *ref;
    apr_size_t at = 0;

    if (ce_request_render_check(req)) {
        ref = reference ? ce_json_dump(req->r->pool, reference) : NULL;
        if (!ref || strcmp(ref, fast) != 0) {
            while (ref && ref[at] && ref[at] == fast[at]) {
                at++;
            }
            req->err = apr_psprintf(req->r->pool,
                                    "CE00059: the rendered answer differs from its reference at "
                                    "byte %" APR_SIZE_T_FMT " (%" APR_SIZE_T_FMT
                                    " and %" APR_SIZE_T_FMT " bytes)",
                                    at, w->len, ref ? strlen(ref) : 0);
            return ce_request_fail(req, APR_EGENERAL);
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, req->r,
                      "CE00060: the rendered answer equals its reference (%" APR_SIZE_T_FMT
                      " bytes)",
                      w->len);
    }
    return send_bytes(req, status, fast, w->len);
}

int ce_request_reply(ce_request_t *req, int status, const json_t *j)
{
    const char *body = ce_json_dump(req->r->pool, j);

    if (!body) {
        return ce_request_fail(req, APR_ENOMEM);
    }
    return send_text(req, status, body);
}

int ce_request_reply_empty(ce_request_t *req)
{
    return send_text(req, HTTP_OK, NULL);
}

int ce_request_reply_no_content(ce_request_t *req)
{
    return send_text(req, HTTP_NO_CONTENT, NULL);
}

static int http_status(apr_status_t rv)
{
    switch (rv) {
        case APR_EINVAL:
            return HTTP_BAD_REQUEST;
        case APR_EACCES:
            return HTTP_UNAUTHORIZED;
        case CE_EFORBIDDEN:
            return HTTP_FORBIDDEN;
        case APR_NOTFOUND:
            return HTTP_NOT_FOUND;
        case APR_EEXIST:
            return HTTP_CONFLICT;
        case CE_ETOOLARGE:
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        case CE_EMEDIATYPE:
            return HTTP_UNSUPPORTED_MEDIA_TYPE;
        case CE_EPRECONDITION:
            return HTTP_PRECONDITION_FAILED;
        case CE_EUNAVAILABLE:
            return HTTP_SERVICE_UNAVAILABLE;
        case CE_EBADGATEWAY:
            return HTTP_BAD_GATEWAY;
        default:
            return HTTP_INTERNAL_SERVER_ERROR;
    }
}

int ce_request_fail(ce_request_t *req, apr_status_t rv)
{
    int status = http_status(rv);

    if (status == HTTP_INTERNAL_SERVER_ERROR && ce_dbd_lost(req->conn)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, req->r, "CE00006: database connection lost: %s",
                      req->err ? req->err : "?");
        status = HTTP_SERVICE_UNAVAILABLE;
        req->err = CE_DBD_UNAVAILABLE;
    }
    if (status == HTTP_INTERNAL_SERVER_ERROR) {
        /* The detail goes to the log, not to the client. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, req->r, "CE00002: %s",
                      req->err ? req->err : "internal error");
        req->err = NULL;
    }
    return ce_request_fail_status(req, status, req->err, NULL);
}

int ce_request_fail_status(ce_request_t *req, int status, const char *message, const char *allow)
{
    request_rec *r = req->r;
    const char *id = ce_guard_request_id(r);
    json_t *j;

    if (!message) {
        message = status == HTTP_INTERNAL_SERVER_ERROR
                      ? "Internal server error"
                      : ap_get_status_line(status) + 4; /* "404 Not Found" → "Not Found" */
    }
    if (allow) {
        apr_table_setn(r->headers_out, "Allow", allow);
    }
    ce_guard_challenge(r, status);
    /* Status and id only: a message may quote the caller's body. */
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "CE00003: requestId %s: status %d", id, status);
    j = ce_json_error(r->pool, id, message);
    if (j && req->provider_message) {
        json_object_set_new(j, "providerMessage", json_string(req->provider_message));
    }
    return j ? ce_request_reply(req, status, j) : send_text(req, status, NULL);
}

void ce_request_page_headers(ce_request_t *req, int returned, int more, apr_int64_t last_id)
{
    apr_pool_t *p = req->r->pool;

    apr_table_setn(req->r->headers_out, "Elements-Returned-Count", apr_itoa(p, returned));
    if (more && returned > 0) {
        apr_table_setn(req->r->headers_out, "Elements-Next-Page-Token", ce_page_token(p, last_id));
    }
}
