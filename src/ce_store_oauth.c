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

/* The refresh of instance id (owner's), once claimed: the provider asked
 * with no transaction open, its answer kept with the row locked. *pwritten:
 * the instance as kept (NULL unless kept). */
static apr_status_t refresh_claimed(ce_refresh_outcome_t *pout, ce_instance_t **pwritten,
                                    ce_db_t *db, ce_http_t *h, apr_pool_t *p,
                                    const ce_catalog_t *cat, const ce_user_t *owner, apr_int64_t id,
                                    const char **perr)
{
    ce_oauth_token_t tok;
    ce_instance_t *inst = NULL;
    keep_t k = {p, NULL, APR_SUCCESS, NULL, &tok, 0};
    apr_status_t rv = ce_store_instance_get(&inst, db, p, cat, owner, id, perr);

    *pwritten = NULL;
    if (rv != APR_SUCCESS) {
        *pout = CE_REFRESH_GONE;
        return rv == APR_NOTFOUND ? APR_SUCCESS : rv;
    }
    k.used = json_string_value(json_object_get(inst->configuration, CE_OAUTH_USER_REFRESH_TOKEN));
    k.used = k.used ? k.used : "";
    k.got = ce_oauth_obtain(&tok, h, p, inst, &k.why);
    k.now = apr_time_now();
    rv = ce_store_instance_modify(pwritten, db, p, cat, owner, id, keep, &k, perr);
    if (rv == APR_EEXIST || rv == APR_NOTFOUND) {
        *pwritten = NULL;
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

apr_status_t ce_store_oauth_refresh(ce_refresh_outcome_t *pout, ce_db_t *db, ce_http_t *h,
                                    apr_pool_t *p, const ce_catalog_t *cat, const ce_store_due_t *d,
                                    apr_interval_time_t lease, const char **perr)
{
    ce_user_t owner = {d->user_id, 0, "", "", ""};
    apr_int64_t now_ms = apr_time_as_msec(apr_time_now());
    ce_instance_t *written;
    int claimed = 0;
    apr_status_t rv;

    *pout = CE_REFRESH_NOT_MINE;
    rv = ce_store_oauth_claim(&claimed, db, p, d, now_ms, now_ms + apr_time_as_msec(lease), perr);
    if (rv != APR_SUCCESS || !claimed) {
        return rv;
    }
    return refresh_claimed(pout, &written, db, h, p, cat, &owner, d->id, perr);
}

/* ------------------------------------------------------------------ */
/* A fresh token on demand                                             */

static const char *entry(const ce_instance_t *inst, const char *key)
{
    return json_string_value(json_object_get(inst->configuration, key));
}

/* Fills *out from inst: APR_SUCCESS, or why it has no token to give. */
static apr_status_t give(ce_fresh_token_t *out, const ce_instance_t *inst, const char **perr)
{
    const char *problem = ce_instance_oauth_problem(inst);

    if (problem) {
        *perr = problem;
        return CE_OAUTH_REFUSED;
    }
    out->token = entry(inst, CE_OAUTH_USER_TOKEN);
    out->expires = ce_instance_oauth_expires(inst);
    if (!out->token || !*out->token) {
        *perr = "no access token";
        return CE_OAUTH_REFUSED;
    }
    return APR_SUCCESS;
}

/* What a refresh that this call made says, as ce_store_oauth_fresh returns it. */
static apr_status_t outcome(ce_fresh_token_t *out, ce_refresh_outcome_t o,
                            const ce_instance_t *written, const char *why, const char **perr)
{
    switch (o) {
        case CE_REFRESH_DONE:
            out->refreshed = 1;
            return give(out, written, perr);
        case CE_REFRESH_REFUSED:
            *perr = why ? why : "refused";
            return CE_OAUTH_REFUSED;
        case CE_REFRESH_FAILED:
            *perr = why ? why : "the provider could not be asked";
            return CE_OAUTH_UNAVAILABLE;
        default:
            return APR_EAGAIN; /* gone meanwhile, or re-authenticated: look again */
    }
}

apr_status_t ce_store_oauth_fresh(ce_fresh_token_t *out, ce_db_t *db, ce_http_t *h, apr_pool_t *p,
                                  const ce_catalog_t *cat, const ce_user_t *owner, apr_int64_t id,
                                  apr_int64_t min_ms, apr_interval_time_t lease, const char **perr)
{
    apr_time_t give_up = apr_time_now() + lease + apr_time_from_sec(1);
    const char *seen = NULL; /* the refresh token first seen: forced, any newer pair will do */
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    for (;;) {
        ce_instance_t *inst = NULL, *written = NULL;
        ce_store_due_t d;
        ce_refresh_outcome_t o = CE_REFRESH_NOT_MINE;
        apr_int64_t now_ms = apr_time_as_msec(apr_time_now());
        const char *rt, *why = NULL;
        int claimed = 0;

        rv = owner ? ce_store_instance_get(&inst, db, p, cat, owner, id, perr)
                   : ce_store_instance_admin_get(&inst, db, p, cat, id, perr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (!inst->element || !inst->element->oauth ||
            !(rt = entry(inst, CE_OAUTH_USER_REFRESH_TOKEN)) || !*rt) {
            *perr = "not an OAuth instance with a refresh token";
            return APR_EINVAL;
        }
        seen = seen ? seen : rt;
        /* Refused before: only a forced call asks the provider again. */
        if (min_ms >= 0 ? ce_instance_oauth_expires(inst) - now_ms >= min_ms ||
                              ce_instance_oauth_problem(inst)
                        : strcmp(seen, rt) != 0) {
            return give(out, inst, perr); /* still good, or refreshed by another meanwhile */
        }
        d.id = id;
        d.user_id = inst->user->id;
        d.due = inst->oauth_due;
        rv = ce_store_oauth_claim(&claimed, db, p, &d, now_ms, now_ms + apr_time_as_msec(lease),
                                  perr);
        if (rv == APR_SUCCESS && claimed) {
            rv = refresh_claimed(&o, &written, db, h, p, cat, inst->user, id, &why);
            if (rv != APR_SUCCESS || (rv = outcome(out, o, written, why, perr)) != APR_EAGAIN) {
                return rv;
            }
        } else if (rv != APR_SUCCESS) {
            return rv;
        }
        if (apr_time_now() > give_up) {
            *perr = "another refresher held the instance's lease for too long";
            return APR_TIMEUP;
        }
        apr_sleep(apr_time_from_msec(100)); /* another refresher has it: wait for its answer */
    }
}
