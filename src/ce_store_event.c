/* ce_store_event: the event log and outbox (issue 14). Every write of an
 * instance records its event in its own transaction (ce_store_instance.c
 * calls ce_store_event_record), so an acknowledged change always has its
 * event and a rolled-back one never has. The log is read a page at a time,
 * newest first, by the event's row id. The signature key an event is to be
 * signed with is kept with it, sealed: a deleted instance's last events
 * are still delivered. */
#include <string.h>
#include <apr_strings.h>

#include "ce_crypto.h"
#include "ce_event.h"
#include "ce_json.h"
#include "ce_store_int.h"

#define EVENT_COLUMNS "id, event_id, instance_id, event_type, body, status, attempts, last_error"
enum { EC_ID, EC_EVENT_ID, EC_INSTANCE, EC_TYPE, EC_BODY, EC_STATUS, EC_ATTEMPTS, EC_ERROR };

const ce_store_statement_t ce_store_event_statements[] = {
    {"ce_insert_event",
     "INSERT INTO ce_event (event_id, user_id, instance_id, event_type, event_date, body, "
     "callback_url, signature_key, status, due, created) "
     "VALUES (%s, %lld, %lld, %s, %s, %s, %s, %s, %s, %lld, %lld)"},
    {"ce_select_events", "SELECT " EVENT_COLUMNS " FROM ce_event WHERE user_id = %lld "
                         "AND id < %lld ORDER BY id DESC LIMIT %d"},
    {"ce_select_instance_events",
     "SELECT " EVENT_COLUMNS " FROM ce_event WHERE user_id = %lld AND instance_id = %lld "
     "AND id < %lld ORDER BY id DESC LIMIT %d"},
    {"ce_select_event",
     "SELECT " EVENT_COLUMNS " FROM ce_event WHERE user_id = %lld AND event_id = %s"},
    {"ce_redeliver_event",
     "UPDATE ce_event SET status = 'PENDING', due = %lld, attempts = 0, last_error = '', "
     "lease = 0 WHERE user_id = %lld AND event_id = %s AND status = 'FAILED'"},
    {NULL, NULL}};

/* A fresh event id, in p: a UUID of version 7 (RFC 9562), the creation
 * time in milliseconds, its fraction of a millisecond in the next 12 bits
 * (the RFC's method 3: events made one after the other, even within one
 * millisecond, sort as they were made), then 62 random bits.
 * Time-ordered, so that new ids go to the end of the event_id index, whose
 * last page a batch of creates shares, instead of a random page each (a
 * version 4 id dirtied, and read back, a page of that index per event).
 * The time is no secret: the event says its date. */
static const char *new_event_id(apr_pool_t *p)
{
    const char *hex = ce_crypto_random_id(p); /* 32 random hex digits */
    apr_time_t now = apr_time_now();
    apr_uint64_t ms = (apr_uint64_t)apr_time_as_msec(now) & APR_UINT64_C(0xffffffffffff);
    unsigned frac = (unsigned)((apr_uint64_t)now % 1000 * 4096 / 1000);

    if (!hex || strlen(hex) != 32) {
        return NULL;
    }
    return apr_psprintf(
        p, "%08" APR_UINT64_T_HEX_FMT "-%04" APR_UINT64_T_HEX_FMT "-7%03x-%c%.3s-%.12s", ms >> 16,
        ms & 0xffff, frac, "89ab"[hex[16] % 4], hex + 17, hex + 20);
}

static apr_int64_t now_ms(void)
{
    return apr_time_as_msec(apr_time_now());
}

/* s sealed as column which, in p; "" stays "" (nothing to hide: no
 * callback, no key; rekey and verify pass over it). NULL on failure. */
static const char *seal_text(apr_pool_t *p, const ce_db_t *db, ce_sealed_t which, const char *s)
{
    return s && *s ? ce_store_seal(p, db->keys, which, s, strlen(s)) : "";
}

apr_status_t ce_store_event_prepare(ce_store_event_prep_t *e, const ce_db_t *db, apr_pool_t *p,
                                    ce_event_type_t type, const ce_instance_t *inst,
                                    const char **perr)
{
    const char *url = NULL, *key, *body;

    memset(e, 0, sizeof(*e));
    if ((e->type = type) == CE_EVENT_NONE) {
        return APR_SUCCESS;
    }
    e->event_id = new_event_id(p);
    e->date = ce_instance_now(p);
    e->user_id = inst->user->id;
    e->created = now_ms();
    body = e->event_id ? ce_event_text(p, e->event_id, type, e->date, inst) : NULL;
    key = json_string_value(json_object_get(inst->configuration, CE_EVENT_SIGNATURE_KEY));
    e->key = seal_text(p, db, CE_SEALED_EVENT_SIGNATURE_KEY, key);
    e->status = ce_event_wanted(inst, &url) ? "PENDING" : "DISABLED";
    e->due = url ? e->created : 0;
    e->url = seal_text(p, db, CE_SEALED_EVENT_CALLBACK, url);
    e->body = body ? ce_store_seal(p, db->keys, CE_SEALED_EVENT_BODY, body, strlen(body)) : NULL;
    if (!e->body || !e->key || !e->url) {
        *perr = "Could not record the instance's event";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t ce_store_event_insert(ce_db_t *db, apr_pool_t *p, const ce_store_event_prep_t *e,
                                   apr_int64_t instance_id, const char **perr)
{
    const void *args[11] = {e->event_id, &e->user_id, &instance_id, ce_event_type_name(e->type),
                            e->date,     e->body,     e->url,       e->key,
                            e->status,   &e->due,     &e->created};
    int nrows = 0;

    if (e->type == CE_EVENT_NONE) {
        return APR_SUCCESS;
    }
    return ce_store_run(&nrows, db, p, "ce_insert_event", args, perr);
}

apr_status_t ce_store_event_record(ce_db_t *db, apr_pool_t *p, ce_event_type_t type,
                                   const ce_instance_t *inst, const char **perr)
{
    ce_store_event_prep_t e;
    apr_status_t rv = ce_store_event_prepare(&e, db, p, type, inst, perr);

    return rv == APR_SUCCESS ? ce_store_event_insert(db, p, &e, inst->id, perr) : rv;
}

static ce_event_row_t *event_of_row(const ce_db_t *db, apr_pool_t *p, const char **row)
{
    ce_event_row_t *ev = apr_pcalloc(p, sizeof(*ev));
    const char *body;
    apr_size_t len;

    ev->id = apr_atoi64(ce_store_or_empty(row[EC_ID]));
    ev->event_id = apr_pstrdup(p, ce_store_or_empty(row[EC_EVENT_ID]));
    ev->instance_id = apr_atoi64(ce_store_or_empty(row[EC_INSTANCE]));
    ev->event_type = apr_pstrdup(p, ce_store_or_empty(row[EC_TYPE]));
    ev->status = apr_pstrdup(p, ce_store_or_empty(row[EC_STATUS]));
    ev->attempts = atoi(ce_store_or_empty(row[EC_ATTEMPTS]));
    ev->last_error = apr_pstrdup(p, ce_store_or_empty(row[EC_ERROR]));
    if (ce_store_open(&body, &len, p, db->keys, CE_SEALED_EVENT_BODY, row[EC_BODY]) !=
            APR_SUCCESS ||
        ce_store_json_column(&ev->body, p, ce_event_fill_id(p, body, len, ev->instance_id, &len),
                             JSON_OBJECT) != APR_SUCCESS) {
        return NULL;
    }
    return ev;
}

/* rows (of EVENT_COLUMNS) as ce_event_row_t * in *pevents. */
static apr_status_t events_of_rows(apr_array_header_t **pevents, const ce_db_t *db, apr_pool_t *p,
                                   const apr_array_header_t *rows, const char **perr)
{
    int i;

    *pevents = apr_array_make(p, rows->nelts, sizeof(ce_event_row_t *));
    for (i = 0; i < rows->nelts; i++) {
        ce_event_row_t *ev = event_of_row(db, p, APR_ARRAY_IDX(rows, i, const char **));

        if (!ev) {
            *perr = "A stored event does not open (tampered, or another key)";
            return APR_EGENERAL;
        }
        APR_ARRAY_PUSH(*pevents, ce_event_row_t *) = ev;
    }
    return APR_SUCCESS;
}

apr_status_t ce_store_event_list(apr_array_header_t **pevents, int *pmore, ce_db_t *db,
                                 apr_pool_t *p, const ce_user_t *owner, apr_int64_t instance_id,
                                 apr_int64_t before, int limit, const char **perr)
{
    apr_array_header_t *rows;
    apr_int64_t below = before > 0 ? before : APR_INT64_MAX;
    int ask = limit + 1; /* one more: is there a next page? */
    const void *all[3] = {&owner->id, &below, &ask};
    const void *one[4] = {&owner->id, &instance_id, &below, &ask};
    apr_status_t rv = instance_id
                          ? ce_store_fetch(&rows, db, p, "ce_select_instance_events", one, perr)
                          : ce_store_fetch(&rows, db, p, "ce_select_events", all, perr);

    *pmore = 0;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (rows->nelts > limit) {
        *pmore = 1;
        rows->nelts = limit;
    }
    return events_of_rows(pevents, db, p, rows, perr);
}

apr_status_t ce_store_event_get(ce_event_row_t **pev, ce_db_t *db, apr_pool_t *p,
                                const ce_user_t *owner, const char *event_id, const char **perr)
{
    const char **row;
    const void *args[2] = {&owner->id, event_id};
    apr_status_t rv = ce_store_fetch_one(&row, db, p, "ce_select_event", args, perr);

    *pev = NULL;
    if (rv == APR_NOTFOUND) {
        *perr = "Event not found";
    }
    if (rv == APR_SUCCESS && !(*pev = event_of_row(db, p, row))) {
        *perr = "A stored event does not open (tampered, or another key)";
        rv = APR_EGENERAL;
    }
    return rv;
}

apr_status_t ce_store_event_redeliver(ce_event_row_t **pev, ce_db_t *db, apr_pool_t *p,
                                      const ce_user_t *owner, const char *event_id,
                                      const char **perr)
{
    apr_int64_t due = now_ms();
    const void *args[3] = {&due, &owner->id, event_id};
    apr_dbd_transaction_t *tx;
    apr_status_t rv;
    int nrows = 0;

    if ((rv = ce_store_event_get(pev, db, p, owner, event_id, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (strcmp((*pev)->status, "FAILED") != 0) {
        *perr = apr_psprintf(p, "Only a FAILED event can be sent again; this one is %s",
                             (*pev)->status);
        return APR_EEXIST;
    }
    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = ce_store_run(&nrows, db, p, "ce_redeliver_event", args, perr);
    if (rv == APR_SUCCESS && nrows == 0) {
        *perr = "The event changed meanwhile; read it again";
        rv = APR_EEXIST;
    }
    if ((rv = ce_store_tx_end(tx, db, p, rv, perr)) != APR_SUCCESS) {
        return rv;
    }
    return ce_store_event_get(pev, db, p, owner, event_id, perr);
}
