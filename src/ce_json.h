/* ce_json: jansson values whose lifetime is tied to an APR pool.
 *
 * Core unit: no httpd headers. A json_t bound to a pool is json_decref'd by a
 * pool cleanup, so no error path can leak it (mod_md's md_json pattern).
 */
#ifndef CE_JSON_H
#define CE_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/* Ties one reference of j to pool p (decref'd when p is cleared/destroyed).
 * Returns j (NULL stays NULL, nothing registered). */
json_t *ce_json_bind(apr_pool_t *p, json_t *j);

/* Parses len bytes of buf as one JSON value (any type), rejecting duplicate
 * object keys, NUL bytes and trailing garbage. On success *pj is bound to p.
 * On failure returns APR_EINVAL and sets *perr (in p) to a message such as
 * "Malformed JSON at line 1, column 7: ...". */
apr_status_t ce_json_parse(json_t **pj, apr_pool_t *p, const char *buf, apr_size_t len,
                           const char **perr);

/* Compact serialization of j into a NUL-terminated string allocated in p.
 * Returns NULL only if jansson fails (out of memory). */
const char *ce_json_dump(apr_pool_t *p, const json_t *j);

/* The API's one error body, {"requestId": request_id, "message": message},
 * bound to p; NULL only if jansson fails. Every error answer is built here
 * (the handler's failures and httpd's own error pages alike). */
json_t *ce_json_error(apr_pool_t *p, const char *request_id, const char *message);

/* A new empty object / array bound to p. */
json_t *ce_json_object(apr_pool_t *p);
json_t *ce_json_array(apr_pool_t *p);

#endif
