/* mod_ce_request: one API request — its path parameters and caller, its
 * body, query and reply — and the single place where failures become HTTP
 * statuses and JSON error bodies (every one built by ce_json_error).
 *
 * Its database connection comes from mod_ce_dbd (req->conn, acquired by
 * the first statement, given back by every reply); its caller from
 * mod_ce_authn.
 */
#ifndef MOD_CE_REQUEST_H
#define MOD_CE_REQUEST_H

#include <httpd.h>
#include <jansson.h>

#include "ce_catalog.h"
#include "ce_instance.h"
#include "ce_store.h"
#include "mod_ce_config.h"
#include "mod_ce_dbd.h"

/* apr_status_t values of our own, mapped to HTTP by ce_request_fail(). */
#define CE_ETOOLARGE (APR_OS_START_USERERR + 413)
#define CE_EMEDIATYPE (APR_OS_START_USERERR + 415)
#define CE_EPRECONDITION (APR_OS_START_USERERR + 412)
#define CE_EFORBIDDEN (APR_OS_START_USERERR + 403)
#define CE_EBADGATEWAY (APR_OS_START_USERERR + 502)
/* (and CE_EUNAVAILABLE, 503, from mod_ce_dbd.h) */

typedef struct {
    request_rec *r;
    const ce_server_config_t *cfg;
    const ce_catalog_t *catalog;
    ce_dbd_conn_t *conn;           /* held from the first statement until the reply */
    const ce_user_t *user;         /* the caller: set by ce_authn_request */
    apr_int64_t token_instance_id; /* its Element token's instance, 0 if none */
    const ce_element_t *scope;     /* /elements/{key}/instances... */
    const char *element_ref;       /* {key or id} as given in the path */
    apr_int64_t instance_id;       /* {id} in the path, 0 if none */
    long config_id;                /* {configId} in the path, 0 if none */
    const char *event_id;          /* {eventId} in the path, NULL if none */
    const char *err;               /* message for the failure being returned */
    const char *provider_message;  /* an OAuth provider's words on the failure, or NULL */
    int body_consumed;             /* request body read (or rejected) by us */
    ce_instance_t *read; /* the instance, read with the caller (ce_authn_request_reading) */
} ce_request_t;

/* CE_EMEDIATYPE (415) when the request says its body is anything but
 * JSON (for endpoints that take no body but must not accept any). */
apr_status_t ce_request_media_type(ce_request_t *req);

/* Fills req for r, with an empty connection handle (ce_dbd_conn: nothing
 * is taken from mod_dbd until the first statement). */
void ce_request_init(ce_request_t *req, request_rec *r);

/* The request body as a JSON object: CE_EMEDIATYPE for a non-JSON
 * Content-Type, CE_ETOOLARGE past CEInstancesMaxBodySize, APR_EINVAL for
 * anything but one well-formed JSON object. */
apr_status_t ce_request_body(json_t **pbody, ce_request_t *req);

/* A list page's headers: Elements-Returned-Count, and when there is more,
 * Elements-Next-Page-Token for the page after the row of id last_id. */
void ce_request_page_headers(ce_request_t *req, int returned, int more, apr_int64_t last_id);

/* Sends status with j (serialized) as application/json. Like every reply
 * below, first gives the request's connection back (ce_dbd_release): the
 * answer is made, the next request may have it. Returns OK. */
int ce_request_reply(ce_request_t *req, int status, const json_t *j);

/* Sends status with w's text (JSON rendered straight, ce_render.h), as
 * ce_request_reply does. With CEInstancesRenderCheck On, reference (the
 * tree that defines the answer's shape; required then) must serialize to
 * the same bytes: when it does not, the answer is 500, logged CE00059 with
 * where they differ (never the bytes: answers hold tokens). */
int ce_request_reply_rendered(ce_request_t *req, int status, ce_render_t *w,
                              const json_t *reference);

/* Whether answers are to be checked against their reference tree
 * (CEInstancesRenderCheck On). */
int ce_request_render_check(const ce_request_t *req);

/* Sends 200 with an empty body. Returns OK. */
int ce_request_reply_empty(ce_request_t *req);

/* Sends 204 (a CORS preflight's answer). Returns OK. */
int ce_request_reply_no_content(ce_request_t *req);

/* Sends ce_json_error's {"requestId","message"} with the HTTP status for
 * rv (400 EINVAL, 401 EACCES, 404 NOTFOUND, 409 EEXIST, 413, 415, 503
 * CE_EUNAVAILABLE; anything else 500, logged CE00002, or 503 when the
 * connection turns out lost, logged CE00006). Message: req->err or one
 * for the status. Returns OK. */
int ce_request_fail(ce_request_t *req, apr_status_t rv);

/* Sends an error with an explicit HTTP status and message (405 with allow
 * set as the Allow header when allow is not NULL). Returns OK. */
int ce_request_fail_status(ce_request_t *req, int status, const char *message, const char *allow);

#endif
