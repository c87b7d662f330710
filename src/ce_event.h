/* ce_event: what happens to instances, as events (issue 14): which event a
 * change is, and the JSON an event is sent and listed as.
 *
 * Core unit: no httpd headers, no I/O. The store records an event in the
 * transaction of the change it tells of (ce_store_event.c); a background
 * job delivers it.
 *
 * An event is {"eventId", "instanceId", "elementKey", "eventType",
 * "eventDate", "instance"}: the instance as the API shows it (secrets
 * masked), without its token (a credential; receivers need none), its
 * element as hydrate=false shows it (id, key, name).
 */
#ifndef CE_EVENT_H
#define CE_EVENT_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "ce_instance.h"

typedef enum {
    CE_EVENT_NONE = 0, /* a change that tells nothing (a routine token refresh) */
    CE_EVENT_CREATED,
    CE_EVENT_UPDATED,
    CE_EVENT_DELETED,
    CE_EVENT_DISABLED,
    CE_EVENT_ENABLED,
    CE_EVENT_REAUTHENTICATED,
    CE_EVENT_REFRESH_FAILED,
    CE_EVENT_REFRESH_RECOVERED,
    CE_EVENT_TYPES
} ce_event_type_t;

/* "CREATED", "UPDATED", ...; NULL for CE_EVENT_NONE or out of range. */
const char *ce_event_type_name(ce_event_type_t type);

/* The event a write is: before NULL for a create, after NULL for a delete.
 * In order: disabled or enabled; re-authenticated (after->reauthenticated:
 * the write keeps a new grant of the provider's); a refresh that failed
 * (more failures in a row, or the provider refusing the refresh token); a
 * refresh that recovered (failures or a refusal cleared); nothing when
 * only the server-kept token entries (oauth.user.*) and their schedule
 * changed (a routine refresh); otherwise updated. */
ce_event_type_t ce_event_of_change(const ce_instance_t *before, const ce_instance_t *after);

/* The event body (bound to p): event_id, inst's id and element key (""
 * when its element left the catalog), type, date (ISO 8601), the instance
 * as the API shows it without its token. NULL if jansson fails. */
json_t *ce_event_json(apr_pool_t *p, const char *event_id, ce_event_type_t type, const char *date,
                      const ce_instance_t *inst);

/* ce_event_json's tree serialized, written straight (ce_render.h): the
 * text an event is stored and sent as. In p; NULL on an unknown type (or,
 * with ce_render_checking, when it differs from the tree's bytes: logged
 * CE00059). */
const char *ce_event_text(apr_pool_t *p, const char *event_id, ce_event_type_t type,
                          const char *date, const ce_instance_t *inst);

/* text (an event body as ce_event_text writes it, len bytes) with its two
 * instance ids, "instanceId" and the instance's "id", set to id; in p,
 * its length in *plen. A body is stored as it was before its instance had
 * an id (a create's event is made before the write's lock, its id 0), and
 * every read takes the id from the event's row. text itself when its ids
 * are id already, or when it is not of ce_event_text's shape. */
const char *ce_event_fill_id(apr_pool_t *p, const char *text, apr_size_t len, apr_int64_t id,
                             apr_size_t *plen);

/* Whether inst asks for its events to be sent: event.notification.enabled
 * true (a JSON true, or the text "true") and a non-empty
 * event.notification.callback.url (*purl, else NULL). */
int ce_event_wanted(const ce_instance_t *inst, const char **purl);

/* An event as the log keeps it. */
typedef struct {
    apr_int64_t id;       /* the log's own order (newest highest) */
    const char *event_id; /* the eventId */
    apr_int64_t instance_id;
    const char *event_type; /* its name */
    json_t *body;           /* ce_event_json's, as sent */
    const char *status;     /* PENDING, DELIVERED, RETRYING, FAILED, DISABLED */
    int attempts;
    const char *last_error; /* "" when none */
} ce_event_row_t;

/* An event as the API shows it (bound to p): its body plus status,
 * attempts and lastError. */
json_t *ce_event_view(apr_pool_t *p, const ce_event_row_t *ev);

/* Elements-Webhook-Signature's value for body signed with key:
 * "sha256=" + base64 of HMAC-SHA256(key, body) (Cloud Elements' scheme),
 * in p; NULL if OpenSSL fails. */
const char *ce_event_signature(apr_pool_t *p, const char *key, const char *body, apr_size_t len);

/* When to try again after the attempts-th failed delivery (1, 2, ...):
 * first after base, each wait three times the one before, at most a day,
 * each moved by up to a fifth either way by jitter (a number in [0, 1)).
 * With base 60 s, nine retries take about three days. */
apr_interval_time_t ce_event_backoff(int attempts, apr_interval_time_t base, double jitter);

/* The configuration entry of the signature key (a secret entry for every
 * element: see ce_instance_config). */
#define CE_EVENT_SIGNATURE_KEY "event.notification.signature.key"
#define CE_EVENT_ENABLED_KEY "event.notification.enabled"
#define CE_EVENT_CALLBACK_KEY "event.notification.callback.url"

#endif
