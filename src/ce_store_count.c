/* ce_store_count: how many instances a listing matches across all its
 * pages (the Elements-Total-Count header), at a cost that does not grow
 * with the account.
 *
 * Counts without tags come from ce_instance_count: one row per user,
 * element and shard, changed in the same write transaction that inserts or
 * deletes an instance (or moves it to another element), so a count is
 * never ahead of or behind what was committed. An instance counts in the
 * shard of its id (id % CE_STORE_COUNT_SHARDS): concurrent creates of one
 * user on PostgreSQL lock different rows instead of queueing on one, and a
 * delete takes back what its create added in that same row. A total is
 * SUM(n) over the user's few rows (elements in use x shards), with an
 * element over at most CE_STORE_COUNT_SHARDS rows.
 *
 * Counts with tags come from the tag index (ce_instance_tag, keyed by
 * user, tag and instance): the instances of the user carrying the first
 * tag, each checked for the others on the tag table's primary key. The
 * cost is the first tag's matches in this account, never another
 * account's. Up to CE_STORE_COUNT_TAGS_MAX distinct tags (one prepared
 * statement per number of tags); past that APR_ENOTIMPL. */
#include <stdlib.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "ce_store_int.h"

#define SUM_COUNT "SELECT COALESCE(SUM(n), 0) FROM ce_instance_count WHERE user_id = %lld "
#define BY_ELEMENT "AND element_id = %ld"

/* Owner, first tag, [element], the other tags. */
#define TAG_COUNT "SELECT COUNT(*) FROM ce_instance_tag t WHERE t.user_id = %lld AND t.tag = %s "
#define TAG_COUNT_ELEMENT                                                                          \
    "SELECT COUNT(*) FROM ce_instance_tag t CROSS JOIN ce_instance i "                             \
    "WHERE t.user_id = %lld AND t.tag = %s AND i.id = t.instance_id AND i.element_id = %ld "
#define AND_TAG                                                                                    \
    "AND EXISTS (SELECT 1 FROM ce_instance_tag u WHERE u.instance_id = t.instance_id "             \
    "AND u.tag = %s) "

/* The labels of the tag counts, by number of tags (1..CE_STORE_COUNT_TAGS_MAX):
 * one statement of each arity below. */
_Static_assert(CE_STORE_COUNT_TAGS_MAX == 4, "one tag count statement per number of tags");
static const char *const tag_labels[2][CE_STORE_COUNT_TAGS_MAX] = {
    {"ce_count_instances_tags_1", "ce_count_instances_tags_2", "ce_count_instances_tags_3",
     "ce_count_instances_tags_4"},
    {"ce_count_instances_element_tags_1", "ce_count_instances_element_tags_2",
     "ce_count_instances_element_tags_3", "ce_count_instances_element_tags_4"}};

const ce_store_statement_t ce_store_count_statements[] = {
    /* excluded.n: the delta (+1 or -1, or the sum of a batch's) */
    {"ce_add_instance_count",
     "INSERT INTO ce_instance_count (user_id, element_id, shard, n) VALUES (%lld, %ld, %d, %d) "
     "ON CONFLICT (user_id, element_id, shard) DO UPDATE SET n = ce_instance_count.n + excluded.n"},
    {"ce_count_instances", SUM_COUNT},
    {"ce_count_instances_by_element", SUM_COUNT BY_ELEMENT},
    {"ce_count_instances_tags_1", TAG_COUNT},
    {"ce_count_instances_tags_2", TAG_COUNT AND_TAG},
    {"ce_count_instances_tags_3", TAG_COUNT AND_TAG AND_TAG},
    {"ce_count_instances_tags_4", TAG_COUNT AND_TAG AND_TAG AND_TAG},
    {"ce_count_instances_element_tags_1", TAG_COUNT_ELEMENT},
    {"ce_count_instances_element_tags_2", TAG_COUNT_ELEMENT AND_TAG},
    {"ce_count_instances_element_tags_3", TAG_COUNT_ELEMENT AND_TAG AND_TAG},
    {"ce_count_instances_element_tags_4", TAG_COUNT_ELEMENT AND_TAG AND_TAG AND_TAG},
    {NULL, NULL}};

/* Orders changes by the row they touch: user, element, shard. */
static int change_cmp(const void *a, const void *b)
{
    const ce_store_count_change_t *x = a, *y = b;
    int sx = (int)(x->instance_id % CE_STORE_COUNT_SHARDS);
    int sy = (int)(y->instance_id % CE_STORE_COUNT_SHARDS);

    if (x->user_id != y->user_id) {
        return x->user_id < y->user_id ? -1 : 1;
    }
    if (x->element_id != y->element_id) {
        return x->element_id < y->element_id ? -1 : 1;
    }
    return sx < sy ? -1 : sx > sy;
}

apr_status_t ce_store_count_apply(ce_db_t *db, apr_pool_t *p, ce_store_count_change_t *changes,
                                  int n, const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    int i = 0, nrows;

    /* Every writer locks the rows it changes in one order (PostgreSQL):
     * two transactions never wait for each other's rows in a cycle. */
    qsort(changes, (size_t)n, sizeof(*changes), change_cmp);
    while (i < n && rv == APR_SUCCESS) {
        ce_store_count_change_t *c = &changes[i];
        int shard = (int)(c->instance_id % CE_STORE_COUNT_SHARDS);
        int delta = 0;
        const void *args[4] = {&c->user_id, &c->element_id, &shard, &delta};

        /* one statement per row: the changes that fall on it summed */
        for (; i < n && change_cmp(c, &changes[i]) == 0; i++) {
            delta += changes[i].delta;
        }
        if (delta != 0) {
            rv = ce_store_run(&nrows, db, p, "ce_add_instance_count", args, perr);
        }
    }
    return rv;
}

/* q's tags without repeats, in order, into tags (at most
 * CE_STORE_COUNT_TAGS_MAX); *pn their number, past the maximum when there
 * are more. */
static void distinct_tags(const char **tags, int *pn, apr_pool_t *p, const ce_instance_query_t *q)
{
    apr_hash_t *seen = apr_hash_make(p);
    int i;

    *pn = 0;
    for (i = 0; q->tags && i < q->tags->nelts; i++) {
        const char *tag = APR_ARRAY_IDX(q->tags, i, const char *);

        if (apr_hash_get(seen, tag, APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(seen, tag, APR_HASH_KEY_STRING, tag);
        if (*pn < CE_STORE_COUNT_TAGS_MAX) {
            tags[*pn] = tag;
        }
        if (++*pn > CE_STORE_COUNT_TAGS_MAX) {
            return;
        }
    }
}

apr_status_t ce_store_instance_count(apr_int64_t *ptotal, ce_db_t *db, apr_pool_t *p,
                                     const ce_user_t *owner, const ce_instance_query_t *q,
                                     const char **perr)
{
    const char *tags[CE_STORE_COUNT_TAGS_MAX];
    const void *args[2 + CE_STORE_COUNT_TAGS_MAX];
    const char *label, **row;
    apr_status_t rv;
    int ntags, n = 0, i;

    *ptotal = 0;
    distinct_tags(tags, &ntags, p, q);
    if (ntags > CE_STORE_COUNT_TAGS_MAX) {
        *perr = "Too many tags to count";
        return APR_ENOTIMPL;
    }
    args[n++] = &owner->id;
    if (ntags > 0) {
        args[n++] = tags[0];
    }
    if (q->element_id) {
        args[n++] = &q->element_id;
    }
    for (i = 1; i < ntags; i++) {
        args[n++] = tags[i];
    }
    if (ntags > 0) {
        label = tag_labels[q->element_id ? 1 : 0][ntags - 1];
    } else {
        label = q->element_id ? "ce_count_instances_by_element" : "ce_count_instances";
    }
    if ((rv = ce_store_fetch_one(&row, db, p, label, args, perr)) == APR_SUCCESS) {
        *ptotal = apr_atoi64(ce_store_or_empty(row[0]));
    }
    return rv;
}
