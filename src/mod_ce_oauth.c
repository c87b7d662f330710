/* mod_ce_oauth: an API request's outbound calls to OAuth providers (see
 * mod_ce_oauth.h). */
#include <httpd.h>
#include <apr_strings.h>
#include <http_log.h>

#include "mod_ce_config.h"
#include "mod_ce_oauth.h"

APLOG_USE_MODULE(ceinstances);

apr_status_t ce_oauth_request_tokens(ce_request_t *req, const ce_instance_t *inst,
                                     ce_oauth_token_t *tok, int *pgot)
{
    request_rec *r = req->r;
    const char *err = NULL;
    apr_status_t rv;

    *pgot = 0;
    if (!inst->provider_code && !inst->oauth_import) {
        return APR_SUCCESS;
    }
    ce_dbd_release(req->conn);
    rv = ce_oauth_obtain(tok, req->cfg->http, r->pool, inst, &err);
    if (rv == CE_OAUTH_REFUSED) {
        req->provider_message = err;
        req->err = inst->provider_code
                       ? "The provider refused the authorization code (providerData.code)"
                       : "The provider refused the imported refresh token";
        return APR_EINVAL;
    }
    if (rv == APR_EINVAL) {
        req->err = err;
        return rv;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "CE00037: element %s: no tokens from the provider: %s", inst->element->key,
                      err);
        req->err =
            apr_pstrcat(r->pool, "The provider could not be reached for tokens: ", err, NULL);
        return CE_EBADGATEWAY;
    }
    *pgot = 1;
    return ce_dbd_acquire(req->conn, &req->err);
}

void ce_oauth_request_revoke(ce_request_t *req, const ce_instance_t *inst)
{
    const char *err = NULL;
    apr_status_t rv;

    if (!inst || !inst->element || !inst->element->oauth || !inst->element->oauth->revoke_url) {
        return;
    }
    ce_dbd_release(req->conn);
    rv = ce_oauth_revoke(req->cfg->http, req->r->pool, inst, &err);
    if (rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, req->r,
                      "CE00039: instance %" APR_INT64_T_FMT ": token revoked at the provider",
                      inst->id);
    } else if (rv != APR_NOTFOUND) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, req->r,
                      "CE00038: instance %" APR_INT64_T_FMT
                      ": deleted, but its token was not revoked: %s",
                      inst->id, err);
    }
}
