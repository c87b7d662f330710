/* ce_route: the API's routes — which endpoint a path and method name, and
 * the ids and element the path carries.
 *
 * Core unit: no httpd headers (methods are matched by name; the glue maps
 * an endpoint to its handler).
 *
 * Paths, relative to where the API is mounted, split on '/' with empty
 * segments ignored ("//instances/" is "instances"), at most
 * CE_ROUTE_MAX_SEGMENTS segments. {id} and {configId} are positive ids
 * (ce_num's grammar, 1..APR_INT64_MAX); {ref} is any one segment (an
 * element key or id, resolved by the caller); {eventId} any one segment
 * (looked up as it is):
 *   elements                                   GET
 *   elements/{ref}                             GET
 *   elements/{ref}/oauth/url                   GET, POST
 *   instances                                  GET, POST
 *   instances/{id}                             GET, PUT, PATCH, DELETE
 *   instances/{id}/configuration               GET
 *   instances/{id}/configuration/{configId}    GET, PATCH
 *   instances/{id}/enabled                     PUT, DELETE
 *   instances/events                           GET (the caller's events)
 *   instances/events/{eventId}                 GET
 *   instances/events/{eventId}/redeliver       PUT
 *   instances/{id}/events                      GET (that instance's)
 *   instances/{id}/events/{eventId}            GET
 *   instances/{id}/docs                        GET (its OpenAPI document)
 *   docs                                       GET (the API's OpenAPI document)
 * and elements/{ref}/instances... is instances... scoped to that element.
 * Without {id}, the caller's Element token names the instance (by_token):
 *   instances                                  PUT, PATCH, DELETE
 *   instances/configuration                    GET
 *   instances/configuration/{configId}         GET, PATCH
 *   instances/enabled                          PUT, DELETE
 *   instances/docs                             GET
 */
#ifndef CE_ROUTE_H
#define CE_ROUTE_H

#include <apr_pools.h>

#define CE_ROUTE_MAX_SEGMENTS 8

/* One value per endpoint. */
typedef enum {
    CE_ROUTE_NONE = 0,         /* no endpoint (not found, or method not allowed) */
    CE_ROUTE_ELEMENTS_LIST,    /* GET elements */
    CE_ROUTE_ELEMENTS_GET,     /* GET elements/{key or id} */
    CE_ROUTE_OAUTH_URL,        /* GET and POST elements/{key or id}/oauth/url */
    CE_ROUTE_INSTANCES_LIST,   /* GET instances */
    CE_ROUTE_INSTANCES_CREATE, /* POST instances */
    CE_ROUTE_INSTANCES_GET,    /* GET instances/{id} */
    CE_ROUTE_INSTANCES_UPDATE, /* PUT and PATCH instances/{id} */
    CE_ROUTE_INSTANCES_DELETE, /* DELETE instances/{id} */
    CE_ROUTE_CONFIG_LIST,      /* GET instances/{id}/configuration */
    CE_ROUTE_CONFIG_GET,       /* GET instances/{id}/configuration/{configId} */
    CE_ROUTE_CONFIG_PATCH,     /* PATCH instances/{id}/configuration/{configId} */
    CE_ROUTE_ENABLE,           /* PUT instances/{id}/enabled */
    CE_ROUTE_DISABLE,          /* DELETE instances/{id}/enabled */
    CE_ROUTE_EVENTS_LIST,      /* GET instances[/{id}]/events */
    CE_ROUTE_EVENTS_GET,       /* GET instances[/{id}]/events/{eventId} */
    CE_ROUTE_EVENTS_REDELIVER, /* PUT instances/events/{eventId}/redeliver */
    CE_ROUTE_DOCS,             /* GET docs (public: no caller) */
    CE_ROUTE_INSTANCE_DOCS,    /* GET instances[/{id}]/docs */
    CE_ROUTE_ENDPOINTS         /* how many values there are */
} ce_route_endpoint_t;

/* Where a request goes. */
typedef struct {
    ce_route_endpoint_t endpoint; /* CE_ROUTE_NONE unless ce_route_match succeeded */
    apr_int64_t instance_id;      /* {id}, 0 if none */
    apr_int64_t config_id;        /* {configId}, 0 if none */
    const char *element_ref;      /* {ref} of elements/{ref} or of the scope, else NULL */
    const char *event_id;         /* {eventId}, else NULL */
    int scoped;                   /* element_ref given by the path and an /instances route */
    int by_token;                 /* the instance is the Element token's (no {id}) */
    const char *allow;            /* the path's methods ("GET, POST"), NULL if no path matched */
} ce_route_t;

/* Routes path (NULL: not below the mount, never found) and method (its
 * name as sent, case-sensitive; HEAD routes as GET, as httpd numbers it).
 * *rt is filled in every case; element_ref points into a copy in p.
 *   APR_SUCCESS   rt->endpoint is the endpoint;
 *   APR_NOTFOUND  no such resource (404);
 *   APR_ENOTIMPL  the resource exists but method is not one of rt->allow
 *                 (405 with Allow: rt->allow). */
apr_status_t ce_route_match(ce_route_t *rt, apr_pool_t *p, const char *path, const char *method);

#endif
