/* ce_http_curl: ce_http's transport on libcurl's easy interface, one easy
 * handle per request (the transport itself is shared by all threads).
 *
 * The destination guard runs twice: ce_http_perform checks the URL, and
 * CURLOPT_OPENSOCKETFUNCTION checks every address libcurl is about to
 * connect to, after DNS, so a public name resolving to a private address
 * is refused too. Redirects are not followed, only http and https are
 * spoken, proxies from the environment are ignored (the guard must see the
 * real peer), and the answer is bounded (CE_HTTP_BODY_MAX) and timed
 * (ce_http_t.timeout for the whole request).
 */
#include <netdb.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <apr_strings.h>
#include <apr_uri.h>
#include <curl/curl.h>

#include "ce_http.h"

typedef struct {
    ce_http_t *h;
    apr_pool_t *p;
    int https;
    const char *refused; /* the guard's message, when it refused an address */
    char *buf;           /* the answer body */
    apr_size_t len, cap;
    int too_large;
} curl_call_t;

static curl_socket_t open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *a)
{
    curl_call_t *c = data;
    char ip[NI_MAXHOST];
    const char *err = NULL;

    if (purpose != CURLSOCKTYPE_IPCXN ||
        getnameinfo(&a->addr, a->addrlen, ip, sizeof(ip), NULL, 0, NI_NUMERICHOST) != 0) {
        c->refused = "an address that could not be read";
        return CURL_SOCKET_BAD;
    }
    if (ce_outbound_check_address(c->h->guard, c->p, ip, c->https, &err) != APR_SUCCESS) {
        c->refused = err;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static size_t write_body(char *data, size_t size, size_t n, void *baton)
{
    curl_call_t *c = baton;
    apr_size_t len = size * n;

    if (len > CE_HTTP_BODY_MAX - c->len) {
        c->too_large = 1;
        return 0; /* libcurl aborts with CURLE_WRITE_ERROR */
    }
    if (c->len + len + 1 > c->cap) {
        apr_size_t cap = c->cap ? c->cap : 4096;
        char *nb;

        while (cap < c->len + len + 1)
            cap *= 2;
        nb = apr_palloc(c->p, cap);
        if (c->len)
            memcpy(nb, c->buf, c->len);
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, len);
    c->len += len;
    c->buf[c->len] = '\0';
    return len;
}

static struct curl_slist *headers_of(const ce_http_request_t *rq, apr_pool_t *p)
{
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");

    const char *const *h;

    if (l && rq->content_type)
        l = curl_slist_append(l, apr_pstrcat(p, "Content-Type: ", rq->content_type, NULL));
    if (l && rq->accept)
        l = curl_slist_append(l, apr_pstrcat(p, "Accept: ", rq->accept, NULL));
    for (h = rq->headers; l && h && *h; h++) {
        l = curl_slist_append(l, *h);
    }
    return l;
}

static void set_options(CURL *e, curl_call_t *c, const ce_http_request_t *rq,
                        struct curl_slist *hdrs)
{
    long ms = (long)apr_time_as_msec(c->h->timeout);

    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "mod_ceinstances");
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    if (rq->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body);
    }
    if (rq->method)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
}

/* The host of url, for messages (never its query). */
static const char *host_of(apr_pool_t *p, const char *url)
{
    apr_uri_t u;

    if (apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.hostname)
        return "?";
    return u.hostname;
}

static apr_status_t failed(curl_call_t *c, CURLcode rc, const char *url, const char **perr)
{
    const char *host = host_of(c->p, url);

    if (c->refused) {
        *perr = apr_psprintf(c->p, "outbound request to %s refused: %s", host, c->refused);
        return CE_HTTP_REFUSED;
    }
    if (c->too_large)
        *perr = apr_psprintf(c->p, "the answer from %s is larger than %d bytes", host,
                             CE_HTTP_BODY_MAX);
    else
        *perr = apr_psprintf(c->p, "no answer from %s: %s", host, curl_easy_strerror(rc));
    return CE_HTTP_UNREACHABLE;
}

static apr_status_t curl_perform(ce_http_t *h, apr_pool_t *p, const ce_http_request_t *rq,
                                 ce_http_response_t *rs, const char **perr)
{
    curl_call_t c = {.h = h, .p = p};
    struct curl_slist *hdrs;
    CURL *e;
    CURLcode rc;
    long status = 0;
    char *ct = NULL;
    apr_status_t rv = APR_SUCCESS;

    c.https = !strncasecmp(rq->url, "https:", 6);
    e = curl_easy_init();
    hdrs = headers_of(rq, p);
    if (!e || !hdrs) {
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(e);
        *perr = "out of memory for an outbound request";
        return APR_ENOMEM;
    }
    set_options(e, &c, rq, hdrs);
    rc = curl_easy_perform(e);
    if (rc != CURLE_OK) {
        rv = failed(&c, rc, rq->url, perr);
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
        rs->status = (int)status;
        rs->content_type = ct ? apr_pstrdup(p, ct) : NULL;
        rs->body = c.buf ? c.buf : "";
        rs->len = c.len;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(e);
    return rv;
}

apr_status_t ce_http_curl_global_init(const char **perr)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        *perr = "libcurl could not be initialised";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

ce_http_t *ce_http_curl_make(apr_pool_t *p, const ce_outbound_t *guard, apr_interval_time_t timeout)
{
    ce_http_t *h = apr_pcalloc(p, sizeof(*h));

    h->perform = curl_perform;
    h->guard = guard;
    h->timeout = timeout;
    return h;
}
