/* mod_ce_oauth: what an API request asks of an OAuth provider — tokens for
 * an instance being created or re-authenticated, revocation of a deleted
 * one's — with the request's database connection given back first: no
 * connection, transaction or lock is held while a provider answers. */
#ifndef MOD_CE_OAUTH_H
#define MOD_CE_OAUTH_H

#include "ce_oauth.h"
#include "mod_ce_request.h"

/* When inst asks for tokens (provider_code, oauth_import): obtains them
 * (*pgot = 1, *tok filled) and takes a database connection again. The
 * provider refused → APR_EINVAL, req->provider_message its words;
 * unreachable, refused destination, 5xx or a bad answer → CE_EBADGATEWAY
 * (logged CE00037); nothing asked → APR_SUCCESS, *pgot = 0. */
apr_status_t ce_oauth_request_tokens(ce_request_t *req, const ce_instance_t *inst,
                                     ce_oauth_token_t *tok, int *pgot);

/* Best effort, bounded by the outbound timeout: revokes a deleted
 * instance's token where its element has a revocation URL (logged,
 * CE00038 on failure); the database connection is given back first. */
void ce_oauth_request_revoke(ce_request_t *req, const ce_instance_t *inst);

#endif
