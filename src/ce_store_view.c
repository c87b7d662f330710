/* ce_store_view: the answer's middle a write stores with an instance
 * (ce_instance_view, column ce_instance.rendered, schema 8) and the reads
 * that answer from it (see ce_store_int.h).
 *
 * Sealed as "<token digest>\n<element tag><view version>\n<token>\n<view>":
 * a view is used only on the row of its token (not moved from another
 * row) and under the element definition and renderer it was made with; it
 * carries the token too, so that an answer opens one value, not two. */
#include <string.h>
#include <apr_strings.h>

#include "ce_log.h"
#include "ce_store_int.h"

/* What binds a view of inst to its element's definition, or NULL. */
static const char *view_tag(apr_pool_t *p, const ce_instance_t *inst)
{
    return inst->element ? apr_pstrcat(p, inst->element->tag, CE_INSTANCE_VIEW_VERSION, NULL)
                         : NULL;
}

/* inst's view sealed, for a write of inst (its token's digest given; view
 * when the caller has it, see ce_store_int.h); "" when none is kept (no
 * element, no token), NULL on failure. */
const char *ce_store_view_sealed(apr_pool_t *p, const ce_db_t *db, const ce_instance_t *inst,
                                 const char *digest, const char *view)
{
    const char *tag = view_tag(p, inst), *plain;
    apr_size_t len;

    if (!tag || !digest || !inst->token) {
        return "";
    }
    if (!view) {
        view = ce_instance_view(p, inst, &len);
    }
    plain = apr_pstrcat(p, digest, "\n", tag, "\n", inst->token, "\n", view, NULL);
    return ce_store_seal(p, db->keys, CE_SEALED_INSTANCE_VIEW, plain, strlen(plain));
}

/* Strips "<expect>\n" off *ps (*plen bytes); 0 when it is not there. */
static int take_line(const char **ps, apr_size_t *plen, const char *expect)
{
    apr_size_t n = strlen(expect);

    if (*plen <= n || memcmp(*ps, expect, n) != 0 || (*ps)[n] != '\n') {
        return 0;
    }
    *ps += n + 1;
    *plen -= n + 1;
    return 1;
}

/* inst->view from the row, when it has one that opens, is the row's and
 * was made under inst's element definition; else 0 (read in full). */
int ce_store_view_from_row(ce_instance_t *inst, const ce_db_t *db, apr_pool_t *p, const char **row)
{
    const char *sealed = row[CE_IC_VIEW], *tag = view_tag(p, inst), *plain, *nl;
    apr_size_t len;

    if (!sealed || !*sealed || !tag || !row[CE_IC_TOKEN_DIGEST]) {
        return 0;
    }
    if (ce_store_open(&plain, &len, p, db->keys, CE_SEALED_INSTANCE_VIEW, sealed) != APR_SUCCESS) {
        ce_log(CE_LOG_MARK, CE_LOG_WARNING, 0,
               "CE00061: Instance %s: the stored view fails authentication (tampered, or "
               "another key); read in full",
               row[CE_IC_ID]);
        return 0;
    }
    if (!take_line(&plain, &len, row[CE_IC_TOKEN_DIGEST]) || !take_line(&plain, &len, tag) ||
        !(nl = memchr(plain, '\n', len))) {
        return 0;
    }
    inst->token = apr_pstrmemdup(p, plain, (apr_size_t)(nl - plain));
    inst->view = nl + 1;
    inst->view_len = len - (apr_size_t)(nl + 1 - plain);
    return 1;
}
