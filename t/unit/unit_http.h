/* unit_http.h: a canned provider for the unit suites of the OAuth code: a
 * ce_http transport of the test's own that gives one set answer (or
 * failure) and records what it was asked. Include after unit.h. */
#ifndef CE_UNIT_HTTP_H
#define CE_UNIT_HTTP_H

#include <string.h>
#include "ce_http.h"

typedef struct {
    int status;
    const char *answer;
    apr_status_t fail;      /* returned instead of an answer, when set */
    const char *url, *body; /* the last request's */
    const char *headers;    /* its extra header lines, each ending in "\n" */
    int asked;              /* requests so far */
} canned_t;

static apr_status_t canned_perform(ce_http_t *h, apr_pool_t *p, const ce_http_request_t *rq,
                                   ce_http_response_t *rs, const char **perr)
{
    canned_t *c = h->baton;

    c->asked++;
    c->url = apr_pstrdup(p, rq->url);
    c->body = apr_pstrmemdup(p, rq->body, rq->body_len);
    c->headers = "";
    for (const char *const *l = rq->headers; l && *l; l++) {
        c->headers = apr_pstrcat(p, c->headers, *l, "\n", NULL);
    }
    if (c->fail) {
        *perr = "canned failure";
        return c->fail;
    }
    rs->status = c->status;
    rs->body = c->answer;
    rs->len = strlen(c->answer);
    return APR_SUCCESS;
}

/* A transport (in the test's pool) answering from c, behind a guard that
 * allows nothing but public https (the canned answers never connect). */
static inline ce_http_t *transport(canned_t *c)
{
    ce_http_t *h = apr_pcalloc(pool, sizeof(*h));
    apr_array_header_t *none = apr_array_make(pool, 1, sizeof(const char *));
    ce_outbound_t *o = NULL;
    const char *err = NULL;

    ck_assert_int_eq(ce_outbound_make(&o, pool, none, &err), APR_SUCCESS);
    h->perform = canned_perform;
    h->guard = o;
    h->baton = c;
    return h;
}

#endif
