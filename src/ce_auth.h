/* ce_auth: parser of the Cloud Elements Authorization header.
 *
 * Core unit: no httpd headers.
 * Grammar: "User <secret>, Organization <secret>[, Element <token>]".
 * The three parts may come in any order; names are case-insensitive; spaces
 * around commas are optional; each part at most once; User and Organization
 * are required; a value is one non-empty run of non-space, non-comma bytes
 * (base64 characters in practice).
 */
#ifndef CE_AUTH_H
#define CE_AUTH_H

#include <apr_pools.h>

/* Longest Authorization header we parse; longer is malformed. */
#define CE_AUTH_MAX_LEN 1024

typedef struct {
    const char *user_secret;
    const char *organization_secret;
    const char *element_token; /* NULL when the header has no Element part */
} ce_credentials_t;

/* Parses header (may be NULL) into *creds (strings copied into p).
 * Returns APR_SUCCESS, or APR_EACCES with *perr set to a message that never
 * contains any part of the header's values (they are secrets). */
apr_status_t ce_auth_parse(ce_credentials_t *creds, apr_pool_t *p, const char *header,
                           const char **perr);

/* What an Authorization header line with control characters becomes before
 * httpd parses it (see ce_auth_line_has_ctl); ce_auth_parse refuses it
 * with its own message. */
#define CE_AUTH_SCRUBBED "[control characters: removed by mod_ceinstances]"

/* Whether the len bytes at line (one raw request header line, as read from
 * the client, its CRLF or LF included or not) are an Authorization header
 * (name case-insensitive) whose value holds a control character other than
 * HTAB (NUL and DEL included). httpd refuses such a request, logging the
 * whole value at LogLevel debug; the module replaces the line first. */
int ce_auth_line_has_ctl(const char *line, apr_size_t len);

/* What an Authorization header line httpd would refuse for its shape
 * becomes (a malformed name, "Authorization : ..." or "Authorization
 * User ..."; a line longer than LimitRequestFieldSize; a folded
 * continuation of it): httpd logs such lines whole, secrets included. */
#define CE_AUTH_MALFORMED "[malformed: removed by mod_ceinstances]"

/* A connection's place in its header lines, for ce_auth_line_scrub. */
typedef struct {
    int in_authorization; /* the last line was an Authorization line */
    int partial;          /* inside a replaced line whose LF has not come yet */
} ce_auth_lines_t;

/* One raw header-line read of a connection (AP_MODE_GETLINE: a whole line
 * with its LF, or the first or next part of a line too long for one read),
 * in order. Returns NULL to pass the bytes on as they are, or the bytes
 * (static) to pass on instead:
 * - an Authorization line with control characters in its value:
 *   "Authorization: " CE_AUTH_SCRUBBED CRLF;
 * - a header line whose name is Authorization followed by anything but
 *   ':' (AH02426 logs those), or an Authorization line longer than
 *   CE_AUTH_MAX_LEN + 64 bytes or not ending in this read (httpd logs a
 *   line past LimitRequestFieldSize whole):
 *   "Authorization: " CE_AUTH_MALFORMED, its CRLF once the line ends (the
 *   parts after the first become a space each);
 * - a continuation line (starting with SP or HTAB) folded into an
 *   Authorization line: " " CE_AUTH_MALFORMED CRLF.
 * st carries what it needs from line to line; zero it for a connection. */
const char *ce_auth_line_scrub(ce_auth_lines_t *st, const char *line, apr_size_t len);

#endif
