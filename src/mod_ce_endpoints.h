/* mod_ce_endpoints: the API's endpoints. Each takes a request whose caller
 * is authenticated (req->user) and whose path parameters are parsed
 * (req->instance_id, req->config_id, req->scope, req->element_ref), and
 * answers it (returns OK), success or failure.
 *
 * Named ce_ep_<group>_<verb>, apart from the core's ce_instance_* model.
 *
 * mod_ce_ep_instances.c: /instances... (and /elements/{key}/instances...)
 * mod_ce_ep_elements.c:  /elements, /elements/{key or id}, .../oauth/url
 * mod_ce_ep_docs.c:      /docs, /instances[/{id}]/docs (OpenAPI documents)
 */
#ifndef MOD_CE_ENDPOINTS_H
#define MOD_CE_ENDPOINTS_H

#include "mod_ce_request.h"

typedef int (*ce_endpoint_fn)(ce_request_t *req);

int ce_ep_instances_list(ce_request_t *req);
int ce_ep_instances_create(ce_request_t *req);
int ce_ep_instances_get(ce_request_t *req);
int ce_ep_instances_update(ce_request_t *req); /* PUT and PATCH */
int ce_ep_instances_delete(ce_request_t *req);
int ce_ep_instances_config_list(ce_request_t *req);
int ce_ep_instances_config_get(ce_request_t *req);
int ce_ep_instances_config_patch(ce_request_t *req);
int ce_ep_instances_enable(ce_request_t *req);  /* PUT .../enabled */
int ce_ep_instances_disable(ce_request_t *req); /* DELETE .../enabled */

int ce_ep_events_list(ce_request_t *req);      /* GET instances[/{id}]/events */
int ce_ep_events_get(ce_request_t *req);       /* GET instances[/{id}]/events/{eventId} */
int ce_ep_events_redeliver(ce_request_t *req); /* PUT instances/events/{eventId}/redeliver */

int ce_ep_docs_get(ce_request_t *req);       /* GET docs: public, req->user is NULL */
int ce_ep_instances_docs(ce_request_t *req); /* GET instances[/{id}]/docs */

int ce_ep_elements_list(ce_request_t *req);
int ce_ep_elements_get(ce_request_t *req);
int ce_ep_elements_oauth_url(ce_request_t *req); /* GET and POST .../oauth/url */

/* How a read that only answers reads (CE_STORE_READ_*): the stored view,
 * and in full too when answers are checked against their reference
 * (CEInstancesRenderCheck). */
unsigned ce_ep_answer_read(const ce_request_t *req);

#endif
