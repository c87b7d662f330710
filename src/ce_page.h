/* ce_page: one page of GET /instances — the query that selects it, read
 * from the request's query string, and the token that names the next page.
 *
 * Core unit: no httpd headers.
 *
 * Query string (application/x-www-form-urlencoded): pairs split on '&'
 * (empty pairs skipped), name and value split at the first '=' (no '=':
 * the value is ""), each decoded with '+' as a space and %XX escapes. A
 * pair whose name or value does not decode (a bad escape, or %00) is left
 * out, not guessed at. Names are matched case-insensitively (as httpd's
 * tables do); other names are ignored.
 *   pageSize  the first one counts; a positive number (ce_num's grammar:
 *             no sign, no leading zero); above CE_PAGE_SIZE_MAX, however
 *             large, it is CE_PAGE_SIZE_MAX. Absent: CE_PAGE_SIZE_DEFAULT.
 *   nextPage  the first one counts; a token made by ce_page_token; "" is
 *             as if absent.
 *   tags[]    repeatable; each value through ce_instance_sanitize, in order;
 *             all must match.
 *
 * Page token: unpadded base64url of "i:<id>", id the last one of the page
 * before (instances are listed newest first). One spelling per id.
 */
#ifndef CE_PAGE_H
#define CE_PAGE_H

#include <apr_pools.h>
#include <apr_tables.h>

#define CE_PAGE_SIZE_DEFAULT 200
#define CE_PAGE_SIZE_MAX 500

/* Which instances a listing returns (ce_store_instance_list). */
typedef struct {
    long element_id;                /* 0: any element */
    const apr_array_header_t *tags; /* of const char *; NULL/empty: no filter; all must match */
    apr_int64_t before_id;          /* 0: from the newest; else only ids < before_id */
    int limit;                      /* 1..CE_PAGE_SIZE_MAX */
    int dehydrated;                 /* hydrate=false: each element as id, key and name */
    unsigned read;                  /* how rows are read (CE_STORE_READ_*); 0: in full */
} ce_instance_query_t;

/* Reads the query string args (the raw, still encoded r->args; NULL or ""
 * for none) into *q as described above, for a listing scoped to element_id
 * (0: any). Everything allocated in p.
 * APR_EINVAL with *perr "pageSize must be a positive integer",
 * "Invalid nextPage token" or "hydrate must be true or false" (checked in
 * that order); *q is then unspecified. */
apr_status_t ce_page_query_parse(ce_instance_query_t *q, apr_pool_t *p, const char *args,
                                 long element_id, const char **perr);

/* The query string args (raw, still encoded; NULL or "" for none) as a
 * table of decoded name/value pairs, in order (apr tables compare names
 * without case, as httpd's do). APR_EINVAL with *perr when a name or a
 * value does not decode (a bad %-escape, %00), naming it when printable. */
apr_status_t ce_page_query_pairs(apr_table_t **ppairs, apr_pool_t *p, const char *args,
                                 const char **perr);

/* args (a raw query string) with the value of every pair whose name
 * decodes to name (without case, as ce_page_query_pairs reads it)
 * replaced by CE_MASK; args itself when there is none. For logs: a
 * secret a client put in a query must not reach httpd's. */
const char *ce_page_mask_query(apr_pool_t *p, const char *args, const char *name);

/* The token naming the page after the one whose last (oldest) instance is
 * last_id: opaque to clients, URL-safe (base64url, no padding). */
const char *ce_page_token(apr_pool_t *p, apr_int64_t last_id);

/* *plast_id = the id a token from ce_page_token names. APR_EINVAL (and
 * *plast_id untouched) for NULL and for anything ce_page_token could not
 * have produced for a positive id: another alphabet, padding, stray bits,
 * a leading zero, a sign, overflow, trailing bytes. */
apr_status_t ce_page_token_parse(apr_int64_t *plast_id, const char *token);

#endif
