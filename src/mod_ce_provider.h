/* mod_ce_provider: other <Location>s of the server accept Element tokens
 * (issue 13): an httpd authentication type and two authorization
 * providers.
 *
 *   <Location /hubs>
 *       AuthType CEInstances
 *       Require ce-instance             any live instance of the caller's
 *   </Location>
 *   Require ce-element jira box ...     only instances of these elements
 *
 * The caller sends the API's Authorization (User, Organization and
 * Element). A missing or bad credential, or none for an instance: 401; a
 * disabled instance: 403; every refusal a JSON body. On success the
 * request knows the instance by notes and environment variables
 * (CE_INSTANCE_ID, CE_ELEMENT_KEY, CE_USER_ID, CE_ORGANIZATION_ID: for
 * LogFormat, mod_rewrite, mod_headers, CGI), the answer carries
 * Elements-Element-Instance-Id, and the caller's Authorization header is
 * taken out of the request (nothing behind it ever sees the secrets). */
#ifndef MOD_CE_PROVIDER_H
#define MOD_CE_PROVIDER_H

#include <httpd.h>

#include "ce_instance.h"

/* Registers the authentication hook and the ce-instance / ce-element
 * authorization providers. */
void ce_provider_register(apr_pool_t *p);

/* Makes this child's memory of the instances Element tokens opened (see
 * ce_authcache.h), freed with pchild. */
void ce_provider_child_init(apr_pool_t *pchild);

/* Whether r's <Location> authenticates with AuthType CEInstances (its
 * errors then get the API's JSON bodies). */
int ce_provider_applies(request_rec *r);

/* The instance r (or the request it is a subrequest of) authenticated
 * with, decrypted, or NULL. */
const ce_instance_t *ce_provider_instance(request_rec *r);

#endif
