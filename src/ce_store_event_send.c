/* ce_store_event_send: delivering the outbox (issue 14). A background job
 * asks for the events due, and sends each one it can claim: the claim is a
 * lease in the event's row, so one node at a time sends a given event; no
 * transaction is open while the receiver is asked; the outcome is kept
 * only while the lease is still the sender's (a sender that took too long
 * loses it, and another sends the event again: delivery is at least once,
 * receivers drop duplicates by Elements-Webhook-Id). */
#include <string.h>
#include <apr_strings.h>
#include <openssl/rand.h>

#include "ce_event.h"
#include "ce_store_int.h"

const ce_store_statement_t ce_store_event_send_statements[] = {
    {"ce_select_events_due", "SELECT id FROM ce_event WHERE due > 0 AND due <= %lld "
                             "AND lease <= %lld ORDER BY due LIMIT %d"},
    {"ce_claim_event", "UPDATE ce_event SET lease = %lld WHERE id = %lld AND due > 0 "
                       "AND due <= %lld AND lease <= %lld"},
    {"ce_select_event_outbound",
     "SELECT event_id, body, callback_url, signature_key, attempts, instance_id FROM ce_event "
     "WHERE id = %lld"},
    {"ce_keep_event_outcome",
     "UPDATE ce_event SET status = %s, attempts = attempts + 1, last_error = %s, due = %lld, "
     "lease = 0 WHERE id = %lld AND lease = %lld"},
    /* oldest first, by id (the order they were recorded in), a batch at a
     * time: no index on created for every write to keep */
    {"ce_prune_events", "DELETE FROM ce_event WHERE id IN (SELECT id FROM ce_event "
                        "ORDER BY id LIMIT 500) AND created < %lld"},
    {NULL, NULL}};

static apr_int64_t now_ms(void)
{
    return apr_time_as_msec(apr_time_now());
}

apr_status_t ce_store_event_due(apr_array_header_t **pids, ce_db_t *db, apr_pool_t *p, int limit,
                                const char **perr)
{
    apr_int64_t now = now_ms();
    const void *args[3] = {&now, &now, &limit};
    apr_array_header_t *rows;
    apr_status_t rv = ce_store_fetch(&rows, db, p, "ce_select_events_due", args, perr);
    int i;

    *pids = apr_array_make(p, rows ? rows->nelts : 0, sizeof(apr_int64_t));
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        APR_ARRAY_PUSH(*pids, apr_int64_t) =
            apr_atoi64(ce_store_or_empty(APR_ARRAY_IDX(rows, i, const char **)[0]));
    }
    return rv;
}

/* One write statement in a transaction of its own (queued behind other
 * writers); *pnrows its rows. */
static apr_status_t write_one(int *pnrows, ce_db_t *db, apr_pool_t *p, const char *label,
                              const void **args, const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv = ce_store_tx_start(&tx, db, p, perr);

    *pnrows = 0;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = ce_store_run(pnrows, db, p, label, args, perr);
    return ce_store_tx_end(tx, db, p, rv, perr);
}

/* An event claimed: its row and lease, and what is sent: its id and
 * body, where, signed with what (unreadable: it does not open). */
struct ce_event_outbound_t {
    apr_int64_t id, lease;
    const char *event_id, *body, *url, *key;
    apr_size_t len;
    int attempts;
    int unreadable;
};

/* A column sealed by ce_store_event_record, opened; "" (none) stays "". */
static apr_status_t open_text(const char **pplain, apr_pool_t *p, const ce_db_t *db,
                              ce_sealed_t which, const char *sealed)
{
    apr_size_t n;

    *pplain = "";
    return sealed && *sealed ? ce_store_open(pplain, &n, p, db->keys, which, sealed) : APR_SUCCESS;
}

static apr_status_t read_outbound(ce_event_outbound_t *o, ce_db_t *db, apr_pool_t *p,
                                  apr_int64_t id, const char **perr)
{
    const void *args[1] = {&id};
    const char **row;
    apr_status_t rv = ce_store_fetch_one(&row, db, p, "ce_select_event_outbound", args, perr);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    o->event_id = apr_pstrdup(p, ce_store_or_empty(row[0]));
    o->attempts = atoi(ce_store_or_empty(row[4]));
    if (ce_store_open(&o->body, &o->len, p, db->keys, CE_SEALED_EVENT_BODY, row[1]) !=
            APR_SUCCESS ||
        open_text(&o->url, p, db, CE_SEALED_EVENT_CALLBACK, row[2]) != APR_SUCCESS ||
        open_text(&o->key, p, db, CE_SEALED_EVENT_SIGNATURE_KEY, row[3]) != APR_SUCCESS ||
        !*o->url) {
        return CE_STORE_EUNREADABLE;
    }
    o->body = ce_event_fill_id(p, o->body, o->len, apr_atoi64(ce_store_or_empty(row[5])), &o->len);
    return APR_SUCCESS;
}

/* Sends o; *pwhy: why it failed (NULL when delivered). */
static int post(const char **pwhy, ce_http_t *h, apr_pool_t *p, const ce_event_outbound_t *o)
{
    ce_http_request_t rq;
    ce_http_response_t rs;
    const char *headers[3] = {NULL, NULL, NULL}, *sig;
    apr_status_t rv;

    memset(&rq, 0, sizeof(rq));
    rq.method = "POST";
    rq.url = o->url;
    rq.content_type = "application/json";
    rq.body = o->body;
    rq.body_len = o->len;
    rq.headers = headers;
    headers[0] = apr_pstrcat(p, "Elements-Webhook-Id: ", o->event_id, NULL);
    if (*o->key) {
        if (!(sig = ce_event_signature(p, o->key, o->body, o->len))) {
            *pwhy = "the signature could not be made";
            return 0;
        }
        headers[1] = apr_pstrcat(p, "Elements-Webhook-Signature: ", sig, NULL);
    }
    if ((rv = ce_http_perform(h, p, &rq, &rs, pwhy)) != APR_SUCCESS) {
        return 0;
    }
    if (rs.status < 200 || rs.status > 299) {
        *pwhy = apr_psprintf(p, "the receiver answered %d", rs.status);
        return 0;
    }
    *pwhy = NULL;
    return 1;
}

static double jitter(void)
{
    unsigned int r = 0;

    return RAND_bytes((unsigned char *)&r, sizeof(r)) == 1 ? (double)r / 4294967296.0 : 0.5;
}

/* The outcome of attempt o->attempts + 1, kept if the lease is still ours. */
static apr_status_t keep_outcome(ce_event_sent_t *out, ce_db_t *db, apr_pool_t *p, apr_int64_t id,
                                 apr_int64_t lease, const ce_event_outbound_t *o,
                                 const ce_event_policy_t *pol, const char **perr)
{
    int attempts = o->attempts + 1, nrows = 0;
    apr_int64_t due = 0;
    const char *status = "DELIVERED";
    const void *args[5];
    apr_status_t rv;

    if (out->why) {
        status = attempts >= pol->max_attempts ? "FAILED" : "RETRYING";
        if (attempts < pol->max_attempts) {
            due =
                now_ms() + apr_time_as_msec(ce_event_backoff(attempts, pol->retry_base, jitter()));
        }
    }
    args[0] = status;
    args[1] = out->why ? out->why : "";
    args[2] = &due;
    args[3] = &id;
    args[4] = &lease;
    rv = write_one(&nrows, db, p, "ce_keep_event_outcome", args, perr);
    out->status = nrows ? status : NULL; /* NULL: the lease was lost meanwhile */
    out->attempts = attempts;
    return rv;
}

apr_status_t ce_store_event_claim(ce_event_outbound_t **po, ce_db_t *db, apr_pool_t *p,
                                  apr_int64_t id, const ce_event_policy_t *pol, const char **perr)
{
    apr_int64_t now = now_ms(), lease = now + apr_time_as_msec(pol->lease);
    const void *claim[4] = {&lease, &id, &now, &now};
    ce_event_outbound_t *o;
    int nrows = 0;
    apr_status_t rv = write_one(&nrows, db, p, "ce_claim_event", claim, perr);

    *po = NULL;
    if (rv != APR_SUCCESS || nrows == 0) {
        return rv; /* another sender has it, or it is no longer due */
    }
    o = apr_pcalloc(p, sizeof(*o));
    o->id = id;
    o->lease = lease;
    if ((rv = read_outbound(o, db, p, id, perr)) == CE_STORE_EUNREADABLE) {
        o->unreadable = 1; /* it cannot be sent, ever: given up at once */
        o->attempts = pol->max_attempts;
    } else if (rv != APR_SUCCESS) {
        return rv;
    }
    *po = o;
    return APR_SUCCESS;
}

void ce_store_event_post(ce_event_sent_t *out, ce_http_t *h, apr_pool_t *p,
                         const ce_event_outbound_t *o)
{
    memset(out, 0, sizeof(*out));
    if (o->unreadable) {
        out->why = "the stored event does not open (tampered, or another key)";
        return;
    }
    out->event_id = o->event_id;
    post(&out->why, h, p, o);
}

apr_status_t ce_store_event_keep(ce_event_sent_t *out, ce_db_t *db, apr_pool_t *p,
                                 const ce_event_outbound_t *o, const ce_event_policy_t *pol,
                                 const char **perr)
{
    return keep_outcome(out, db, p, o->id, o->lease, o, pol, perr);
}

apr_status_t ce_store_event_send(ce_event_sent_t *out, ce_db_t *db, ce_http_t *h, apr_pool_t *p,
                                 apr_int64_t id, const ce_event_policy_t *pol, const char **perr)
{
    ce_event_outbound_t *o = NULL;
    apr_status_t rv = ce_store_event_claim(&o, db, p, id, pol, perr);

    memset(out, 0, sizeof(*out));
    if (rv != APR_SUCCESS || !o) {
        return rv;
    }
    ce_store_event_post(out, h, p, o);
    return ce_store_event_keep(out, db, p, o, pol, perr);
}

apr_status_t ce_store_event_prune(int *pn, ce_db_t *db, apr_pool_t *p, apr_int64_t before_ms,
                                  const char **perr)
{
    const void *args[1] = {&before_ms};
    apr_status_t rv;
    int n = 0, rounds = 0;

    /* Batches of the oldest 500 until one removes fewer (an event recorded
     * late by a node whose clock is behind waits for the next pass). */
    *pn = 0;
    do {
        rv = write_one(&n, db, p, "ce_prune_events", args, perr);
        *pn += n;
    } while (rv == APR_SUCCESS && n == 500 && ++rounds < 100);
    return rv;
}
