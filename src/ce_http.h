/* ce_http: outbound HTTP requests, as the core sees them (a small
 * interface, as mod_md's md_http.h). One implementation sends them with
 * libcurl (ce_http_curl.c); unit tests give canned answers through the same
 * interface, so the OAuth logic above it is tested without a network.
 *
 * Core unit: no httpd headers. Every request goes through the destination
 * guard (ce_outbound): the URL before anything is sent, every address
 * before it is connected to. Redirects are never followed, answers are
 * bounded in size, every request in time.
 */
#ifndef CE_HTTP_H
#define CE_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ce_outbound.h"

/* Largest answer body read from a provider (bigger ones fail). */
#define CE_HTTP_BODY_MAX (256 * 1024)

/* An outbound request failed before an answer came: the URL or the
 * address was refused by the guard (CE_HTTP_REFUSED), or the peer could
 * not be reached, timed out, or sent something unreadable or too large
 * (CE_HTTP_UNREACHABLE). *perr says which, naming the host, never the
 * query or the body. */
#define CE_HTTP_REFUSED (APR_OS_START_USERERR + 2411)
#define CE_HTTP_UNREACHABLE (APR_OS_START_USERERR + 2412)

typedef struct {
    const char *method;       /* "POST", "GET" */
    const char *url;          /* absolute http(s) URL */
    const char *content_type; /* of body, or NULL */
    const char *body;         /* or NULL */
    apr_size_t body_len;
    const char *accept; /* Accept header, or NULL */
    /* More header lines ("Name: value"), NULL-terminated, or NULL. No
     * CR or LF in them (the caller's to ensure). */
    const char *const *headers;
} ce_http_request_t;

typedef struct {
    int status;               /* HTTP status */
    const char *content_type; /* or NULL */
    const char *body;         /* NUL-terminated, in the caller's pool */
    apr_size_t len;
} ce_http_response_t;

typedef struct ce_http_t ce_http_t;

/* Sends rq and reads its answer into *rs (in p). APR_SUCCESS whatever the
 * status; CE_HTTP_REFUSED / CE_HTTP_UNREACHABLE with *perr otherwise. */
typedef apr_status_t ce_http_perform_fn(ce_http_t *h, apr_pool_t *p, const ce_http_request_t *rq,
                                        ce_http_response_t *rs, const char **perr);

struct ce_http_t {
    ce_http_perform_fn *perform;
    const ce_outbound_t *guard;  /* checked by every implementation */
    apr_interval_time_t timeout; /* whole request, connect included */
    void *baton;                 /* the implementation's */
};

/* Sends rq through h (h->perform), after checking the URL with the guard. */
apr_status_t ce_http_perform(ce_http_t *h, apr_pool_t *p, const ce_http_request_t *rq,
                             ce_http_response_t *rs, const char **perr);

/* libcurl's (ce_http_curl.c). ce_http_curl_global_init once per process
 * before any thread starts (not thread-safe, as libcurl says); the
 * transport lives in p, and each request uses its own easy handle, so one
 * transport serves all threads. */
apr_status_t ce_http_curl_global_init(const char **perr);
ce_http_t *ce_http_curl_make(apr_pool_t *p, const ce_outbound_t *guard,
                             apr_interval_time_t timeout);

#endif
