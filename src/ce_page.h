/* ce_page: one page of GET /instances — the query that selects it.
 *
 * Core unit: no httpd headers.
 */
#ifndef CE_PAGE_H
#define CE_PAGE_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Which instances a listing returns (ce_store_instance_list). */
typedef struct {
    long element_id;                /* 0: any element */
    const apr_array_header_t *tags; /* of const char *; NULL/empty: no filter; all must match */
    apr_int64_t before_id;          /* 0: from the newest; else only ids < before_id */
    int limit;                      /* 1..CE_PAGE_SIZE_MAX */
} ce_instance_query_t;

#endif
