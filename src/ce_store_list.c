/* ce_store_list: an owner's instances, a page at a time, newest first, by
 * keyset pagination (id < the last one of the page before), so a page
 * costs the same whatever the account's size. Filters: element in SQL, the
 * first tag in SQL (from the owner's part of the tag index), the other
 * tags in C while the page fills. Its total: ce_store_count.c. */
#include <string.h>
#include <apr_strings.h>

#include "ce_store_int.h"

/* "No upper bound" for keyset pagination (before_id 0). */
#define ID_SENTINEL APR_INT64_MAX

/* Listing: owner, before id, [element], [first tag], limit. With a tag the
 * scan starts from the owner's part of the tag index (CROSS JOIN fixes that
 * join order in SQLite and is an ordinary inner join elsewhere). */
#define LIST_ALL(ELEMENT)                                                                          \
    "SELECT " CE_STORE_INSTANCE_COLUMNS " FROM ce_instance i WHERE i.user_id = %lld "              \
    "AND i.id < %lld " ELEMENT "ORDER BY i.id DESC LIMIT %d"
#define LIST_TAG(ELEMENT)                                                                          \
    "SELECT " CE_STORE_INSTANCE_COLUMNS " FROM ce_instance_tag t CROSS JOIN ce_instance i "        \
    "WHERE i.id = t.instance_id AND t.user_id = %lld AND i.user_id = t.user_id "                   \
    "AND t.instance_id < %lld " ELEMENT "AND t.tag = %s ORDER BY t.instance_id DESC LIMIT %d"
#define BY_ELEMENT "AND i.element_id = %ld "

const ce_store_statement_t ce_store_list_statements[] = {
    {"ce_select_instances", LIST_ALL("")},
    {"ce_select_instances_by_element", LIST_ALL(BY_ELEMENT)},
    {"ce_select_instances_by_tag", LIST_TAG("")},
    {"ce_select_instances_by_element_tag", LIST_TAG(BY_ELEMENT)},
    {NULL, NULL}};

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
    if (ce_store_json_column(&tags, p, text, JSON_ARRAY) != APR_SUCCESS) {
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

        l->before = apr_atoi64(row[CE_IC_ID]);
        if (!has_other_tags(scratch, row[CE_IC_TAGS], l->q)) {
            continue;
        }
        if (l->insts->nelts == l->q->limit ||
            (l->insts->nelts > 0 && l->bytes >= CE_PAGE_BYTES_MAX)) {
            l->more = 1; /* full: by count, or by bytes (then shorter than asked) */
        } else if ((rv = ce_store_instance_listed(&inst, l->db, l->p, row, l->cat, l->owner,
                                                  l->q->read, perr)) == APR_SUCCESS) {
            APR_ARRAY_PUSH(l->insts, ce_instance_t *) = inst;
            l->bytes += strlen(ce_store_or_empty(row[CE_IC_CONFIGURATION]));
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
