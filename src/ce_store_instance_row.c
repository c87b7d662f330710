/* ce_store_instance_row: a row of CE_STORE_INSTANCE_COLUMNS into an
 * instance (its stored view, or its tags and configuration parsed), its
 * sealed values opened; for a read (ce_store_instance.c) and for a listing
 * (ce_store_list.c), where a value that does not open marks the instance
 * unreadable instead of failing the page. */
#include <string.h>
#include <apr_strings.h>

#include "ce_json.h"
#include "ce_log.h"
#include "ce_store_int.h"

apr_status_t ce_store_json_column(json_t **pj, apr_pool_t *p, const char *text, json_type type)
{
    const char *err;

    if (!text || ce_json_parse(pj, p, text, strlen(text), &err) != APR_SUCCESS ||
        json_typeof(*pj) != type) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Tags and configuration of the row parsed into inst (nothing opened). */
static apr_status_t json_from_row(ce_instance_t *inst, apr_pool_t *p, const char **row,
                                  const char **perr)
{
    if (ce_store_json_column(&inst->tags, p, row[CE_IC_TAGS], JSON_ARRAY) != APR_SUCCESS ||
        ce_store_json_column(&inst->configuration, p, row[CE_IC_CONFIGURATION], JSON_OBJECT) !=
            APR_SUCCESS) {
        *perr =
            apr_psprintf(p, "Instance %s: stored tags or configuration unreadable", row[CE_IC_ID]);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The plain columns of a row into inst (tags and configuration neither
 * parsed nor opened). */
static void columns_from_row(ce_instance_t *inst, apr_pool_t *p, const char **row,
                             const ce_catalog_t *cat, const ce_user_t *owner)
{
    inst->id = apr_atoi64(row[CE_IC_ID]);
    inst->organization_id = apr_atoi64(ce_store_or_empty(row[CE_IC_ORGANIZATION]));
    inst->user = owner;
    inst->element_id = (long)apr_atoi64(ce_store_or_empty(row[CE_IC_ELEMENT]));
    inst->element = cat ? ce_catalog_by_id(cat, inst->element_id) : NULL;
    inst->name = apr_pstrdup(p, ce_store_or_empty(row[CE_IC_NAME]));
    inst->disabled = atoi(ce_store_or_empty(row[CE_IC_DISABLED]));
    inst->max_cache_size = (long)apr_atoi64(ce_store_or_empty(row[CE_IC_MAX_CACHE_SIZE]));
    inst->cache_time_to_live = (long)apr_atoi64(ce_store_or_empty(row[CE_IC_CACHE_TTL]));
    inst->caching_enabled = atoi(ce_store_or_empty(row[CE_IC_CACHING]));
    inst->trace_logging_enabled = atoi(ce_store_or_empty(row[CE_IC_TRACE]));
    inst->revision = apr_atoi64(ce_store_or_empty(row[CE_IC_REVISION]));
    inst->created_date = apr_pstrdup(p, ce_store_or_empty(row[CE_IC_CREATED]));
    inst->updated_date = apr_pstrdup(p, ce_store_or_empty(row[CE_IC_UPDATED]));
    inst->oauth_due = apr_atoi64(ce_store_or_empty(row[CE_IC_OAUTH_DUE]));
    inst->oauth_failures = atoi(ce_store_or_empty(row[CE_IC_OAUTH_FAILURES]));
    inst->oauth_status = apr_pstrdup(p, ce_store_or_empty(row[CE_IC_OAUTH_STATUS]));
    inst->external_authentication = row[CE_IC_EXTERNAL_AUTH] && *row[CE_IC_EXTERNAL_AUTH]
                                        ? apr_pstrdup(p, row[CE_IC_EXTERNAL_AUTH])
                                        : "none";
}

/* Opens inst's sealed token (from the row) and configuration values in
 * place. APR_EGENERAL, *perr naming the instance and the value (never its
 * content), when one fails authentication. */
static apr_status_t open_sealed(ce_instance_t *inst, ce_db_t *db, apr_pool_t *p, const char **row,
                                const char **perr)
{
    const char *err = NULL;
    apr_size_t len;

    if (inst->view && !inst->configuration) {
        return APR_SUCCESS; /* an answer's read: the view held the token */
    }
    if (ce_store_open(&inst->token, &len, p, db->keys, CE_SEALED_INSTANCE_TOKEN,
                      row[CE_IC_TOKEN]) != APR_SUCCESS) {
        inst->token = NULL;
        *perr = apr_psprintf(p,
                             "Instance %s: the stored token fails authentication "
                             "(tampered, or another key)",
                             row[CE_IC_ID]);
        return APR_EGENERAL;
    }
    if (inst->configuration &&
        ce_store_open_configuration(inst->configuration, p, db->keys, &err) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "Instance %s: %s", row[CE_IC_ID], err);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The row into a new *pinst, read as how says (ce_store.h): with a view
 * that serves (and only a view asked for), its tags and configuration are
 * left unparsed and unopened. */
static apr_status_t read_row(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p, const char **row,
                             const ce_catalog_t *cat, const ce_user_t *owner, unsigned how,
                             const char **perr)
{
    ce_instance_t *inst = apr_pcalloc(p, sizeof(*inst));

    *pinst = inst;
    columns_from_row(inst, p, row, cat, owner);
    if ((how & CE_STORE_READ_VIEW) && ce_store_view_from_row(inst, db, p, row) &&
        !(how & CE_STORE_READ_FULL)) {
        return APR_SUCCESS;
    }
    return json_from_row(inst, p, row, perr);
}

/* The instance of a row, its sealed values opened. A value that fails
 * authentication fails this instance only: APR_EGENERAL, *perr naming the
 * instance and the value, never its content. */
apr_status_t ce_store_instance_from_row(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                        const char **row, const ce_catalog_t *cat,
                                        const ce_user_t *owner, unsigned how, const char **perr)
{
    ce_instance_t *inst;
    apr_status_t rv = read_row(&inst, db, p, row, cat, owner, how, perr);

    *pinst = NULL;
    if (rv == APR_SUCCESS && (rv = open_sealed(inst, db, p, row, perr)) == APR_SUCCESS) {
        *pinst = inst;
    }
    return rv;
}

apr_status_t ce_store_instance_listed(ce_instance_t **pinst, ce_db_t *db, apr_pool_t *p,
                                      const char **row, const ce_catalog_t *cat,
                                      const ce_user_t *owner, unsigned how, const char **perr)
{
    ce_instance_t *inst;
    const char *err = NULL;
    apr_status_t rv = read_row(&inst, db, p, row, cat, owner, how, perr);

    *pinst = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (open_sealed(inst, db, p, row, &err) != APR_SUCCESS) {
        ce_log(CE_LOG_MARK, CE_LOG_ERR, 0,
               "CE00032: %s; listed as not valid, without its token and sealed values", err);
        inst->unreadable = 1;
        inst->token = NULL;
        inst->view = NULL; /* what it shows is what opened */
        ce_store_drop_sealed(inst->configuration);
    }
    *pinst = inst;
    return APR_SUCCESS;
}
