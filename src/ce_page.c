/* ce_page: the listing query and page tokens (see ce_page.h). apr decodes
 * (apr_escape for the query, apr_encode for base64url); ce_num reads the
 * numbers. */
#include <string.h>
#include <strings.h>
#include <apr_encode.h>
#include <apr_escape.h>
#include <apr_strings.h>

#include "ce_instance.h"
#include "ce_num.h"
#include "ce_page.h"

#define B64URL (APR_ENCODE_BASE64URL | APR_ENCODE_NOPADDING)
/* "i:" + 19 digits is 21 bytes, 28 base64url characters. */
#define PAGE_TOKEN_MAX 28
#define PAGE_RAW_MAX 21

/* The query's pairs that matter, decoded, before they are read. */
typedef struct {
    const char *page_size; /* first pageSize, or NULL */
    const char *next_page; /* first nextPage, or NULL */
    const char *hydrate;   /* first hydrate, or NULL */
    apr_array_header_t *tags;
} pairs_t;

/* s decoded as a form value, or NULL when it does not decode (apr refuses
 * a bad escape and %00, as httpd's ap_unescape_urlencoded does). */
static const char *form_decode(apr_pool_t *p, const char *s)
{
    return apr_punescape_url(p, s, NULL, NULL, 1);
}

/* Whether s is short printable ASCII, fit to be quoted in an error. */
static int printable_name(const char *s)
{
    apr_size_t n = strlen(s);

    return n > 0 && n <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789[]._-") == n;
}

/* Files one decoded pair into pr; names as httpd's tables compare them. */
static int take_pair(void *data, const char *name, const char *value)
{
    pairs_t *pr = data;

    if (strcasecmp(name, "pageSize") == 0) {
        pr->page_size = pr->page_size ? pr->page_size : value;
    } else if (strcasecmp(name, "nextPage") == 0) {
        pr->next_page = pr->next_page ? pr->next_page : value;
    } else if (strcasecmp(name, "hydrate") == 0) {
        pr->hydrate = pr->hydrate ? pr->hydrate : value;
    } else if (strcasecmp(name, "tags[]") == 0) {
        APR_ARRAY_PUSH(pr->tags, const char *) = ce_instance_sanitize(pr->tags->pool, value);
    }
    return 1;
}

/* A pair whose name or value does not decode (a bad escape, %00) is
 * refused, not dropped: dropping a tags[] value would widen the filter to
 * every instance. */
apr_status_t ce_page_query_pairs(apr_table_t **ppairs, apr_pool_t *p, const char *args,
                                 const char **perr)
{
    char *copy = apr_pstrdup(p, args ? args : ""), *state = NULL, *pair, *eq;
    const char *name, *value;
    apr_table_t *t = apr_table_make(p, 4);

    for (pair = apr_strtok(copy, "&", &state); pair; pair = apr_strtok(NULL, "&", &state)) {
        if ((eq = strchr(pair, '=')) != NULL) {
            *eq++ = '\0';
        }
        name = form_decode(p, pair);
        value = form_decode(p, eq ? eq : "");
        if (!name || !value) {
            *perr = name && printable_name(name)
                        ? apr_psprintf(p,
                                       "Query parameter %s does not decode (a bad %%-escape "
                                       "or %%00)",
                                       name)
                        : "A query parameter name does not decode (a bad %-escape or %00)";
            return APR_EINVAL;
        }
        apr_table_addn(t, name, value);
    }
    *ppairs = t;
    return APR_SUCCESS;
}

/* pageSize: a positive number; above the maximum (even past int64) is the
 * maximum. */
static apr_status_t page_size(int *plimit, const char *s)
{
    apr_int64_t v;

    if (!s) {
        *plimit = CE_PAGE_SIZE_DEFAULT;
        return APR_SUCCESS;
    }
    if (ce_num_parse(&v, s, 0, CE_PAGE_SIZE_MAX) == APR_EINVAL || v < 1) {
        return APR_EINVAL;
    }
    *plimit = (int)v; /* APR_ERANGE: v is the maximum */
    return APR_SUCCESS;
}

apr_status_t ce_page_query_parse(ce_instance_query_t *q, apr_pool_t *p, const char *args,
                                 long element_id, const char **perr)
{
    pairs_t pr = {NULL, NULL, NULL, apr_array_make(p, 2, sizeof(const char *))};
    apr_table_t *pairs;

    memset(q, 0, sizeof(*q));
    if (ce_page_query_pairs(&pairs, p, args, perr) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    apr_table_do(take_pair, &pr, pairs, NULL);
    if (page_size(&q->limit, pr.page_size) != APR_SUCCESS) {
        *perr = "pageSize must be a positive integer";
        return APR_EINVAL;
    }
    if (pr.next_page && *pr.next_page &&
        ce_page_token_parse(&q->before_id, pr.next_page) != APR_SUCCESS) {
        *perr = "Invalid nextPage token";
        return APR_EINVAL;
    }
    if (pr.hydrate && strcmp(pr.hydrate, "true") != 0 && strcmp(pr.hydrate, "false") != 0) {
        *perr = "hydrate must be true or false";
        return APR_EINVAL;
    }
    q->dehydrated = pr.hydrate && strcmp(pr.hydrate, "false") == 0;
    q->tags = pr.tags;
    q->element_id = element_id;
    return APR_SUCCESS;
}

const char *ce_page_token(apr_pool_t *p, apr_int64_t last_id)
{
    const char *raw = apr_psprintf(p, "i:%" APR_INT64_T_FMT, last_id);

    return apr_pencode_base64(p, raw, APR_ENCODE_STRING, B64URL, NULL);
}

/* apr's decoder is lenient (it takes '+', padding and stray low bits), so
 * a token is accepted only if encoding what it decodes to gives it back. */
apr_status_t ce_page_token_parse(apr_int64_t *plast_id, const char *token)
{
    char raw[PAGE_RAW_MAX + 8], again[PAGE_TOKEN_MAX + 8];
    apr_size_t n = 0, len;
    apr_int64_t id;

    if (!token || (len = strlen(token)) == 0 || len > PAGE_TOKEN_MAX ||
        apr_decode_base64(raw, token, len, B64URL, &n) != APR_SUCCESS || n < 3 || raw[0] != 'i' ||
        raw[1] != ':') {
        return APR_EINVAL;
    }
    if (apr_encode_base64(again, raw, (apr_ssize_t)n, B64URL, NULL) != APR_SUCCESS ||
        strcmp(again, token) != 0) {
        return APR_EINVAL; /* not the spelling ce_page_token makes */
    }
    if (ce_num_parse_n(&id, raw + 2, n - 2, 1, APR_INT64_MAX) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    *plast_id = id;
    return APR_SUCCESS;
}

const char *ce_page_mask_query(apr_pool_t *p, const char *args, const char *name)
{
    char *copy, *state = NULL, *pair, *eq;
    const char *out = NULL, *decoded;
    int masked = 0;

    if (!args || !*args) {
        return args;
    }
    copy = apr_pstrdup(p, args);
    for (pair = apr_strtok(copy, "&", &state); pair; pair = apr_strtok(NULL, "&", &state)) {
        eq = strchr(pair, '=');
        decoded = form_decode(p, eq ? apr_pstrmemdup(p, pair, (apr_size_t)(eq - pair)) : pair);
        if (decoded && strcasecmp(decoded, name) == 0) {
            pair = apr_pstrcat(p, eq ? apr_pstrmemdup(p, pair, (apr_size_t)(eq - pair)) : pair,
                               "=" CE_MASK, NULL);
            masked = 1;
        }
        out = out ? apr_pstrcat(p, out, "&", pair, NULL) : pair;
    }
    return masked ? out : args;
}
