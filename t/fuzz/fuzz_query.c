/* fuzz_query: libFuzzer target of the core functions that take URL parts
 * (src/ce_page.c, src/ce_instance.c, src/ce_catalog.c):
 *   nextPage   ce_page_token_parse (into a fixed-size buffer);
 *   tags[]     ce_instance_sanitize of each value;
 *   {key|id}   ce_catalog_find of /elements/{key or id}/...
 *   a query    ce_page_mask_query (apiSecret masked before httpd logs it)
 * The input is one decoded query value or path segment: a NUL-terminated
 * string (it ends at the first NUL byte), in a buffer of exactly its size.
 *
 * Contract checked (FUZZ_CHECK): an accepted page token is exactly what
 * ce_page_token() makes of its id (there is one spelling per
 * page); sanitize removes every tag and the surrounding space and never
 * grows the text; find answers only the element whose key, or decimal id
 * without sign or leading zero, is the input; a masked query decodes to
 * the same pair names, every apiSecret value the mask.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "ce_catalog.h"
#include "ce_instance.h"
#include "ce_page.h"
#include "fuzz.h"

static const ce_catalog_t *cat;

static void page_token(apr_pool_t *p, const char *s)
{
    apr_int64_t id = 0;

    if (ce_page_token_parse(&id, s) == APR_SUCCESS) {
        FUZZ_CHECK(id > 0, "token gives id %lld", (long long)id);
        FUZZ_CHECK(strcmp(ce_page_token(p, id), s) == 0, "token is not the one spelling of id %lld",
                   (long long)id);
    }
}

static void sanitize(apr_pool_t *p, const char *s)
{
    const char *out = ce_instance_sanitize(p, s);
    size_t n = strlen(out);

    FUZZ_CHECK(n <= strlen(s), "sanitize grew the text");
    FUZZ_CHECK(!strchr(out, '<'), "sanitize left a '<'");
    FUZZ_CHECK(n == 0 || (!strchr(" \t\r\n\f\v", out[0]) && !strchr(" \t\r\n\f\v", out[n - 1])),
               "sanitize left surrounding space");
}

static void find(apr_pool_t *p, const char *s)
{
    const ce_element_t *e = ce_catalog_find(cat, s);

    if (e) {
        FUZZ_CHECK(strcmp(e->key, s) == 0 || strcmp(apr_ltoa(p, e->id), s) == 0,
                   "'%s' found element %s", s, e->key);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_int64_t id = 0;

    fuzz_init();
    cat = fuzz_catalog();
    FUZZ_CHECK(ce_page_token_parse(&id, NULL) == APR_EINVAL, "NULL token");
    fuzz_init_done();
    return 0;
}

/* Masking keeps the pairs and their names; what ce_page_query_pairs then
 * reads as apiSecret is the mask. */
static void mask(apr_pool_t *p, const char *s)
{
    const char *m = ce_page_mask_query(p, s, "apiSecret");
    apr_table_t *before = NULL, *after = NULL;
    const char *err = NULL;
    const apr_array_header_t *a;
    int i;

    FUZZ_CHECK(m != NULL, "mask of a string is NULL");
    if (m == s || ce_page_query_pairs(&after, p, m, &err) != APR_SUCCESS) {
        return;
    }
    a = apr_table_elts(after);
    for (i = 0; i < a->nelts; i++) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(a, i, apr_table_entry_t);

        FUZZ_CHECK(strcasecmp(e->key, "apiSecret") != 0 || strcmp(e->val, CE_MASK) == 0,
                   "an apiSecret value left unmasked");
    }
    if (ce_page_query_pairs(&before, p, s, &err) == APR_SUCCESS) {
        FUZZ_CHECK(apr_table_elts(before)->nelts == a->nelts, "masking changed the pairs");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    size_t len = strnlen((const char *)data, size);
    char *s = malloc(len + 1);

    memcpy(s, data, len);
    s[len] = '\0';
    page_token(p, s);
    sanitize(p, s);
    find(p, s);
    mask(p, s);
    free(s);
    apr_pool_destroy(p);
    return 0;
}
