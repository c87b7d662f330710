/* fuzz_auth: libFuzzer target of the Authorization header parser.
 *
 * The input is the header value as httpd hands it over (apr_table_get:
 * a NUL-terminated string, so it ends at the first NUL byte): copied into
 * a buffer of exactly that size, so ASan sees any read past the end. One
 * pool per input (fuzz.h).
 *
 * Contract checked (FUZZ_CHECK) besides sanitizer reports:
 *   - APR_SUCCESS or APR_EACCES, nothing else; a message with APR_EACCES;
 *   - longer than CE_AUTH_MAX_LEN is refused;
 *   - on success User and Organization are set, every value is a non-empty
 *     run of bytes other than space, tab and comma found in the header;
 *   - the message of a refusal quotes nothing of the header (secrets): it
 *     is one of the parser's fixed texts;
 *   - what was accepted, written back in canonical form, parses to the same
 *     values.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "ce_auth.h"
#include "fuzz.h"

static int is_value(const char *v, const char *header)
{
    return v && *v && strcspn(v, " \t,") == strlen(v) && strstr(header, v) != NULL;
}

/* Every message ce_auth_parse() may give. */
static int known_message(const char *err)
{
    static const char *const fixed[] = {
        "Missing Authorization header",
        "Malformed Authorization header: too long",
        "Malformed Authorization header: empty part",
        "Malformed Authorization header: unknown part (expected User, Organization or Element)",
        "Malformed Authorization header: parts must be separated by commas",
        "Malformed Authorization header: no User part",
        "Malformed Authorization header: no Organization part",
        "Malformed Authorization header: empty User value",
        "Malformed Authorization header: empty Organization value",
        "Malformed Authorization header: empty Element value",
        "Malformed Authorization header: more than one User part",
        "Malformed Authorization header: more than one Organization part",
        "Malformed Authorization header: more than one Element part",
        "Malformed Authorization header: control characters",
        "Malformed Authorization header line (its name, folding or length)",
        NULL,
    };
    int i;

    for (i = 0; fixed[i]; i++) {
        if (strcmp(err, fixed[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void check_roundtrip(apr_pool_t *p, const ce_credentials_t *c)
{
    ce_credentials_t again;
    const char *err = NULL;
    const char *header = apr_pstrcat(p, "User ", c->user_secret, ", Organization ",
                                     c->organization_secret, c->element_token ? ", Element " : "",
                                     c->element_token ? c->element_token : "", NULL);

    if (strlen(header) > CE_AUTH_MAX_LEN) {
        return; /* the canonical form can be longer than what was sent */
    }
    FUZZ_CHECK(ce_auth_parse(&again, p, header, &err) == APR_SUCCESS, "canonical form refused: %s",
               err);
    FUZZ_CHECK(strcmp(again.user_secret, c->user_secret) == 0 &&
                   strcmp(again.organization_secret, c->organization_secret) == 0 &&
                   (again.element_token == NULL) == (c->element_token == NULL) &&
                   (!c->element_token || strcmp(again.element_token, c->element_token) == 0),
               "canonical form parses to other values");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ce_credentials_t c;
    const char *err = NULL;

    fuzz_init();
    /* No header at all (apr_table_get gave NULL). */
    FUZZ_CHECK(ce_auth_parse(&c, fuzz_root, NULL, &err) == APR_EACCES && err, "NULL header");
    fuzz_init_done();
    return 0;
}

/* The input as a raw header line (NUL bytes and all), as the connection
 * filter sees it: flagged only when it is an Authorization line with a
 * control character in its value, outside the line's own CRLF or LF. */
static void check_raw_line(const char *line, size_t size)
{
    static const char name[] = "authorization:";
    size_t i, end = size, n = sizeof(name) - 1;
    int is_auth = size >= n, ctl = 0;

    for (i = 0; is_auth && i < n; i++) {
        is_auth = tolower((unsigned char)line[i]) == name[i];
    }
    if (end > 0 && line[end - 1] == '\n') {
        end--;
        if (end > 0 && line[end - 1] == '\r') {
            end--;
        }
    }
    for (i = n; is_auth && i < end; i++) {
        ctl |= ((unsigned char)line[i] < 0x20 && line[i] != '\t') || (unsigned char)line[i] == 0x7f;
    }
    FUZZ_CHECK(ce_auth_line_has_ctl(line, size) == (is_auth && ctl),
               "ce_auth_line_has_ctl: %d for a line that is%s an Authorization line with a "
               "control character",
               ce_auth_line_has_ctl(line, size), is_auth && ctl ? "" : " not");
}

/* The input as a connection's header lines (split after each LF; a last
 * part without one is a line too long for one read) through the
 * scrubber. Contract: an Authorization line (or a fold of one) passed on
 * as it is ends in LF, has its ':' right after the name, no control
 * character and a length the API can take; the rest of a replaced line
 * is never passed on. */
static void check_scrub(const char *data, size_t size)
{
    ce_auth_lines_t st = {0, 0};
    size_t at = 0;

    while (at < size) {
        const char *nl = memchr(data + at, '\n', size - at);
        size_t n = nl ? (size_t)(nl - (data + at)) + 1 : size - at;
        const char *line = data + at;
        int partial_before = st.partial, auth_before = st.in_authorization;
        const char *out = ce_auth_line_scrub(&st, line, n);

        if (!out && !partial_before && n >= 13 && strncasecmp(line, "authorization", 13) == 0 &&
            (n == 13 || memchr(": \t\r\n", line[13], 5))) {
            FUZZ_CHECK(n > 13 && line[13] == ':' && line[n - 1] == '\n' &&
                           n <= CE_AUTH_MAX_LEN + 64 && !ce_auth_line_has_ctl(line, n),
                       "an Authorization line passed as it is");
        }
        FUZZ_CHECK(!(auth_before && !partial_before && n > 0 &&
                     (line[0] == ' ' || line[0] == '\t') && !out),
                   "a folded Authorization line passed as it is");
        FUZZ_CHECK(!partial_before || out, "the rest of a replaced line passed as it is");
        at += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    size_t len = strnlen((const char *)data, size);
    char *header = malloc(len + 1);
    ce_credentials_t c;
    const char *err = NULL;
    apr_status_t rv;

    memcpy(header, data, len);
    header[len] = '\0';
    rv = ce_auth_parse(&c, p, header, &err);
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EACCES, "status %d", rv);
    if (rv == APR_EACCES) {
        FUZZ_CHECK(err && known_message(err), "message \"%s\"", err ? err : "(none)");
        FUZZ_CHECK(!c.user_secret && !c.organization_secret && !c.element_token,
                   "refused but credentials set");
    } else {
        FUZZ_CHECK(len <= CE_AUTH_MAX_LEN, "accepted a header of %zu bytes", len);
        FUZZ_CHECK(is_value(c.user_secret, header), "User value");
        FUZZ_CHECK(is_value(c.organization_secret, header), "Organization value");
        FUZZ_CHECK(!c.element_token || is_value(c.element_token, header), "Element value");
        check_roundtrip(p, &c);
    }
    free(header);
    check_raw_line((const char *)data, size);
    check_scrub((const char *)data, size);
    apr_pool_destroy(p);
    return 0;
}
