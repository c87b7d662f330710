/* ce_store_oauth: OAuth instances' token refresh — which are due, the lease
 * that makes one refresher of all (every child of every node) do each
 * refresh, and the refresh itself: claimed in a short transaction, the
 * provider asked with no transaction held, the answer kept in one (the
 * instance's row locked, ce_store_instance_modify). */
#include <string.h>
#include <apr_strings.h>

#include "ce_oauth.h"
#include "ce_store_int.h"

const ce_store_statement_t ce_store_oauth_statements[] = {
    {"ce_select_oauth_due",
     "SELECT id, user_id, oauth_due FROM ce_instance WHERE oauth_due > 0 AND oauth_due <= %lld "
     "AND oauth_lease <= %lld ORDER BY oauth_due LIMIT %d"},
    /* Taken only if it is still due as seen and nobody holds it. */
    {"ce_claim_oauth",
     "UPDATE ce_instance SET oauth_lease = %lld WHERE id = %lld AND oauth_due = %lld "
     "AND oauth_lease <= %lld"},
    {NULL, NULL}};

apr_status_t ce_store_oauth_due(apr_array_header_t **pdue, ce_db_t *db, apr_pool_t *p,
                                apr_int64_t now_ms, int limit, const char **perr)
{
    const void *args[3] = {&now_ms, &now_ms, &limit};
    apr_array_header_t *rows;
    apr_status_t rv = ce_store_fetch(&rows, db, p, "ce_select_oauth_due", args, perr);
    int i;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    *pdue = apr_array_make(p, rows->nelts, sizeof(ce_store_due_t));
    for (i = 0; i < rows->nelts; i++) {
        const char **row = APR_ARRAY_IDX(rows, i, const char **);
        ce_store_due_t *d = apr_array_push(*pdue);

        d->id = apr_atoi64(ce_store_or_empty(row[0]));
        d->user_id = apr_atoi64(ce_store_or_empty(row[1]));
        d->due = apr_atoi64(ce_store_or_empty(row[2]));
    }
    return APR_SUCCESS;
}

apr_status_t ce_store_oauth_claim(int *pclaimed, ce_db_t *db, apr_pool_t *p,
                                  const ce_store_due_t *d, apr_int64_t now_ms, apr_int64_t until_ms,
                                  const char **perr)
{
    const void *args[4] = {&until_ms, &d->id, &d->due, &now_ms};
    apr_dbd_transaction_t *tx;
    int nrows = 0;
    apr_status_t rv = ce_store_tx_start(&tx, db, p, perr);

    *pclaimed = 0;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = ce_store_run(&nrows, db, p, "ce_claim_oauth", args, perr);
    rv = ce_store_tx_end(tx, db, p, rv, perr);
    *pclaimed = rv == APR_SUCCESS && nrows == 1;
    return rv;
}

/* What the refresh obtained, kept inside the instance's transaction. */
typedef struct {
    apr_pool_t *p;
    const char *used; /* the refresh token the provider was given */
    apr_status_t got; /* what ce_oauth_obtain said */
    const char *why;
    const ce_oauth_token_t *tok;
    apr_time_t now;
} keep_t;

static apr_status_t keep(ce_instance_t *inst, void *baton, const char **perr)
{
    keep_t *k = baton;
    const json_t *stored = json_object_get(inst->configuration, CE_OAUTH_USER_REFRESH_TOKEN);

    if (!json_is_string(stored) || strcmp(json_string_value(stored), k->used) != 0) {
        *perr = "re-authenticated meanwhile";
        return APR_EEXIST; /* its new tokens stay; ours belong to the old grant */
    }
    if (k->got == APR_SUCCESS) {
        ce_oauth_apply(inst, k->p, k->tok, k->now);
    } else {
        ce_oauth_failed(inst, k->p, k->got, k->why, k->now);
    }
    return APR_SUCCESS;
}

apr_status_t ce_store_oauth_refresh(ce_refresh_outcome_t *pout, ce_db_t *db, ce_http_t *h,
                                    apr_pool_t *p, const ce_catalog_t *cat, const ce_store_due_t *d,
                                    apr_interval_time_t lease, const char **perr)
{
    ce_user_t owner = {d->user_id, 0, "", "", ""};
    apr_time_t now = apr_time_now();
    apr_int64_t now_ms = apr_time_as_msec(now);
    ce_oauth_token_t tok;
    ce_instance_t *inst = NULL, *written = NULL;
    keep_t k = {p, NULL, APR_SUCCESS, NULL, &tok, 0};
    int claimed = 0;
    apr_status_t rv;

    *pout = CE_REFRESH_NOT_MINE;
    rv = ce_store_oauth_claim(&claimed, db, p, d, now_ms, now_ms + apr_time_as_msec(lease), perr);
    if (rv != APR_SUCCESS || !claimed) {
        return rv;
    }
    rv = ce_store_instance_get(&inst, db, p, cat, &owner, d->id, perr);
    if (rv != APR_SUCCESS) {
        *pout = CE_REFRESH_GONE;
        return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
    }
    k.used = json_string_value(json_object_get(inst->configuration, CE_OAUTH_USER_REFRESH_TOKEN));
    k.used = k.used ? k.used : "";
    /* The provider is asked with no transaction open. */
    k.got = ce_oauth_obtain(&tok, h, p, inst, &k.why);
    k.now = apr_time_now();
    rv = ce_store_instance_modify(&written, db, p, cat, &owner, d->id, keep, &k, perr);
    if (rv == APR_EEXIST || rv == APR_NOTFOUND) {
        *pout = CE_REFRESH_GONE;
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *pout = k.got == APR_SUCCESS        ? CE_REFRESH_DONE
            : k.got == CE_OAUTH_REFUSED ? CE_REFRESH_REFUSED
                                        : CE_REFRESH_FAILED;
    *perr = k.why;
    return APR_SUCCESS;
}
