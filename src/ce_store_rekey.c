/* ce_store_rekey: online key rotation and verification. Every sealed
 * value of every registered column (ce_store_seal.c) is visited in
 * batches of rows: verify opens each; rekey re-seals, under the key file's
 * encryption key, those another key sealed, one short transaction per
 * batch with the rows locked, so servers keep reading and writing between
 * batches and a row a server changes meanwhile is read again under the
 * lock, never overwritten with an older value. A row's revision (ETag) is
 * left alone: its content does not change.
 */
#include <string.h>
#include <apr_strings.h>

#include "ce_json.h"
#include "ce_store_int.h"

/* Passes over everything at most (each after the first finds only what
 * servers still sealing with an older key wrote meanwhile). */
#define MAX_PASSES 10

typedef struct {
    ce_store_rekey_report_t *report;
    ce_db_t *db;
    int reseal;      /* rekey; 0: verify */
    int changed;     /* the current value was re-sealed */
    apr_pool_t *out; /* where the report lives */
} walk_t;

/* Counts sealed under its key: the key id read in p (the batch's), kept
 * in the report's pool only the first time a key is seen. */
static void count_key(walk_t *w, apr_pool_t *p, const char *sealed)
{
    const char *kid = ce_crypto_sealed_kid(p, sealed);
    apr_int64_t *n;

    if (!kid) {
        return;
    }
    if (!(n = apr_hash_get(w->report->by_key, kid, APR_HASH_KEY_STRING))) {
        n = apr_pcalloc(w->out, sizeof(*n));
        apr_hash_set(w->report->by_key, apr_pstrdup(w->out, kid), APR_HASH_KEY_STRING, n);
    }
    (*n)++;
    w->report->values++;
}

static void unreadable(walk_t *w, const ce_sealed_column_t *c, const char *id, const char *what)
{
    APR_ARRAY_PUSH(w->report->unreadable, const char *) =
        c->key ? apr_psprintf(w->out, "%s %s: %s", c->noun, id, what)
               : apr_psprintf(w->out, "%s: %s", c->noun, what);
}

/* A TEXT value: the value to store instead, or NULL to leave it. */
static const char *walk_text(walk_t *w, apr_pool_t *p, const ce_sealed_column_t *c, const char *id,
                             const char *value)
{
    const char *plain;
    apr_size_t len;

    if (!ce_crypto_is_sealed(value)) {
        return NULL; /* NULL or empty: nothing sealed */
    }
    count_key(w, p, value);
    if (ce_crypto_open(&plain, &len, p, w->db->keys, c->aad, value) != APR_SUCCESS) {
        unreadable(w, c, id, c->column);
        return NULL;
    }
    if (!w->reseal || ce_crypto_sealed_current(w->db->keys, value)) {
        return NULL;
    }
    return ce_crypto_seal(p, w->db->keys, c->aad, plain, len);
}

/* A CONFIG value: the text to store instead, or NULL to leave it. */
static const char *walk_config(walk_t *w, apr_pool_t *p, const ce_sealed_column_t *c,
                               const char *id, const char *value)
{
    const char *key, *plain, *sealed, *err;
    json_t *cfg, *v, *again;
    apr_size_t len;
    int changed = 0;

    if (!value || ce_json_parse(&cfg, p, value, strlen(value), &err) != APR_SUCCESS ||
        !json_is_object(cfg)) {
        return NULL;
    }
    json_object_foreach(cfg, key, v)
    {
        if (!(sealed = ce_store_entry_sealed(v))) {
            continue;
        }
        count_key(w, p, sealed);
        if (ce_store_open_entry(&plain, &len, p, w->db->keys, key, v) != APR_SUCCESS) {
            unreadable(w, c, id, apr_psprintf(p, "configuration entry %s", key));
            continue;
        }
        if (w->reseal && !ce_crypto_sealed_current(w->db->keys, sealed) &&
            (again = ce_store_seal_entry(p, w->db->keys, key, plain, len)) != NULL) {
            json_object_set_new(cfg, key, again);
            changed = 1;
        }
    }
    return changed ? ce_json_dump(p, cfg) : NULL;
}

/* One batch of column c: rows whose key is past *plast (all rows of a
 * one-row table), at most batch; *pn = rows read. In a transaction of its
 * own when re-sealing. */
static apr_status_t walk_batch(walk_t *w, apr_pool_t *p, const ce_sealed_column_t *c,
                               apr_int64_t *plast, int batch, int *pn, const char **perr)
{
    const ce_store_dialect_t *d = ce_store_dialect(w->db->driver);
    apr_dbd_transaction_t *tx = NULL;
    apr_array_header_t *rows;
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (w->reseal && (rv = ce_store_tx_start(&tx, w->db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = ce_store_select(&rows, w->db, p,
                         c->key ? apr_psprintf(p,
                                               "SELECT %s, %s FROM %s WHERE %s > %" APR_INT64_T_FMT
                                               " ORDER BY %s LIMIT %d%s",
                                               c->key, c->column, c->table, c->key, *plast, c->key,
                                               batch, w->reseal ? d->row_lock : "")
                                : apr_psprintf(p, "SELECT 0, %s FROM %s%s", c->column, c->table,
                                               w->reseal ? d->row_lock : ""),
                         perr);
    *pn = rv == APR_SUCCESS ? rows->nelts : 0;
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        const char **r = APR_ARRAY_IDX(rows, i, const char **);
        const char *out = c->kind == CE_SEAL_CONFIG ? walk_config(w, p, c, r[0], r[1])
                                                    : walk_text(w, p, c, r[0], r[1]);

        *plast = apr_atoi64(r[0]);
        if (out) {
            w->report->resealed++;
            w->changed = 1;
            rv = ce_store_column_set(w->db, p, c, r[0], out, perr);
        }
    }
    return w->reseal ? ce_store_tx_end(tx, w->db, p, rv, perr) : rv;
}

/* One pass over every sealed column. */
static apr_status_t walk_all(walk_t *w, int batch, const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    apr_pool_t *p;
    int i, n;

    apr_pool_create(&p, w->out);
    for (i = 0; i < CE_SEALED_COLUMNS && rv == APR_SUCCESS; i++) {
        const ce_sealed_column_t *c = &ce_store_sealed_columns[i];
        apr_int64_t last = 0;

        if (c->kind == CE_SEAL_DIGEST) {
            continue;
        }
        do {
            apr_pool_clear(p);
            rv = walk_batch(w, p, c, &last, batch, &n, perr);
        } while (rv == APR_SUCCESS && c->key && n == batch);
    }
    if (rv != APR_SUCCESS) {
        *perr = apr_pstrdup(w->out, *perr);
    }
    apr_pool_destroy(p);
    return rv;
}

static ce_store_rekey_report_t *new_report(apr_pool_t *p)
{
    ce_store_rekey_report_t *r = apr_pcalloc(p, sizeof(*r));

    r->by_key = apr_hash_make(p);
    r->unreadable = apr_array_make(p, 4, sizeof(const char *));
    return r;
}

apr_status_t ce_store_rekey(ce_store_rekey_report_t **preport, ce_db_t *db, apr_pool_t *p,
                            int batch, const char **perr)
{
    walk_t w = {new_report(p), db, 1, 0, p};
    apr_status_t rv;

    *preport = w.report;
    do {
        /* Only the last pass's counts describe the database as it is left. */
        w.report->values = 0;
        w.report->by_key = apr_hash_make(p);
        w.report->unreadable = apr_array_make(p, 4, sizeof(const char *));
        w.changed = 0;
        w.report->passes++;
        rv = walk_all(&w, batch > 0 ? batch : 100, perr);
    } while (rv == APR_SUCCESS && w.changed && w.report->passes < MAX_PASSES);
    return rv;
}

apr_status_t ce_store_verify(ce_store_rekey_report_t **preport, ce_db_t *db, apr_pool_t *p,
                             const char **perr)
{
    walk_t w = {new_report(p), db, 0, 0, p};

    *preport = w.report;
    return walk_all(&w, 500, perr);
}
