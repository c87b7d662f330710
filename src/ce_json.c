/* ce_json: jansson values whose lifetime is tied to an APR pool. */
#include <string.h>
#include <apr_strings.h>

#include "ce_json.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *ce_json_bind(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

apr_status_t ce_json_parse(json_t **pj, apr_pool_t *p, const char *buf, apr_size_t len,
                           const char **perr)
{
    json_error_t err;
    json_t *j;

    *pj = NULL;
    /* JSON_ALLOW_NUL is not given: an embedded \u0000 is an error, so every
     * string we hand on is a proper C string. */
    j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!j) {
        /* jansson ends most messages with " near '<input>'": those bytes
         * may be anything (invalid UTF-8 would make the JSON error body
         * itself unencodable), and are the caller's own anyway. */
        char *near = strstr(err.text, " near '");

        if (near) {
            *near = '\0';
        }
        *perr = apr_psprintf(p, "Malformed JSON at line %d, column %d: %s", err.line, err.column,
                             err.text);
        return APR_EINVAL;
    }
    *pj = ce_json_bind(p, j);
    return APR_SUCCESS;
}

const char *ce_json_dump(apr_pool_t *p, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    char *copy;

    if (!s) {
        return NULL;
    }
    copy = apr_pstrdup(p, s);
    free(s); /* jansson's allocation, released at once */
    return copy;
}

json_t *ce_json_object(apr_pool_t *p)
{
    return ce_json_bind(p, json_object());
}

json_t *ce_json_array(apr_pool_t *p)
{
    return ce_json_bind(p, json_array());
}

json_t *ce_json_error(apr_pool_t *p, const char *request_id, const char *message)
{
    return ce_json_bind(p, json_pack("{s:s, s:s}", "requestId", request_id, "message", message));
}
