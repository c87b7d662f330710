/* ce_store_instance: element instances — create (alone or group-committed,
 * see ce_store_batch.c), read, update, delete, and listing by keyset
 * pagination. Tokens and secret configuration values are sealed on the
 * way in and opened on the way out (ce_store_seal.c). */
#include <string.h>
#include <apr_strings.h>

#include "ce_json.h"
#include "ce_log.h"
#include "ce_store_int.h"

/* "No upper bound" for keyset pagination (before_id 0). */
#define ID_SENTINEL APR_INT64_MAX

#define INSTANCE_COLUMNS                                                                           \
    "i.id, i.organization_id, i.element_id, i.name, i.token, i.tags, i.configuration, "            \
    "i.disabled, i.max_cache_size, i.cache_ttl, i.caching_enabled, "                               \
    "i.trace_logging_enabled, i.created_date, i.updated_date, i.revision, i.oauth_due, "           \
    "i.oauth_failures, i.oauth_status, i.external_auth, i.user_id"

/* Column positions in INSTANCE_COLUMNS. */
enum {
    IC_ID,
    IC_ORGANIZATION,
    IC_ELEMENT,
    IC_NAME,
    IC_TOKEN,
    IC_TAGS,
    IC_CONFIGURATION,
    IC_DISABLED,
    IC_MAX_CACHE_SIZE,
    IC_CACHE_TTL,
    IC_CACHING,
    IC_TRACE,
    IC_CREATED,
    IC_UPDATED,
    IC_REVISION,
    IC_OAUTH_DUE,
    IC_OAUTH_FAILURES,
    IC_OAUTH_STATUS,
    IC_EXTERNAL_AUTH,
    IC_USER
};

/* Listing: owner, before id, [element], [first tag], limit. With a tag the
 * scan starts from the tag index (CROSS JOIN fixes that join order in
 * SQLite and is an ordinary inner join elsewhere). */
#define LIST_ALL(ELEMENT)                                                                          \
    "SELECT " INSTANCE_COLUMNS " FROM ce_instance i WHERE i.user_id = %lld "                       \
    "AND i.id < %lld " ELEMENT "ORDER BY i.id DESC LIMIT %d"
#define LIST_TAG(ELEMENT)                                                                          \
    "SELECT " INSTANCE_COLUMNS " FROM ce_instance_tag t CROSS JOIN ce_instance i "                 \
    "WHERE i.id = t.instance_id AND i.user_id = %lld AND t.instance_id < %lld " ELEMENT            \
    "AND t.tag = %s ORDER BY t.instance_id DESC LIMIT %d"
#define BY_ELEMENT "AND i.element_id = %ld "

const ce_store_statement_t ce_store_instance_statements[] = {
    {"ce_insert_instance",
     "INSERT INTO ce_instance (organization_id, user_id, element_id, name, token, token_digest, "
     "tags, configuration, disabled, max_cache_size, cache_ttl, caching_enabled, "
     "trace_logging_enabled, created_date, updated_date, oauth_due, oauth_failures, "
     "oauth_status, external_auth) VALUES (%lld, %lld, %ld, %s, %s, %s, "
     "%s, %s, %d, %ld, %ld, %d, %d, %s, %s, %lld, %d, %s, %s) RETURNING id"},
    {"ce_select_instance_admin",
     "SELECT " INSTANCE_COLUMNS " FROM ce_instance i WHERE i.id = %lld"},
    {"ce_select_instance",
     "SELECT " INSTANCE_COLUMNS " FROM ce_instance i WHERE i.id = %lld AND i.user_id = %lld"},

    {"ce_select_instance_by_token",
     "SELECT id, disabled FROM ce_instance WHERE token_digest = %s AND user_id = %lld"},
    {"ce_update_instance",
     "UPDATE ce_instance SET name = %s, element_id = %ld, tags = %s, configuration = %s, "
     "disabled = %d, max_cache_size = %ld, cache_ttl = %ld, caching_enabled = %d, "
     "trace_logging_enabled = %d, updated_date = %s, revision = revision + 1, "
     /* a new due time is a refresh done (or given up): its lease ends */
     "oauth_lease = CASE WHEN oauth_due = %lld THEN oauth_lease ELSE 0 END, oauth_due = %lld, "
     "oauth_failures = %d, oauth_status = %s, external_auth = %s "
     "WHERE id = %lld AND user_id = %lld"},
    {"ce_delete_instance", "DELETE FROM ce_instance WHERE id = %lld AND user_id = %lld"},
    {"ce_insert_instance_tag", "INSERT INTO ce_instance_tag (instance_id, tag) VALUES (%lld, %s)"},
    {"ce_delete_instance_tags", "DELETE FROM ce_instance_tag WHERE instance_id = %lld"},
    {"ce_select_instances", LIST_ALL("")},
    {"ce_select_instances_by_element", LIST_ALL(BY_ELEMENT)},
    {"ce_select_instances_by_tag", LIST_TAG("")},
    {"ce_select_instances_by_element_tag", LIST_TAG(BY_ELEMENT)},
    {NULL, NULL}};

const ce_store_statement_t ce_store_instance_locking_statements[] = {
    {"ce_select_instance_for_update",
     "SELECT " INSTANCE_COLUMNS " FROM ce_instance i WHERE i.id = %lld AND i.user_id = %lld"},
    {NULL, NULL}};

/* Parses stored JSON text (tags / configuration) of the expected type. */
static apr_status_t parse_column(json_t **pj, apr_pool_t *p, const char *text, json_type type)
{
    const char *err;

    if (!text || ce_json_parse(pj, p, text, strlen(text), &err) != APR_SUCCESS ||
        json_typeof(*pj) != type) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The plain columns of a row into inst (tags and configuration parsed,
 * nothing opened). */
static apr_status_t columns_from_row(ce_instance_t *inst, apr_pool_t *p, const char **row,
                                     const ce_catalog_t *cat, const ce_user_t *owner,
                                     const char **perr)
{
    if (parse_column(&inst->tags, p, row[IC_TAGS], JSON_ARRAY) != APR_SUCCESS ||
        parse_column(&inst->configuration, p, row[IC_CONFIGURATION], JSON_OBJECT) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "Instance %s: stored tags or configuration unreadable", row[IC_ID]);
        return APR_EGENERAL;
    }
    inst->id = apr_atoi64(row[IC_ID]);
    inst->organization_id = apr_atoi64(ce_store_or_empty(row[IC_ORGANIZATION]));
    inst->user = owner;
    inst->element_id = (long)apr_atoi64(ce_store_or_empty(row[IC_ELEMENT]));
    inst->element = cat ? ce_catalog_by_id(cat, inst->element_id) : NULL;
    inst->name = apr_pstrdup(p, ce_store_or_empty(row[IC_NAME]));
    inst->disabled = atoi(ce_store_or_empty(row[IC_DISABLED]));
    inst->max_cache_size = (long)apr_atoi64(ce_store_or_empty(row[IC_MAX_CACHE_SIZE]));
    inst->cache_time_to_live = (long)apr_atoi64(ce_store_or_empty(row[IC_CACHE_TTL]));
    inst->caching_enabled = atoi(ce_store_or_empty(row[IC_CACHING]));
    inst->trace_logging_enabled = atoi(ce_store_or_empty(row[IC_TRACE]));
    inst->revision = apr_atoi64(ce_store_or_empty(row[IC_REVISION]));
    inst->created_date = apr_pstrdup(p, ce_store_or_empty(row[IC_CREATED]));
    inst->updated_date = apr_pstrdup(p, ce_store_or_empty(row[IC_UPDATED]));
    inst->oauth_due = apr_atoi64(ce_store_or_empty(row[IC_OAUTH_DUE]));
    inst->oauth_failures = atoi(ce_store_or_empty(row[IC_OAUTH_FAILURES]));
    inst->oauth_status = apr_pstrdup(p, ce_store_or_empty(row[IC_OAUTH_STATUS]));
    inst->external_authentication = row[IC_EXTERNAL_AUTH] && *row[IC_EXTERNAL_AUTH]
                                        ? apr_pstrdup(p, row[IC_EXTERNAL_AUTH])
                                        : "none";
    return APR_SUCCESS;
}

/* Opens inst's sealed token (from the row) and configuration values in
 * place. APR_EGENERAL, *perr naming the instance and the value (never its
 * content), when one fails authentication. */
static apr_status_t open_sealed(ce_instance_t *inst, ce_db_t *db, apr_pool_t *p, const char **row,
                                const char **perr)
{
    const char *err = NULL;
    apr_size_t len;

    if (ce_store_open(&inst->token, &len, p, db->keys, CE_SEALED_INSTANCE_TOKEN, row[IC_TOKEN]) !=
        APR_SUCCESS) {
        inst->token = NULL;
        *perr = apr_psprintf(p,
                             "Instance %s: the stored token fails authentication "
                             "(tampered, or another key)",
                             row[IC_ID]);
        return APR_EGENERAL;
    }
    if (ce_store_open_configuration(inst->configuration, p, db->keys, &err) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "Instance %s: %s", row[IC_ID], err);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The instance of a row, its sealed values opened. A value that fails
 * authentication fails this instance only: APR_EGENERAL, *perr naming the
 * instance and the value, never its content. */
static apr_status_t instance_from_row(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                      const char **row, const ce_catalog_t *cat,
                                      const ce_user_t *owner, const char **perr)
{
    ce_instance_t *inst = apr_pcalloc(p, sizeof(*inst));
    apr_status_t rv = columns_from_row(inst, p, row, cat, owner, perr);

    *pinst = NULL;
    if (rv == APR_SUCCESS && (rv = open_sealed(inst, db, p, row, perr)) == APR_SUCCESS) {
        *pinst = inst;
    }
    return rv;
}

/* As instance_from_row, for a listing: an instance whose sealed values do
 * not open is still listed, as unreadable (not valid), without its token
 * and with every value that did not open set to null; it is logged by id,
 * since the listing itself answers 200. */
static apr_status_t listed_from_row(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                    const char **row, const ce_catalog_t *cat,
                                    const ce_user_t *owner, const char **perr)
{
    ce_instance_t *inst = apr_pcalloc(p, sizeof(*inst));
    const char *err = NULL;
    apr_status_t rv = columns_from_row(inst, p, row, cat, owner, perr);

    *pinst = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (open_sealed(inst, db, p, row, &err) != APR_SUCCESS) {
        ce_log(CE_LOG_MARK, CE_LOG_ERR, 0,
               "CE00032: %s; listed as not valid, without its token and sealed values", err);
        inst->unreadable = 1;
        inst->token = NULL;
        ce_store_drop_sealed(inst->configuration);
    }
    *pinst = inst;
    return APR_SUCCESS;
}

/* Compact JSON text of j, or of empty when j is NULL. */
static const char *json_text(apr_pool_t *p, const json_t *j, const char *empty)
{
    return j ? ce_json_dump(p, j) : empty;
}

/* Inserts one ce_instance_tag row per string of tags. */
static apr_status_t insert_tags(ce_db_t *db, apr_pool_t *p, apr_int64_t id, json_t *tags,
                                const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    const void *args[2] = {&id, NULL};
    size_t i;
    int nrows;

    for (i = 0; i < json_array_size(tags) && rv == APR_SUCCESS; i++) {
        if ((args[1] = json_string_value(json_array_get(tags, i))) != NULL) {
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
    if (!c->args[4] || !c->args[5] || !c->args[6] || !c->args[7]) {
        *perr = "Could not serialize the instance";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t ce_store_create_write(ce_db_t *db, apr_pool_t *p, ce_store_create_t *list,
                                   const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv;
    ce_store_create_t *c;

    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    for (c = list; c && rv == APR_SUCCESS; c = c->next) {
        rv = ce_store_insert(&c->id, db, p, "ce_insert_instance", c->args, perr);
        if (rv == APR_SUCCESS && c->inst->tags) {
            rv = insert_tags(db, p, c->id, c->inst->tags, perr);
        }
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

apr_status_t ce_store_instance_get(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                   const ce_catalog_t *cat, const ce_user_t *owner, apr_int64_t id,
                                   const char **perr)
{
    const char **row;
    const void *args[2] = {&id, &owner->id};
    apr_status_t rv = ce_store_fetch_one(&row, db, p, "ce_select_instance", args, perr);

    *pinst = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return instance_from_row(pinst, db, p, row, cat, owner, perr);
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
    nobody->id = apr_atoi64(ce_store_or_empty(row[IC_USER])); /* whose it is, nothing more */
    nobody->email_address = nobody->first_name = nobody->last_name = "";
    return instance_from_row(pinst, db, p, row, cat, nobody, perr);
}

apr_status_t ce_store_instance_by_token(apr_int64_t *pid, ce_db_t *db, apr_pool_t *p,
                                        const ce_user_t *owner, const char *token,
                                        const char **perr)
{
    const char **row;
    const void *args[2];
    apr_status_t rv;

    *pid = 0;
    if (!token || !owner) {
        return APR_NOTFOUND;
    }
    args[0] = ce_crypto_keyed_digest(p, db->keys, token);
    args[1] = &owner->id;
    if ((rv = ce_store_fetch_one(&row, db, p, "ce_select_instance_by_token", args, perr)) ==
        APR_SUCCESS) {
        *pid = apr_atoi64(row[0]);
        rv = atoi(ce_store_or_empty(row[1])) ? CE_STORE_EDISABLED : APR_SUCCESS;
    }
    return rv;
}

/* Rewrites the mutable columns of inst's row; APR_NOTFOUND if not there. */
static apr_status_t update_instance(ce_db_t *db, apr_pool_t *p, const ce_instance_t *inst,
                                    const char **perr)
{
    const void *args[17];
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
    args[15] = &inst->id;
    args[16] = &inst->user->id;
    if (!args[0] || !args[2] || !args[3]) {
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

/* Inside a transaction: inst's row and its tag rows rewritten. */
static apr_status_t write_instance(ce_db_t *db, apr_pool_t *p, const ce_instance_t *inst,
                                   const char **perr)
{
    const void *args[1] = {&inst->id};
    apr_status_t rv = update_instance(db, p, inst, perr);
    int nrows;

    if (rv == APR_SUCCESS) {
        rv = ce_store_run(&nrows, db, p, "ce_delete_instance_tags", args, perr);
    }
    if (rv == APR_SUCCESS && inst->tags) {
        rv = insert_tags(db, p, inst->id, inst->tags, perr);
    }
    return rv;
}

apr_status_t ce_store_instance_update(ce_db_t *db, apr_pool_t *p, const ce_instance_t *inst,
                                      const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv;

    if (!inst->user) {
        *perr = "Instance to update has no owner";
        return APR_EINVAL;
    }
    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = write_instance(db, p, inst, perr);
    return ce_store_tx_end(tx, db, p, rv, perr);
}

/* Inside a transaction: owner's instance id and its tag rows deleted. */
static apr_status_t remove_instance(ce_db_t *db, apr_pool_t *p, const ce_user_t *owner,
                                    apr_int64_t id, const char **perr)
{
    const void *args[2] = {&id, &owner->id};
    apr_status_t rv;
    int nrows;

    /* Ownership first: the tag rows are only touched once the instance was ours. */
    rv = ce_store_run(&nrows, db, p, "ce_delete_instance", args, perr);
    if (rv == APR_SUCCESS && nrows == 0) {
        *perr = "Instance not found";
        rv = APR_NOTFOUND;
    }
    if (rv == APR_SUCCESS) {
        rv = ce_store_run(&nrows, db, p, "ce_delete_instance_tags", args, perr);
    }
    return rv;
}

apr_status_t ce_store_instance_delete(ce_db_t *db, apr_pool_t *p, const ce_user_t *owner,
                                      apr_int64_t id, const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv;

    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = remove_instance(db, p, owner, id, perr);
    return ce_store_tx_end(tx, db, p, rv, perr);
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

    *pinst = NULL;
    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    /* The row as it is now, locked until the end of the transaction
     * (PostgreSQL: FOR UPDATE; SQLite: the transaction holds the write
     * lock), so no other update can come between this read and the write. */
    rv = ce_store_fetch_one(&row, db, p, "ce_select_instance_for_update", args, perr);
    if (rv == APR_SUCCESS) {
        rv = instance_from_row(pinst, db, p, row, cat, owner, perr);
    }
    if (rv == APR_SUCCESS) {
        rv = modify(*pinst, baton, perr);
    }
    if (rv == CE_STORE_DELETE) {
        rv = remove_instance(db, p, owner, id, perr);
    } else if (rv == APR_SUCCESS && (rv = write_instance(db, p, *pinst, perr)) == APR_SUCCESS) {
        (*pinst)->revision++;
    }
    rv = ce_store_tx_end(tx, db, p, rv, perr);
    if (rv != APR_SUCCESS) {
        *pinst = NULL;
    }
    return rv;
}

/* --- listing --- */

/* State of one listing: the page being filled and the keyset cursor. */
typedef struct {
    ce_db_t *db;
    apr_pool_t *p;
    const ce_catalog_t *cat;
    const ce_user_t *owner;
    const ce_instance_query_t *q;
    const char *label;         /* statement for q's SQL filters */
    apr_int64_t before;        /* scan ids below this */
    int batch;                 /* rows asked of each SELECT */
    apr_array_header_t *insts; /* the page */
    int more;
    apr_size_t bytes; /* stored configuration text on the page so far */
} listing_t;

/* Rows one SELECT of a listing asks for at most: what a batch holds in
 * memory at once is bounded too (a row's configuration can be 256 KiB and
 * more, sealed). */
#define LISTING_BATCH_MAX 26

static const char *listing_label(const ce_instance_query_t *q)
{
    int tag = q->tags && q->tags->nelts > 0;

    if (q->element_id) {
        return tag ? "ce_select_instances_by_element_tag" : "ce_select_instances_by_element";
    }
    return tag ? "ce_select_instances_by_tag" : "ce_select_instances";
}

/* 1 if the JSON array tags holds the string want. */
static int has_tag(const json_t *tags, const char *want)
{
    size_t i;

    for (i = 0; i < json_array_size(tags); i++) {
        const char *tag = json_string_value(json_array_get(tags, i));

        if (tag && strcmp(tag, want) == 0) {
            return 1;
        }
    }
    return 0;
}

/* 1 if the stored tags (JSON text) hold every tag of q after the first,
 * which the SQL already matched. */
static int has_other_tags(apr_pool_t *p, const char *text, const ce_instance_query_t *q)
{
    json_t *tags;
    int i;

    if (!q->tags || q->tags->nelts < 2) {
        return 1;
    }
    if (parse_column(&tags, p, text, JSON_ARRAY) != APR_SUCCESS) {
        return 0;
    }
    for (i = 1; i < q->tags->nelts; i++) {
        if (!has_tag(tags, APR_ARRAY_IDX(q->tags, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

/* Adds the rows of one batch that pass the C-side filters to the page,
 * moving the cursor past every row scanned. */
static apr_status_t listing_take(listing_t *l, apr_pool_t *scratch, apr_array_header_t *rows,
                                 const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    ce_instance_t *inst;
    int i;

    for (i = 0; i < rows->nelts && rv == APR_SUCCESS && !l->more; i++) {
        const char **row = APR_ARRAY_IDX(rows, i, const char **);

        l->before = apr_atoi64(row[IC_ID]);
        if (!has_other_tags(scratch, row[IC_TAGS], l->q)) {
            continue;
        }
        if (l->insts->nelts == l->q->limit ||
            (l->insts->nelts > 0 && l->bytes >= CE_PAGE_BYTES_MAX)) {
            l->more = 1; /* full: by count, or by bytes (then shorter than asked) */
        } else if ((rv = listed_from_row(&inst, l->db, l->p, row, l->cat, l->owner, perr)) ==
                   APR_SUCCESS) {
            APR_ARRAY_PUSH(l->insts, ce_instance_t *) = inst;
            l->bytes += strlen(ce_store_or_empty(row[IC_CONFIGURATION]));
        }
    }
    return rv;
}

/* One SELECT of up to l->batch rows below the cursor; *pdone when no
 * further batch can add to the page. Scanned rows live in a scratch pool. */
static apr_status_t listing_batch(listing_t *l, int *pdone, const char **perr)
{
    const void *args[5];
    int n = 0;
    apr_array_header_t *rows;
    apr_pool_t *scratch;
    apr_status_t rv;

    args[n++] = &l->owner->id;
    args[n++] = &l->before;
    if (l->q->element_id) {
        args[n++] = &l->q->element_id;
    }
    if (l->q->tags && l->q->tags->nelts > 0) {
        args[n++] = APR_ARRAY_IDX(l->q->tags, 0, const char *);
    }
    args[n] = &l->batch;
    apr_pool_create(&scratch, l->p);
    rv = ce_store_fetch(&rows, l->db, scratch, l->label, args, perr);
    if (rv == APR_SUCCESS) {
        rv = listing_take(l, scratch, rows, perr);
        *pdone = l->more || rows->nelts < l->batch;
    }
    if (rv != APR_SUCCESS) {
        *perr = apr_pstrdup(l->p, *perr ? *perr : "Stored instance is not readable");
    }
    apr_pool_destroy(scratch);
    return rv;
}

apr_status_t ce_store_instance_list(apr_array_header_t **pinsts, int *pmore, ce_db_t *db,
                                    apr_pool_t *p, const ce_catalog_t *cat, const ce_user_t *owner,
                                    const ce_instance_query_t *q, const char **perr)
{
    listing_t l = {db, p, cat, owner, q, listing_label(q), 0, 0, NULL, 0, 0};
    apr_status_t rv = APR_SUCCESS;
    int done = 0;

    *pinsts = NULL;
    *pmore = 0;
    if (q->limit < 1 || q->limit > CE_PAGE_SIZE_MAX || q->before_id < 0) {
        *perr = "Invalid page size or position";
        return APR_EINVAL;
    }
    l.before = q->before_id > 0 ? q->before_id : ID_SENTINEL;
    /* limit + 1 rows tell whether another page exists. */
    l.batch = q->limit + 1 < LISTING_BATCH_MAX ? q->limit + 1 : LISTING_BATCH_MAX;
    l.insts = apr_array_make(p, q->limit, sizeof(ce_instance_t *));
    while (rv == APR_SUCCESS && !done) {
        *perr = NULL;
        rv = listing_batch(&l, &done, perr);
    }
    if (rv == APR_SUCCESS) {
        *pinsts = l.insts;
        *pmore = l.more;
    }
    return rv;
}
