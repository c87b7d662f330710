/* mod_ce_guard: credentials out of httpd's logs, httpd's errors as the
 * API's JSON (see mod_ce_guard.h). */
#include <httpd.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <util_filter.h>

#include "ce_auth.h"
#include "ce_crypto.h"
#include "ce_json.h"
#include "ce_page.h"
#include "mod_ce_config.h"
#include "mod_ce_guard.h"

APLOG_USE_MODULE(ceinstances);

/* Where the credentials of a request wait, out of r->headers_in. */
#define HIDDEN_AUTH_KEY "ceinstances:authorization"
#define HIDDEN_AUTH_TEXT "[hidden by mod_ceinstances]"

void ce_guard_hide_credentials(request_rec *r)
{
    const char *v = apr_table_get(r->headers_in, "Authorization");

    if (!v || !ce_config_server_of(r->server)->catalog) {
        return;
    }
    apr_pool_userdata_setn(v, HIDDEN_AUTH_KEY, NULL, r->pool);
    apr_table_setn(r->headers_in, "Authorization", HIDDEN_AUTH_TEXT);
}

void ce_guard_restore_credentials(request_rec *r)
{
    void *v = NULL;

    apr_pool_userdata_get(&v, HIDDEN_AUTH_KEY, r->pool);
    if (v) {
        apr_table_setn(r->headers_in, "Authorization", v);
        apr_pool_userdata_setn(NULL, HIDDEN_AUTH_KEY, NULL, r->pool);
    }
}

const char *ce_guard_authorization(request_rec *r)
{
    void *v = NULL;

    apr_pool_userdata_get(&v, HIDDEN_AUTH_KEY, r->pool);
    return v ? v : apr_table_get(r->headers_in, "Authorization");
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

const char *ce_guard_request_id(request_rec *r)
{
    const char *id = apr_table_get(r->notes, "ce-request-id");

    if (!id) {
        id = ce_crypto_request_id(r->pool);
        apr_table_setn(r->notes, "ce-request-id", id);
        apr_table_setn(r->err_headers_out, "Elements-Request-Id", id);
    }
    return id;
}

/* quoted-string (RFC 9110): '"' and '\\' escaped; a control character,
 * which the header cannot carry, becomes a space. */
static const char *quoted(apr_pool_t *p, const char *s)
{
    char *out = apr_palloc(p, strlen(s) * 2 + 3), *o = out;

    *o++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            *o++ = '\\';
        }
        *o++ = apr_iscntrl(*s) ? ' ' : *s;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

void ce_guard_challenge(request_rec *r, int status)
{
    const char *realm = ap_auth_name(r);

    if (status != HTTP_UNAUTHORIZED) {
        return;
    }
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_pstrcat(r->pool, CE_GUARD_SCHEME " realm=",
                               quoted(r->pool, realm && *realm ? realm : CE_GUARD_REALM), NULL));
}

void ce_guard_error_json(request_rec *r)
{
    const char *id = ce_guard_request_id(r), *body;
    const char *line = ap_get_status_line(r->status);
    const char *said = apr_table_get(r->notes, CE_GUARD_ERROR_NOTE);
    json_t *j = ce_json_error(r->pool, id, said ? said : strlen(line) > 4 ? line + 4 : line);

    if (!j || !(body = ce_json_dump(r->pool, j))) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "CE00003: requestId %s: status %d (from httpd)",
                  id, r->status);
    ap_custom_response(r, r->status, body);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    ce_guard_challenge(r, r->status);
    ap_add_output_filter_handle(error_type_filter, NULL, r, r->connection);
}

/* The raw header lines of a connection, before httpd parses them: an
 * Authorization line httpd would refuse and log whole, before any hook of
 * ours could hide it, is replaced (ce_auth_line_scrub): one with a control
 * character in its value (AH02427), a malformed name ("Authorization :",
 * AH02426), one longer than LimitRequestFieldSize, a folded continuation
 * of one. The API answers those 401 instead of httpd's 400. Header lines
 * are read one at a time (AP_MODE_GETLINE), in order; the filter keeps the
 * connection's place (ce_auth_lines_t). Anything else passes untouched. */
static ap_filter_rec_t *scrub_filter;
static int scrub_connections;

/* Whether the read that starts with byte b needs a look (an Authorization
 * line starts with 'a' or 'A'; a folded line with SP or HTAB). */
static int worth_a_look(const ce_auth_lines_t *st, char b)
{
    return st->partial || (b | 0x20) == 'a' || (st->in_authorization && (b == ' ' || b == '\t'));
}

/* A request line whose query carries apiSecret (GET .../oauth/url, as
 * Cloud Elements takes it), with that value masked, or NULL: masked before
 * httpd reads the line, which it logs whole at trace level before any hook
 * runs. The endpoint only checks that apiSecret is given. */
static const char *mask_request_line(apr_pool_t *p, const char *line, apr_size_t len)
{
    const char *q = memchr(line, '?', len), *end, *masked, *query;

    if (!q) {
        return NULL;
    }
    for (end = q + 1; end < line + len && *end != ' ' && *end != '\r' && *end != '\n'; end++) {
    }
    query = apr_pstrmemdup(p, q + 1, (apr_size_t)(end - q - 1));
    if ((masked = ce_page_mask_query(p, query, "apiSecret")) == query) {
        return NULL;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, line, (apr_size_t)(q + 1 - line)), masked,
                       apr_pstrmemdup(p, end, (apr_size_t)(line + len - end)), NULL);
}

static apr_status_t scrub_in(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                             apr_read_type_e block, apr_off_t readbytes)
{
    ce_auth_lines_t *st = f->ctx;
    apr_bucket *e;
    const char *data, *instead;
    apr_size_t len;
    apr_off_t total;
    char *line;
    int look = 1, request_line = 0;
    apr_pool_t *scratch;
    apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);

    /* (APR's ring macros other than APR_BRIGADE_FIRST do pointer arithmetic
     * from NULL, which UBSan reports: the brigade functions instead.) */
    if (rv != APR_SUCCESS || mode != AP_MODE_GETLINE ||
        (rv = apr_brigade_length(bb, 1, &total)) != APR_SUCCESS || total <= 0) {
        return rv;
    }
    /* The common case, cheaply: the line's first byte names another header
     * (a request line with a query to mask starts GET or POST). */
    e = APR_BRIGADE_FIRST(bb);
    if (!APR_BUCKET_IS_METADATA(e) &&
        apr_bucket_read(e, &data, &len, APR_BLOCK_READ) == APR_SUCCESS && len > 0) {
        look = worth_a_look(st, data[0]);
        /* (the whole line in one bucket and no query: nothing to mask) */
        request_line = (data[0] == 'G' || data[0] == 'P') &&
                       !((apr_off_t)len == total && !memchr(data, '?', len));
        if (!look && !request_line) {
            st->in_authorization = 0;
            return APR_SUCCESS;
        }
    }
    len = (apr_size_t)total;
    line = apr_bucket_alloc(len + 1, f->c->bucket_alloc);
    /* A scratch pool: a keep-alive connection's pool must not grow per request. */
    apr_pool_create(&scratch, f->c->pool);
    if ((rv = apr_brigade_flatten(bb, line, &len)) == APR_SUCCESS) {
        instead = request_line ? mask_request_line(scratch, line, len) : NULL;
        if (!instead && look) {
            instead = ce_auth_line_scrub(st, line, len);
        } else if (!instead) {
            st->in_authorization = 0;
        }
        if (instead) {
            apr_brigade_cleanup(bb);
            rv = apr_brigade_write(bb, NULL, NULL, instead, strlen(instead));
        }
    }
    apr_pool_destroy(scratch);
    apr_bucket_free(line);
    return rv;
}

void ce_guard_filters_register(void)
{
    error_type_filter = ap_register_output_filter("CEINSTANCES_ERROR_TYPE", error_type_out, NULL,
                                                  AP_FTYPE_CONTENT_SET);
    scrub_filter =
        ap_register_input_filter("CEINSTANCES_AUTH_LINES", scrub_in, NULL, AP_FTYPE_CONNECTION);
}

void ce_guard_filters_configure(server_rec *s)
{
    server_rec *sv;

    scrub_connections = 0;
    for (sv = s; sv; sv = sv->next) {
        scrub_connections |= ce_config_server_of(sv)->catalog != NULL;
    }
}

void ce_guard_filters_add(conn_rec *c)
{
    if (scrub_connections) {
        ap_add_input_filter_handle(scrub_filter, apr_pcalloc(c->pool, sizeof(ce_auth_lines_t)),
                                   NULL, c);
    }
}
