/* mod_ce_request: one API request — its database connection, caller,
 * body, query and response — and the single place where failures become
 * HTTP statuses and JSON error bodies. */
#include <httpd.h>
#include <apr_optional.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <util_mutex.h>
#include <util_filter.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "ce_auth.h"
#include "ce_crypto.h"
#include "ce_json.h"
#include "mod_ce_request.h"

APLOG_USE_MODULE(ceinstances);

/* Connections tried per request before answering 503. */
#define CE_DB_ATTEMPTS 3

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) * dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) * dbd_close;
static apr_global_mutex_t *write_mutex;

/* Group commit (see ce_store_batch_create): this child's queue per
 * server_rec, since each may name its own database. */
static apr_hash_t *batches; /* server_rec * -> ce_store_batch_t * */

apr_status_t ce_request_mutex_register(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, CE_MUTEX_NAME, NULL, APR_LOCK_DEFAULT, 0);
}

apr_status_t ce_request_mutex_create(apr_pool_t *pconf, server_rec *s)
{
    return ap_global_mutex_create(&write_mutex, NULL, CE_MUTEX_NAME, NULL, s, pconf, 0);
}

static apr_status_t serialize_writes(void *baton, int acquire)
{
    return acquire ? apr_global_mutex_lock(write_mutex) : apr_global_mutex_unlock(write_mutex);
}

void ce_request_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    server_rec *sv;

    if (!write_mutex) {
        return;
    }
    rv = apr_global_mutex_child_init(&write_mutex, apr_global_mutex_lockfile(write_mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "CE00004: cannot attach the %s mutex",
                     CE_MUTEX_NAME);
        return;
    }
    batches = apr_hash_make(pchild);
    for (sv = s; sv; sv = sv->next) {
        server_rec **key = apr_palloc(pchild, sizeof(*key));
        ce_store_batch_t *batch;

        if ((rv = ce_store_batch_create(&batch, pchild)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "CE00005: cannot create the commit queue");
            continue;
        }
        *key = sv;
        apr_hash_set(batches, key, sizeof(*key), batch);
    }
}

apr_status_t ce_request_dbd_bind(void)
{
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    return dbd_open && dbd_close ? APR_SUCCESS : APR_EGENERAL;
}

void ce_request_init(ce_request_t *req, request_rec *r)
{
    memset(req, 0, sizeof(*req));
    req->r = r;
    req->cfg = ce_config_server(r);
    req->catalog = req->cfg->catalog;
}

/* A held connection, as a pool cleanup sees it (not the ce_request_t,
 * which lives on the handler's stack). */
struct held_db_t {
    server_rec *s;
    ap_dbd_t *dbd;
};
typedef struct held_db_t held_db_t;

/* Pool cleanup: hands the connection back to mod_dbd's pool. */
static apr_status_t close_db(void *data)
{
    held_db_t *held = data;

    dbd_close(held->s, held->dbd);
    return APR_SUCCESS;
}

void ce_request_db_release(ce_request_t *req)
{
    if (req->held) {
        apr_pool_cleanup_run(req->r->pool, req->held, close_db);
        req->held = NULL;
    }
}

/* Whether the held connection is known dead (the database went away). */
static int db_lost(const ce_request_t *req)
{
    return req->held &&
           apr_dbd_check_conn(req->db.driver, req->r->pool, req->db.handle) != APR_SUCCESS;
}

/* db: our view of a mod_dbd connection of server s. */
static void bind_db(ce_db_t *db, ap_dbd_t *dbd, server_rec *s, const ce_server_config_t *cfg)
{
    memset(db, 0, sizeof(*db));
    if (!dbd->prepared) {
        dbd->prepared = apr_hash_make(dbd->pool);
    }
    db->driver = dbd->driver;
    db->handle = dbd->handle;
    db->prepared = dbd->prepared;
    db->pool = dbd->pool;
    db->keys = cfg->keys;
    if (write_mutex && strcmp(apr_dbd_name(dbd->driver), "sqlite3") == 0) {
        db->serialize = serialize_writes;
        db->batch = batches ? apr_hash_get(batches, &s, sizeof(server_rec *)) : NULL;
    }
}

apr_status_t ce_request_check_keys(apr_pool_t *pchild, server_rec *s)
{
    server_rec *sv;

    for (sv = s; sv && dbd_open; sv = sv->next) {
        const ce_server_config_t *cfg = ce_config_server_of(sv);
        const char *err = NULL;
        apr_pool_t *p;
        ap_dbd_t *dbd;
        ce_db_t db;
        apr_status_t rv;

        if (!cfg->catalog || !cfg->keys) {
            continue;
        }
        apr_pool_create(&p, pchild);
        if (!(dbd = dbd_open(p, sv))) {
            /* Unreachable now: requests answer 503 until it is back. */
            apr_pool_destroy(p);
            continue;
        }
        bind_db(&db, dbd, sv, cfg);
        rv = ce_store_init(&db, &err);
        dbd_close(sv, dbd);
        if (rv == APR_EACCES) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, sv,
                         "CE00025: %s (CEInstancesKeyFile %s): refusing to serve with it", err,
                         cfg->key_path ? cfg->key_path : "?");
            apr_pool_destroy(p);
            return rv;
        }
        apr_pool_destroy(p);
    }
    return APR_SUCCESS;
}

apr_status_t ce_request_db(ce_request_t *req)
{
    ap_dbd_t *dbd = NULL;
    const char *err = NULL;
    apr_status_t rv;
    int attempt;

    if (req->held) {
        return APR_SUCCESS;
    }
    /* mod_dbd answers NULL when the pooled connection it picked turns out
     * dead (and drops it): after a database restart the pool may hold a
     * few of those before a fresh connection is made. */
    for (attempt = 0; attempt < CE_DB_ATTEMPTS && !dbd && dbd_open; attempt++) {
        dbd = dbd_open(req->r->pool, req->r->server);
    }
    if (!dbd) {
        req->err = "The database is unavailable";
        return CE_EUNAVAILABLE;
    }
    req->held = apr_palloc(req->r->pool, sizeof(*req->held));
    req->held->s = req->r->server;
    req->held->dbd = dbd;
    apr_pool_cleanup_register(req->r->pool, req->held, close_db, apr_pool_cleanup_null);
    bind_db(&req->db, dbd, req->r->server, req->cfg);
    rv = ce_store_init(&req->db, &err);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, req->r, "CE00001: cannot prepare the database: %s",
                      err ? err : "?");
        req->err = "The database is unavailable";
        ce_request_db_release(req);
        return CE_EUNAVAILABLE;
    }
    return APR_SUCCESS;
}

/* Where the credentials of a request wait, out of r->headers_in. */
#define HIDDEN_AUTH_KEY "ceinstances:authorization"
#define HIDDEN_AUTH_TEXT "[hidden by mod_ceinstances]"

void ce_request_hide_credentials(request_rec *r)
{
    const char *v = apr_table_get(r->headers_in, "Authorization");

    if (!v || !ce_config_server_of(r->server)->catalog) {
        return;
    }
    apr_pool_userdata_setn(v, HIDDEN_AUTH_KEY, NULL, r->pool);
    apr_table_setn(r->headers_in, "Authorization", HIDDEN_AUTH_TEXT);
}

void ce_request_restore_credentials(request_rec *r)
{
    void *v = NULL;

    apr_pool_userdata_get(&v, HIDDEN_AUTH_KEY, r->pool);
    if (v) {
        apr_table_setn(r->headers_in, "Authorization", v);
        apr_pool_userdata_setn(NULL, HIDDEN_AUTH_KEY, NULL, r->pool);
    }
}

/* httpd's own error responses to requests for the API (refused before the
 * handler runs: a header over LimitRequestFieldSize, an encoded '/' or NUL
 * in the path, an unparsable Content-Length, ...) get the API's JSON error
 * body instead of httpd's HTML page: the text is set as the request's
 * custom response (ap_send_error_response writes it as it is), and this
 * filter, first in line, makes its Content-Type JSON. */
static ap_filter_rec_t *error_type_filter;

static apr_status_t error_type_out(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, "application/json");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void ce_request_error_json(request_rec *r)
{
    const char *id = ce_crypto_request_id(r->pool), *body;
    const char *line = ap_get_status_line(r->status);
    json_t *j;

    j = ce_json_bind(r->pool, json_pack("{s:s, s:s}", "requestId", id, "message",
                                        strlen(line) > 4 ? line + 4 : line));
    if (!j || !(body = ce_json_dump(r->pool, j))) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "CE00003: requestId %s: status %d (from httpd)",
                  id, r->status);
    ap_custom_response(r, r->status, body);
    ap_add_output_filter_handle(error_type_filter, NULL, r, r->connection);
}

/* The raw header lines of a connection, before httpd parses them: an
 * Authorization line with a control character in its value is replaced by
 * "Authorization: " CE_AUTH_SCRUBBED. httpd would refuse the request (400)
 * and log the whole value at LogLevel debug (AH02427), before any hook of
 * ours could hide it; the API answers it 401 instead. Header lines are read
 * one at a time (AP_MODE_GETLINE); anything else passes untouched. */
static ap_filter_rec_t *scrub_filter;
static int scrub_connections;

static apr_status_t scrub_in(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                             apr_read_type_e block, apr_off_t readbytes)
{
    static const char replaced[] = "Authorization: " CE_AUTH_SCRUBBED "\r\n";
    apr_bucket *e;
    const char *data;
    apr_size_t len;
    apr_off_t total;
    char *line;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);

    /* (APR's ring macros other than APR_BRIGADE_FIRST do pointer arithmetic
     * from NULL, which UBSan reports: the brigade functions instead.) */
    if (rv != APR_SUCCESS || mode != AP_MODE_GETLINE ||
        (rv = apr_brigade_length(bb, 1, &total)) != APR_SUCCESS || total <= 0) {
        return rv;
    }
    /* The common case, cheaply: the line's first byte names another header. */
    e = APR_BRIGADE_FIRST(bb);
    if (!APR_BUCKET_IS_METADATA(e) &&
        apr_bucket_read(e, &data, &len, APR_BLOCK_READ) == APR_SUCCESS && len > 0 &&
        (data[0] | 0x20) != 'a') {
        return APR_SUCCESS;
    }
    len = (apr_size_t)total;
    line = apr_bucket_alloc(len + 1, f->c->bucket_alloc);
    if ((rv = apr_brigade_flatten(bb, line, &len)) == APR_SUCCESS &&
        ce_auth_line_has_ctl(line, len)) {
        apr_brigade_cleanup(bb);
        rv = apr_brigade_write(bb, NULL, NULL, replaced, sizeof(replaced) - 1);
    }
    apr_bucket_free(line);
    return rv;
}

void ce_request_filters_register(void)
{
    error_type_filter = ap_register_output_filter("CEINSTANCES_ERROR_TYPE", error_type_out, NULL,
                                                  AP_FTYPE_CONTENT_SET);
    scrub_filter = ap_register_input_filter("CEINSTANCES_AUTH_LINES", scrub_in, NULL,
                                            AP_FTYPE_CONNECTION);
}

void ce_request_filters_configure(server_rec *s)
{
    server_rec *sv;

    scrub_connections = 0;
    for (sv = s; sv; sv = sv->next) {
        scrub_connections |= ce_config_server_of(sv)->catalog != NULL;
    }
}

void ce_request_filters_add(conn_rec *c)
{
    if (scrub_connections) {
        ap_add_input_filter_handle(scrub_filter, NULL, NULL, c);
    }
}

/* The request's Authorization value: as hidden, or as received. */
static const char *authorization(request_rec *r)
{
    void *v = NULL;

    apr_pool_userdata_get(&v, HIDDEN_AUTH_KEY, r->pool);
    return v ? v : apr_table_get(r->headers_in, "Authorization");
}

apr_status_t ce_request_authenticate(ce_request_t *req)
{
    request_rec *r = req->r;
    ce_credentials_t creds;
    ce_user_t *user = NULL;
    const char *err = NULL;
    apr_int64_t id;
    apr_status_t rv;

    rv = ce_auth_parse(&creds, r->pool, authorization(r), &req->err);
    if (rv != APR_SUCCESS) {
        return APR_EACCES;
    }
    if ((rv = ce_request_db(req)) != APR_SUCCESS) {
        return rv;
    }
    rv = ce_store_authenticate(&user, &req->db, r->pool, creds.user_secret,
                               creds.organization_secret, &err);
    if (rv == APR_EGENERAL) {
        /* The first statement of the request failed. A pooled connection
         * whose server went away: once more, on a fresh connection; one
         * that was re-established in place (and lost its prepared
         * statements): once more after preparing them again. */
        const char *perr = NULL;
        int retry = 0;

        if (db_lost(req)) {
            ce_request_db_release(req);
            if ((rv = ce_request_db(req)) != APR_SUCCESS) {
                return rv;
            }
            retry = 1;
        }
        else if (ce_store_reprepare(&req->db, &perr) == APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          "CE00007: the database connection was re-established; "
                          "statements prepared again");
            retry = 1;
        }
        if (retry) {
            rv = ce_store_authenticate(&user, &req->db, r->pool, creds.user_secret,
                                       creds.organization_secret, &err);
        }
    }
    if (rv == APR_NOTFOUND) {
        req->err = "Invalid Organization or User secret, or not authorized";
        return APR_EACCES;
    }
    if (rv != APR_SUCCESS) {
        req->err = err; /* logged, never sent */
        return rv;
    }
    if (creds.element_token) {
        rv = ce_store_instance_by_token(&id, &req->db, r->pool, user, creds.element_token,
                                        &err);
        if (rv != APR_SUCCESS) {
            req->err = "Invalid Element token";
            return rv == APR_NOTFOUND ? APR_EACCES : rv;
        }
    }
    req->user = user;
    /* For the access log: who, by id — never a secret. */
    r->user = apr_psprintf(r->pool, "%" APR_INT64_T_FMT, user->id);
    return APR_SUCCESS;
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

    if (ct && !is_json_type(ct)) {
        req->err = "Content-Type must be application/json";
        return CE_EMEDIATYPE;
    }
    return APR_SUCCESS;
}

apr_status_t ce_request_body(json_t **pbody, ce_request_t *req)
{
    request_rec *r = req->r;
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    char *buf = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (ct && !is_json_type(ct)) {
        req->err = "Content-Type must be application/json";
        return CE_EMEDIATYPE;
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
static void settle_body(ce_request_t *req)
{
    request_rec *r = req->r;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");

    if (req->body_consumed) {
        return;
    }
    if (apr_table_get(r->headers_in, "Transfer-Encoding") ||
        (cl && apr_atoi64(cl) > ce_config_max_body(req->cfg)) || ap_discard_request_body(r) != OK) {
        r->connection->keepalive = AP_CONN_CLOSE;
    }
}

static int send_text(ce_request_t *req, int status, const char *body)
{
    request_rec *r = req->r;
    apr_size_t len = body ? strlen(body) : 0;

    ce_request_db_release(req); /* the answer is made: let the next request have it */
    settle_body(req);
    r->status = status;
    if (body) {
        ap_set_content_type(r, "application/json");
    }
    ap_set_content_length(r, len);
    if (len && !r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
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

static int http_status(apr_status_t rv)
{
    switch (rv) {
        case APR_EINVAL:
            return HTTP_BAD_REQUEST;
        case APR_EACCES:
            return HTTP_UNAUTHORIZED;
        case APR_NOTFOUND:
            return HTTP_NOT_FOUND;
        case APR_EEXIST:
            return HTTP_CONFLICT;
        case CE_ETOOLARGE:
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        case CE_EMEDIATYPE:
            return HTTP_UNSUPPORTED_MEDIA_TYPE;
        case CE_EUNAVAILABLE:
            return HTTP_SERVICE_UNAVAILABLE;
        default:
            return HTTP_INTERNAL_SERVER_ERROR;
    }
}

int ce_request_fail(ce_request_t *req, apr_status_t rv)
{
    int status = http_status(rv);

    if (status == HTTP_INTERNAL_SERVER_ERROR && db_lost(req)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, req->r, "CE00006: database connection lost: %s",
                      req->err ? req->err : "?");
        status = HTTP_SERVICE_UNAVAILABLE;
        req->err = "The database is unavailable";
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
    const char *id = ce_crypto_request_id(r->pool);
    json_t *j;

    if (!message) {
        message = status == HTTP_INTERNAL_SERVER_ERROR
                      ? "Internal server error"
                      : ap_get_status_line(status) + 4; /* "404 Not Found" → "Not Found" */
    }
    if (allow) {
        apr_table_setn(r->headers_out, "Allow", allow);
    }
    /* Status and id only: a message may quote the caller's body. */
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "CE00003: requestId %s: status %d", id, status);
    j = ce_json_bind(r->pool, json_pack("{s:s, s:s}", "requestId", id, "message", message));
    return j ? ce_request_reply(req, status, j) : send_text(req, status, NULL);
}
