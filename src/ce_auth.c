/* ce_auth: parser of the Cloud Elements Authorization header.
 *
 * "User <secret>, Organization <secret>[, Element <token>]", parts in any
 * order. Every message this file produces is a constant: the header carries
 * secrets, so nothing taken from it is ever echoed back.
 */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "ce_auth.h"

enum { PART_USER, PART_ORGANIZATION, PART_ELEMENT, PART_COUNT };

static const char *const part_names[PART_COUNT] = {"User", "Organization", "Element"};

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

/* Length of the run of bytes at s that may form a name or a value. */
static apr_size_t run_len(const char *s)
{
    return strcspn(s, " \t,");
}

/* PART_* for the name of len bytes at s (case-insensitive), or -1. */
static int part_of(const char *s, apr_size_t len)
{
    int i;

    for (i = 0; i < PART_COUNT; i++) {
        if (strlen(part_names[i]) == len && strncasecmp(part_names[i], s, len) == 0) {
            return i;
        }
    }
    return -1;
}

/* Parses one "Name value" part at *ps into values[], advancing *ps past the
 * value and any trailing spaces. Returns the error message, or NULL. */
static const char *parse_part(const char **ps, const char **values, apr_pool_t *p)
{
    const char *s = skip_ows(*ps);
    apr_size_t len = run_len(s);
    int part;

    if (len == 0) {
        return "Malformed Authorization header: empty part";
    }
    part = part_of(s, len);
    if (part < 0) {
        return "Malformed Authorization header: unknown part (expected User, Organization "
               "or Element)";
    }
    s = skip_ows(s + len);
    len = run_len(s);
    if (len == 0) {
        return apr_psprintf(p, "Malformed Authorization header: empty %s value", part_names[part]);
    }
    if (values[part]) {
        return apr_psprintf(p, "Malformed Authorization header: more than one %s part",
                            part_names[part]);
    }
    values[part] = apr_pstrmemdup(p, s, len);
    *ps = skip_ows(s + len);
    return NULL;
}

/* Parses the comma-separated parts of header into values[]. */
static const char *parse_parts(const char *header, const char **values, apr_pool_t *p)
{
    const char *s = header;
    const char *err;

    for (;;) {
        err = parse_part(&s, values, p);
        if (err) {
            return err;
        }
        if (*s == '\0') {
            return NULL;
        }
        if (*s != ',') {
            return "Malformed Authorization header: parts must be separated by commas";
        }
        s++;
    }
}

apr_status_t ce_auth_parse(ce_credentials_t *creds, apr_pool_t *p, const char *header,
                           const char **perr)
{
    const char *values[PART_COUNT] = {NULL, NULL, NULL};
    const char *err;

    memset(creds, 0, sizeof(*creds));
    if (!header) {
        err = "Missing Authorization header";
    } else if (strcmp(header, CE_AUTH_SCRUBBED) == 0) {
        err = "Malformed Authorization header: control characters";
    } else if (strncmp(header, CE_AUTH_MALFORMED, sizeof(CE_AUTH_MALFORMED) - 1) == 0) {
        err = "Malformed Authorization header line (its name, folding or length)";
    } else if (strlen(header) > CE_AUTH_MAX_LEN) {
        err = "Malformed Authorization header: too long";
    } else if ((err = parse_parts(header, values, p)) == NULL) {
        if (!values[PART_USER]) {
            err = "Malformed Authorization header: no User part";
        } else if (!values[PART_ORGANIZATION]) {
            err = "Malformed Authorization header: no Organization part";
        }
    }
    if (err) {
        *perr = err;
        return APR_EACCES;
    }
    creds->user_secret = values[PART_USER];
    creds->organization_secret = values[PART_ORGANIZATION];
    creds->element_token = values[PART_ELEMENT];
    return APR_SUCCESS;
}

int ce_auth_line_has_ctl(const char *line, apr_size_t len)
{
    static const char name[] = "Authorization:";
    const apr_size_t n = sizeof(name) - 1;
    apr_size_t i;

    if (len < n || strncasecmp(line, name, n) != 0) {
        return 0;
    }
    if (len > 0 && line[len - 1] == '\n') {
        len--;
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
    }
    for (i = n; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* Whether line starts with the header name Authorization (any case) and
 * the byte after it, if any, cannot continue a longer name. */
static int authorization_name(const char *line, apr_size_t len)
{
    static const char name[] = "authorization";
    const apr_size_t n = sizeof(name) - 1;

    return len >= n && strncasecmp(line, name, n) == 0 &&
           (len == n || line[n] == ':' || line[n] == ' ' || line[n] == '\t' || line[n] == '\r' ||
            line[n] == '\n');
}

const char *ce_auth_line_scrub(ce_auth_lines_t *st, const char *line, apr_size_t len)
{
    static const char ctl_line[] = "Authorization: " CE_AUTH_SCRUBBED "\r\n";
    static const char bad_line[] = "Authorization: " CE_AUTH_MALFORMED "\r\n";
    static const char bad_start[] = "Authorization: " CE_AUTH_MALFORMED;
    static const char folded[] = " " CE_AUTH_MALFORMED "\r\n";
    static const char folded_start[] = " " CE_AUTH_MALFORMED;
    int ends = len > 0 && line[len - 1] == '\n';

    if (st->partial) {
        st->partial = !ends;
        return ends ? "\r\n" : " ";
    }
    if (len > 0 && (line[0] == ' ' || line[0] == '\t') && st->in_authorization) {
        st->partial = !ends;
        return ends ? folded : folded_start;
    }
    st->in_authorization = authorization_name(line, len);
    if (!st->in_authorization) {
        return NULL;
    }
    /* Longer than any value ce_auth_parse takes: refused anyway, and httpd
     * logs a line past LimitRequestFieldSize whole. */
    if (len <= 13 || line[13] != ':' || !ends || len > CE_AUTH_MAX_LEN + 64) {
        st->partial = !ends;
        return ends ? bad_line : bad_start;
    }
    return ce_auth_line_has_ctl(line, len) ? ctl_line : NULL;
}
