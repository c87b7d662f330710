/* ce_num: the one number grammar (see ce_num.h). The grammar is checked
 * here; apr converts (apr_cstr_strtoi64, which also catches overflow). */
#include <string.h>
#include <apr_cstr.h>

#include "ce_num.h"

/* Digits in APR_INT64_MAX (9223372036854775807): a canonical number with
 * more is out of range without converting it. */
#define INT64_DIGITS 19

/* Whether the len bytes at s are a canonical decimal number. */
static int canonical(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || (s[0] == '0' && len > 1)) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0; /* not apr_isdigit: that follows the locale */
        }
    }
    return 1;
}

/* APR_ERANGE with *pv at the bound the value is beyond. */
static apr_status_t out_of_range(apr_int64_t *pv, int above, apr_int64_t min, apr_int64_t max)
{
    *pv = above ? max : min;
    return APR_ERANGE;
}

apr_status_t ce_num_parse_n(apr_int64_t *pv, const char *s, apr_size_t len, apr_int64_t min,
                            apr_int64_t max)
{
    char buf[INT64_DIGITS + 1];
    apr_int64_t v;
    apr_status_t rv;

    if ((!s && len) || !canonical(s, len)) {
        return APR_EINVAL;
    }
    if (len > INT64_DIGITS) {
        return out_of_range(pv, 1, min, max);
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* Unsigned canonical digits: apr fails only on overflow past INT64_MAX. */
    rv = apr_cstr_strtoi64(&v, buf, 0, APR_INT64_MAX, 10);
    if (rv != APR_SUCCESS || v > max) {
        return out_of_range(pv, 1, min, max);
    }
    if (v < min) {
        return out_of_range(pv, 0, min, max);
    }
    *pv = v;
    return APR_SUCCESS;
}

apr_status_t ce_num_parse(apr_int64_t *pv, const char *s, apr_int64_t min, apr_int64_t max)
{
    return s ? ce_num_parse_n(pv, s, strlen(s), min, max) : APR_EINVAL;
}
