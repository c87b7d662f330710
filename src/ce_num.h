/* ce_num: the one number grammar of the API — ids, counts, page sizes and
 * byte counts, wherever they come from (a path segment, a query value, a
 * string in a body, a directive, a command-line option, a page token).
 *
 * Core unit: no httpd headers.
 *
 * Grammar (canonical decimal):
 *   number = "0" / nonzero *digit
 *   nonzero = "1".."9";  digit = "0".."9"   (ASCII only)
 * No sign, no whitespace, no leading zero, no other base: "16" is a number,
 * "016", "+16", "-1", " 16", "16 ", "1e3", "0x10" and "" are not. So every
 * value has exactly one spelling, which is what apr_ltoa/APR_INT64_T_FMT
 * print. The value must fit apr_int64_t and lie in the caller's [min, max].
 */
#ifndef CE_NUM_H
#define CE_NUM_H

#include <apr_errno.h>

/* *pv = s read by the grammar above, if min <= value <= max.
 * APR_EINVAL: s is NULL or not of the grammar (*pv untouched).
 * APR_ERANGE: of the grammar but outside [min, max], including past
 * APR_INT64_MAX; then *pv is the bound it is beyond (min or max), so a
 * caller that clamps needs no second look. */
apr_status_t ce_num_parse(apr_int64_t *pv, const char *s, apr_int64_t min, apr_int64_t max);

/* As ce_num_parse, over the len bytes at s, which need not end in a NUL
 * (any NUL among them is not of the grammar). s may be NULL only if len is 0. */
apr_status_t ce_num_parse_n(apr_int64_t *pv, const char *s, apr_size_t len, apr_int64_t min,
                            apr_int64_t max);

#endif
