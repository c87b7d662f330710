/* ce_store_instance: element instances — create (alone or group-committed,
 * see ce_store_batch.c), read, update, delete; each write keeps the counts
 * of ce_store_count.c in its transaction (listing: ce_store_list.c).
 * Tokens and secret configuration values are sealed on the way in and
 * opened on the way out (ce_store_seal.c). */
#include <string.h>
#include <apr_strings.h>

#include "ce_json.h"
#include "ce_log.h"
#include "ce_store_int.h"

const ce_store_statement_t ce_store_instance_statements[] = {
    {"ce_insert_instance",
     "INSERT INTO ce_instance (organization_id, user_id, element_id, name, token, token_digest, "
     "tags, configuration, disabled, max_cache_size, cache_ttl, caching_enabled, "
     "trace_logging_enabled, created_date, updated_date, oauth_due, oauth_failures, "
     "oauth_status, external_auth, rendered) VALUES (%lld, %lld, %ld, %s, %s, %s, "
     "%s, %s, %d, %ld, %ld, %d, %d, %s, %s, %lld, %d, %s, %s, %s) RETURNING id"},
    {"ce_select_instance_admin",
     "SELECT " CE_STORE_INSTANCE_COLUMNS " FROM ce_instance i WHERE i.id = %lld"},
    {"ce_select_instance", "SELECT " CE_STORE_INSTANCE_COLUMNS
                           " FROM ce_instance i WHERE i.id = %lld AND i.user_id = %lld"},

    /* an answer's read and its caller's authentication in one statement */
    {"ce_select_instance_as",
     "SELECT " CE_STORE_INSTANCE_COLUMNS ", " CE_STORE_USER_COLUMNS
     " FROM ce_instance i JOIN ce_user u ON u.id = i.user_id "
     "JOIN ce_organization o ON o.id = u.organization_id "
     "WHERE i.id = %lld AND u.secret_digest = %s AND o.secret_digest = %s"},
    {"ce_select_instance_by_token",
     "SELECT id, disabled FROM ce_instance WHERE token_digest = %s AND user_id = %lld"},
    {"ce_select_instance_of_credentials",
     "SELECT " CE_STORE_INSTANCE_COLUMNS ", " CE_STORE_USER_COLUMNS
     " FROM ce_instance i JOIN ce_user u ON u.id = i.user_id "
     "JOIN ce_organization o ON o.id = u.organization_id "
     "WHERE i.token_digest = %s AND u.secret_digest = %s AND o.secret_digest = %s"},
    /* the gateway's per-call check: the instance of id whose token, user and
     * organization digests are those */
    {"ce_select_instance_revision",
     "SELECT i.revision, i.disabled FROM ce_instance i JOIN ce_user u ON u.id = i.user_id "
     "JOIN ce_organization o ON o.id = u.organization_id WHERE i.id = %lld "
     "AND i.token_digest = %s AND u.secret_digest = %s AND o.secret_digest = %s"},
    {"ce_select_instance_of_token",
     "SELECT " CE_STORE_INSTANCE_COLUMNS " FROM ce_instance i WHERE i.token_digest = %s AND "
     "i.user_id = %lld"},
    {"ce_update_instance",
     "UPDATE ce_instance SET name = %s, element_id = %ld, tags = %s, configuration = %s, "
     "disabled = %d, max_cache_size = %ld, cache_ttl = %ld, caching_enabled = %d, "
     "trace_logging_enabled = %d, updated_date = %s, revision = revision + 1, "
     /* a new due time is a refresh done (or given up): its lease ends */
     "oauth_lease = CASE WHEN oauth_due = %lld THEN oauth_lease ELSE 0 END, oauth_due = %lld, "
     "oauth_failures = %d, oauth_status = %s, external_auth = %s, rendered = %s "
     "WHERE id = %lld AND user_id = %lld"},
    {"ce_delete_instance",
     "DELETE FROM ce_instance WHERE id = %lld AND user_id = %lld RETURNING element_id"},
    {"ce_insert_instance_tag",
     "INSERT INTO ce_instance_tag (instance_id, user_id, tag) VALUES (%lld, %lld, %s)"},
    {"ce_delete_instance_tags", "DELETE FROM ce_instance_tag WHERE instance_id = %lld"},
    {NULL, NULL}};

const ce_store_statement_t ce_store_instance_locking_statements[] = {
    {"ce_select_instance_for_update", "SELECT " CE_STORE_INSTANCE_COLUMNS
                                      " FROM ce_instance i WHERE i.id = %lld AND i.user_id = %lld"},
    {"ce_select_instance_element_for_update",
     "SELECT element_id FROM ce_instance WHERE id = %lld AND user_id = %lld"},
    {NULL, NULL}};

/* Compact JSON text of j, or of empty when j is NULL. */
static const char *json_text(apr_pool_t *p, const json_t *j, const char *empty)
{
    return j ? ce_json_dump(p, j) : empty;
}

/* Inserts one ce_instance_tag row per string of inst's tags (instance id). */
static apr_status_t insert_tags(ce_db_t *db, apr_pool_t *p, apr_int64_t id,
                                const ce_instance_t *inst, const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    const void *args[3] = {&id, &inst->user->id, NULL};
    size_t i;
    int nrows;

    for (i = 0; i < json_array_size(inst->tags) && rv == APR_SUCCESS; i++) {
        if ((args[2] = json_string_value(json_array_get(inst->tags, i))) != NULL) {
            rv = ce_store_run(&nrows, db, p, "ce_insert_instance_tag", args, perr);
        }
    }
    return rv;
}

static apr_status_t create_prepare(ce_store_create_t *c, const ce_db_t *db, apr_pool_t *p,
                                   const ce_instance_t *inst, const char **perr)
{
    memset(c, 0, sizeof(*c));
    c->inst = inst;
    c->args[0] = &inst->organization_id;
    c->args[1] = &inst->user->id;
    c->args[2] = &inst->element_id;
    c->args[3] = inst->name;
    c->args[4] =
        ce_store_seal(p, db->keys, CE_SEALED_INSTANCE_TOKEN, inst->token, strlen(inst->token));
    c->args[5] = ce_crypto_keyed_digest(p, db->keys, inst->token);
    c->args[6] = json_text(p, inst->tags, "[]");
    c->args[7] = ce_store_seal_configuration(p, db->keys, inst->configuration, inst);
    c->args[8] = &inst->disabled;
    c->args[9] = &inst->max_cache_size;
    c->args[10] = &inst->cache_time_to_live;
    c->args[11] = &inst->caching_enabled;
    c->args[12] = &inst->trace_logging_enabled;
    c->args[13] = inst->created_date;
    c->args[14] = inst->updated_date;
    c->args[15] = &inst->oauth_due;
    c->args[16] = &inst->oauth_failures;
    c->args[17] = inst->oauth_status ? inst->oauth_status : "";
    c->args[18] = inst->external_authentication ? inst->external_authentication : "none";
    c->args[19] = ce_store_view_sealed(p, db, inst, c->args[5], inst->view);
    if (!c->args[4] || !c->args[5] || !c->args[6] || !c->args[7] || !c->args[19]) {
        *perr = "Could not serialize the instance";
        return APR_EGENERAL;
    }
    /* its CREATED event too, but for the id: the write's lock is held for
     * the rows only (the body shows no revision) */
    return ce_store_event_prepare(&c->event, db, p, CE_EVENT_CREATED, inst, perr);
}

apr_status_t ce_store_create_write(ce_db_t *db, apr_pool_t *p, ce_store_create_t *list,
                                   const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv;
    ce_store_create_t *c;
    apr_array_header_t *counts = apr_array_make(p, 8, sizeof(ce_store_count_change_t));

    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    for (c = list; c && rv == APR_SUCCESS; c = c->next) {
        rv = ce_store_insert(&c->id, db, p, "ce_insert_instance", c->args, perr);
        if (rv == APR_SUCCESS && c->inst->tags) {
            rv = insert_tags(db, p, c->id, c->inst, perr);
        }
        if (rv == APR_SUCCESS) {
            rv = ce_store_event_insert(db, p, &c->event, c->id, perr);
        }
        if (rv == APR_SUCCESS) {
            ce_store_count_change_t *n = apr_array_push(counts);

            *n = (ce_store_count_change_t){c->inst->user->id, c->inst->element_id, c->id, 1};
        }
    }
    /* last: the count rows stay locked (PostgreSQL) only to the commit */
    if (rv == APR_SUCCESS) {
        rv = ce_store_count_apply(db, p, (ce_store_count_change_t *)counts->elts, counts->nelts,
                                  perr);
    }
    return ce_store_tx_end(tx, db, p, rv, perr);
}

apr_status_t ce_store_instance_create(ce_db_t *db, apr_pool_t *p, ce_instance_t *inst,
                                      const char **perr)
{
    ce_store_create_t c;
    apr_status_t rv;

    if (inst->id != 0 || !inst->user || !inst->name || !inst->token) {
        *perr = "Instance to create needs no id, and an owner, a name and a token";
        return APR_EINVAL;
    }
    if (!inst->organization_id) {
        inst->organization_id = inst->user->organization_id;
    }
    if (!inst->created_date) {
        inst->created_date = ce_instance_now(p);
    }
    if (!inst->updated_date) {
        inst->updated_date = inst->created_date;
    }
    /* The view, rendered once for what it is used for: the stored view,
     * the CREATED event's body and the answer. Nothing changes the
     * instance after this. */
    if (!inst->view) {
        inst->view = ce_instance_view(p, inst, &inst->view_len);
    }
    if ((rv = create_prepare(&c, db, p, inst, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (db->batch) {
        ce_store_batch_write(db->batch, db, p, &c);
        if ((rv = c.status) != APR_SUCCESS) {
            *perr = apr_pstrdup(p, c.err);
        }
    } else {
        rv = ce_store_create_write(db, p, &c, perr);
    }
    if (rv == APR_SUCCESS) {
        inst->id = c.id;
        inst->revision = 1; /* the column's default */
    }
    return rv;
}

apr_status_t ce_store_instance_read(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                    const ce_catalog_t *cat, const ce_user_t *owner, apr_int64_t id,
                                    unsigned how, const char **perr)
{
    const char **row;
    const void *args[2] = {&id, &owner->id};
    apr_status_t rv = ce_store_fetch_one(&row, db, p, "ce_select_instance", args, perr);

    *pinst = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return ce_store_instance_from_row(pinst, db, p, row, cat, owner, how, perr);
}

apr_status_t ce_store_instance_read_as(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                       const ce_catalog_t *cat, const char *user_secret,
                                       const char *org_secret, apr_int64_t id, unsigned how,
                                       const char **perr)
{
    const char **row;
    const void *args[3] = {&id, NULL, NULL};
    apr_status_t rv;

    *pinst = NULL;
    args[1] = ce_crypto_keyed_digest(p, db->keys, user_secret);
    args[2] = ce_crypto_keyed_digest(p, db->keys, org_secret);
    if (!args[1] || !args[2]) {
        return APR_NOTFOUND;
    }
    if ((rv = ce_store_fetch_one(&row, db, p, "ce_select_instance_as", args, perr)) !=
        APR_SUCCESS) {
        return rv;
    }
    return ce_store_instance_from_row(pinst, db, p, row, cat,
                                      ce_store_user_from_row(p, row + CE_IC_USER + 1), how, perr);
}

apr_status_t ce_store_instance_get(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                   const ce_catalog_t *cat, const ce_user_t *owner, apr_int64_t id,
                                   const char **perr)
{
    return ce_store_instance_read(pinst, db, p, cat, owner, id, CE_STORE_READ_FULL, perr);
}

apr_status_t ce_store_instance_admin_get(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                         const ce_catalog_t *cat, apr_int64_t id, const char **perr)
{
    const char **row;
    const void *args[1] = {&id};
    apr_status_t rv = ce_store_fetch_one(&row, db, p, "ce_select_instance_admin", args, perr);
    ce_user_t *nobody = apr_pcalloc(p, sizeof(*nobody));

    *pinst = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    nobody->id = apr_atoi64(ce_store_or_empty(row[CE_IC_USER])); /* whose it is, nothing more */
    nobody->email_address = nobody->first_name = nobody->last_name = "";
    return ce_store_instance_from_row(pinst, db, p, row, cat, nobody, CE_STORE_READ_FULL, perr);
}

/* Owner's row whose token is token (by digest), from statement label. */
static apr_status_t fetch_by_token(const char ***prow, ce_db_t *db, apr_pool_t *p,
                                   const ce_user_t *owner, const char *token, const char *label,
                                   const char **perr)
{
    const void *args[2];

    if (!token || !owner) {
        return APR_NOTFOUND;
    }
    args[0] = ce_crypto_keyed_digest(p, db->keys, token);
    args[1] = &owner->id;
    return ce_store_fetch_one(prow, db, p, label, args, perr);
}

apr_status_t ce_store_instance_by_token(apr_int64_t *pid, ce_db_t *db, apr_pool_t *p,
                                        const ce_user_t *owner, const char *token,
                                        const char **perr)
{
    const char **row;
    apr_status_t rv =
        fetch_by_token(&row, db, p, owner, token, "ce_select_instance_by_token", perr);

    *pid = 0;
    if (rv == APR_SUCCESS) {
        *pid = apr_atoi64(row[0]);
        rv = atoi(ce_store_or_empty(row[1])) ? CE_STORE_EDISABLED : APR_SUCCESS;
    }
    return rv;
}

apr_status_t ce_store_instance_get_by_token(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                            const ce_catalog_t *cat, const ce_user_t *owner,
                                            const char *token, const char **perr)
{
    const char **row;
    apr_status_t rv =
        fetch_by_token(&row, db, p, owner, token, "ce_select_instance_of_token", perr);

    *pinst = NULL;
    if (rv != APR_SUCCESS ||
        (rv = ce_store_instance_from_row(pinst, db, p, row, cat, owner, CE_STORE_READ_FULL,
                                         perr)) != APR_SUCCESS) {
        return rv;
    }
    return (*pinst)->disabled ? CE_STORE_EDISABLED : APR_SUCCESS;
}

apr_status_t ce_store_instance_of_credentials(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                              const ce_catalog_t *cat, const char *user_secret,
                                              const char *org_secret, const char *token,
                                              const char **digests, const char **perr)
{
    const char **row;
    const void *args[CE_STORE_CREDENTIAL_DIGESTS];
    apr_status_t rv;

    *pinst = NULL;
    if (!user_secret || !org_secret || !token) {
        return APR_NOTFOUND;
    }
    args[0] = ce_crypto_keyed_digest(p, db->keys, token);
    args[1] = ce_crypto_keyed_digest(p, db->keys, user_secret);
    args[2] = ce_crypto_keyed_digest(p, db->keys, org_secret);
    if (digests) {
        memcpy(digests, args, sizeof(args));
    }
    if ((rv = ce_store_fetch_one(&row, db, p, "ce_select_instance_of_credentials", args, perr)) !=
            APR_SUCCESS ||
        (rv = ce_store_instance_from_row(pinst, db, p, row, cat,
                                         ce_store_user_from_row(p, row + CE_IC_USER + 1),
                                         CE_STORE_READ_FULL, perr)) != APR_SUCCESS) {
        return rv;
    }
    return (*pinst)->disabled ? CE_STORE_EDISABLED : APR_SUCCESS;
}

apr_status_t ce_store_instance_revision(apr_int64_t *prevision, int *pdisabled, ce_db_t *db,
                                        apr_pool_t *p, apr_int64_t id, const char *const *digests,
                                        const char **perr)
{
    const char **row;
    const void *args[1 + CE_STORE_CREDENTIAL_DIGESTS] = {&id, digests[0], digests[1], digests[2]};
    apr_status_t rv;

    /* on SQLite, with SQLite's own API like every prepared SELECT */
    rv = ce_store_fetch_one(&row, db, p, "ce_select_instance_revision", args, perr);
    if (rv == APR_SUCCESS) {
        *prevision = apr_atoi64(ce_store_or_empty(row[0]));
        *pdisabled = atoi(ce_store_or_empty(row[1]));
    }
    return rv;
}

/* Rewrites the mutable columns of inst's row; APR_NOTFOUND if not there. */
static apr_status_t update_instance(ce_db_t *db, apr_pool_t *p, const ce_instance_t *inst,
                                    const char **perr)
{
    const void *args[18];
    apr_status_t rv;
    int nrows;

    args[0] = inst->name;
    args[1] = &inst->element_id;
    args[2] = json_text(p, inst->tags, "[]");
    args[3] = ce_store_seal_configuration(p, db->keys, inst->configuration, inst);
    args[4] = &inst->disabled;
    args[5] = &inst->max_cache_size;
    args[6] = &inst->cache_time_to_live;
    args[7] = &inst->caching_enabled;
    args[8] = &inst->trace_logging_enabled;
    args[9] = inst->updated_date ? inst->updated_date : ce_instance_now(p);
    args[10] = &inst->oauth_due;
    args[11] = &inst->oauth_due;
    args[12] = &inst->oauth_failures;
    args[13] = inst->oauth_status ? inst->oauth_status : "";
    args[14] = inst->external_authentication ? inst->external_authentication : "none";
    args[15] = ce_store_view_sealed(
        p, db, inst, inst->token ? ce_crypto_keyed_digest(p, db->keys, inst->token) : NULL, NULL);
    args[16] = &inst->id;
    args[17] = &inst->user->id;
    if (!args[0] || !args[2] || !args[3] || !args[15]) {
        *perr = "Could not serialize the instance";
        return APR_EGENERAL;
    }
    rv = ce_store_run(&nrows, db, p, "ce_update_instance", args, perr);
    if (rv == APR_SUCCESS && nrows == 0) {
        *perr = "Instance not found";
        rv = APR_NOTFOUND;
    }
    return rv;
}

/* Inside a transaction: inst's row and its tag rows rewritten; moved from
 * element was_element to another, it counts there instead. */
static apr_status_t write_instance(ce_db_t *db, apr_pool_t *p, const ce_instance_t *inst,
                                   long was_element, const char **perr)
{
    const void *args[1] = {&inst->id};
    apr_status_t rv = update_instance(db, p, inst, perr);
    ce_store_count_change_t moved[2] = {{inst->user->id, was_element, inst->id, -1},
                                        {inst->user->id, inst->element_id, inst->id, 1}};
    int nrows;

    if (rv == APR_SUCCESS) {
        rv = ce_store_run(&nrows, db, p, "ce_delete_instance_tags", args, perr);
    }
    if (rv == APR_SUCCESS && inst->tags) {
        rv = insert_tags(db, p, inst->id, inst, perr);
    }
    if (rv == APR_SUCCESS && was_element != inst->element_id) {
        rv = ce_store_count_apply(db, p, moved, 2, perr);
    }
    return rv;
}

apr_status_t ce_store_instance_update(ce_db_t *db, apr_pool_t *p, const ce_instance_t *inst,
                                      const char **perr)
{
    apr_dbd_transaction_t *tx;
    const void *args[2] = {&inst->id, NULL};
    const char **row;
    apr_status_t rv;

    if (!inst->user) {
        *perr = "Instance to update has no owner";
        return APR_EINVAL;
    }
    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    /* the element it counts in now, the row locked to the write */
    args[1] = &inst->user->id;
    rv = ce_store_fetch_one(&row, db, p, "ce_select_instance_element_for_update", args, perr);
    if (rv == APR_NOTFOUND) {
        *perr = "Instance not found";
    }
    if (rv == APR_SUCCESS) {
        rv = write_instance(db, p, inst, (long)apr_atoi64(ce_store_or_empty(row[0])), perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ce_store_event_record(db, p, CE_EVENT_UPDATED, inst, perr);
    }
    return ce_store_tx_end(tx, db, p, rv, perr);
}

/* Inside a transaction: owner's instance id and its tag rows deleted, and
 * no longer counted. */
static apr_status_t remove_instance(ce_db_t *db, apr_pool_t *p, const ce_user_t *owner,
                                    apr_int64_t id, const char **perr)
{
    const void *args[2] = {&id, &owner->id};
    ce_store_count_change_t gone = {owner->id, 0, id, -1};
    const char **row;
    apr_status_t rv;
    int nrows;

    /* Ownership first: the tag rows are only touched once the instance was ours. */
    rv = ce_store_fetch_one(&row, db, p, "ce_delete_instance", args, perr);
    if (rv == APR_NOTFOUND) {
        *perr = "Instance not found";
    }
    if (rv == APR_SUCCESS) {
        gone.element_id = (long)apr_atoi64(ce_store_or_empty(row[0]));
        rv = ce_store_run(&nrows, db, p, "ce_delete_instance_tags", args, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ce_store_count_apply(db, p, &gone, 1, perr);
    }
    return rv;
}

apr_status_t ce_store_instance_delete(ce_db_t *db, apr_pool_t *p, const ce_user_t *owner,
                                      apr_int64_t id, const char **perr)
{
    apr_dbd_transaction_t *tx;
    const void *args[2] = {&id, &owner->id};
    const char **row;
    ce_instance_t *gone = NULL;
    apr_status_t rv;

    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    /* As it was, for its event (one whose values do not open: without them) */
    rv = ce_store_fetch_one(&row, db, p, "ce_select_instance_for_update", args, perr);
    if (rv == APR_NOTFOUND) {
        *perr = "Instance not found";
    }
    if (rv == APR_SUCCESS) {
        rv = ce_store_instance_listed(&gone, db, p, row, db->catalog, owner, CE_STORE_READ_FULL,
                                      perr);
    }
    if (rv == APR_SUCCESS) {
        rv = remove_instance(db, p, owner, id, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = ce_store_event_record(db, p, CE_EVENT_DELETED, gone, perr);
    }
    return ce_store_tx_end(tx, db, p, rv, perr);
}

/* A copy of inst that its modification leaves alone (the JSON values
 * copied), to tell the event of the change. */
static ce_instance_t *snapshot(apr_pool_t *p, const ce_instance_t *inst)
{
    ce_instance_t *copy = apr_pmemdup(p, inst, sizeof(*inst));

    copy->tags = inst->tags ? ce_json_bind(p, json_deep_copy(inst->tags)) : NULL;
    copy->configuration =
        inst->configuration ? ce_json_bind(p, json_deep_copy(inst->configuration)) : NULL;
    return copy;
}

apr_status_t ce_store_instance_modify(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                      const ce_catalog_t *cat, const ce_user_t *owner,
                                      apr_int64_t id, ce_store_modify_fn *modify, void *baton,
                                      const char **perr)
{
    apr_dbd_transaction_t *tx;
    const void *args[2] = {&id, &owner->id};
    const char **row;
    apr_status_t rv;
    long was_element = 0;
    ce_instance_t *before = NULL;

    *pinst = NULL;
    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    /* The row as it is now, locked until the end of the transaction
     * (PostgreSQL: FOR UPDATE; SQLite: the transaction holds the write
     * lock), so no other update can come between this read and the write. */
    rv = ce_store_fetch_one(&row, db, p, "ce_select_instance_for_update", args, perr);
    if (rv == APR_SUCCESS &&
        (rv = ce_store_instance_from_row(pinst, db, p, row, cat, owner, CE_STORE_READ_FULL,
                                         perr)) == APR_SUCCESS) {
        was_element = (*pinst)->element_id;
        before = snapshot(p, *pinst);
        rv = modify(*pinst, baton, perr);
    }
    if (rv == CE_STORE_DELETE) {
        if ((rv = remove_instance(db, p, owner, id, perr)) == APR_SUCCESS) {
            rv = ce_store_event_record(db, p, CE_EVENT_DELETED, before, perr);
        }
    } else if (rv == APR_SUCCESS &&
               (rv = write_instance(db, p, *pinst, was_element, perr)) == APR_SUCCESS) {
        (*pinst)->revision++;
        rv = ce_store_event_record(db, p, ce_event_of_change(before, *pinst), *pinst, perr);
    }
    rv = ce_store_tx_end(tx, db, p, rv, perr);
    if (rv != APR_SUCCESS) {
        *pinst = NULL;
    }
    return rv;
}
