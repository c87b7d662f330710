/* ce_instance: the element instance model.
 *
 * Core unit: no httpd headers. Validates create bodies against the catalog,
 * merges PUT/PATCH bodies into a stored instance, strips HTML from names and
 * tags, and builds every JSON shape the API answers with. Storage is
 * ce_store's business; this unit never touches the database.
 *
 * Body rules (POST/PUT/PATCH; the body must be a JSON object, else APR_EINVAL):
 *   element        {"key": K} and/or {"id": N} (N a positive integer); both
 *                  given must name the same element. Unknown → APR_EINVAL,
 *                  message names it ("Element 'foo' not found"). When a scope
 *                  element is given (route /elements/{key}/instances) the body
 *                  element is optional and, if present, must be the scope.
 *   name           string; HTML stripped, trimmed; non-empty; <= 255 chars.
 *   tags           array of strings (<= 100); each stripped, trimmed, <= 255
 *                  chars; empties dropped; duplicates dropped (first kept).
 *   configuration  object of key -> JSON scalar (string, number, boolean,
 *                  null); keys non-empty, <= 255 chars. Object/array values
 *                  are rejected, naming the key.
 *   providerData   object or absent; never stored. For an OAuth element,
 *                  its "code" (a non-empty string) is to be exchanged
 *                  for tokens (inst->provider_code).
 *   externalAuthentication  "none" or "initial" (OAuth elements: import
 *                  oauth.user.refresh_token and oauth.user.token given in
 *                  configuration; not with providerData.code).
 *   configuration  for an OAuth element, oauth.user.* entries are the
 *                  server's: a value other than the mask or what is
 *                  stored is refused, except the two tokens on import.
 *   maxCacheSize, cacheTimeToLive   non-negative integers (<= 2^31-1)
 *   cachingEnabled, traceLoggingEnabled   booleans
 *   anything else  ignored (clients PUT back what they GET).
 *
 * Configuration limits (ce_catalog_limits: entries, bytes of a value, bytes
 * in all) hold for the result of every create, merge and entry change:
 * APR_EINVAL naming the limit.
 *
 * Configuration limits (ce_catalog_limits: entries, bytes of a value, bytes
 * in all) hold for the result of every create, merge and entry change:
 * APR_EINVAL naming the limit.
 *
 * Create (POST) requires element and name. Missing required configuration
 * (absent, null or "" after defaults are filled) → APR_EINVAL with a message
 * listing every missing key in catalog order:
 *   "Missing required configuration entries: jira.username, jira.password"
 */
#ifndef CE_INSTANCE_H
#define CE_INSTANCE_H

#include <apr_pools.h>
#include <jansson.h>

#include "ce_catalog.h"
#include "ce_render.h"

/* What secret configuration values look like in responses. */
#define CE_MASK "********"
#define CE_NAME_MAX 255
#define CE_TAGS_MAX 100

typedef struct {
    apr_int64_t id;
    apr_int64_t organization_id;
    const char *email_address;
    const char *first_name; /* "" when unknown, never NULL */
    const char *last_name;
} ce_user_t;

typedef struct {
    apr_int64_t id; /* 0 until stored */
    apr_int64_t organization_id;
    const ce_user_t *user; /* owner */
    long element_id;
    const ce_element_t *element; /* NULL if element_id left the catalog */
    const char *name;
    const char *token;     /* plaintext, base64 of 32 random bytes */
    json_t *tags;          /* array of strings, bound to a pool */
    json_t *configuration; /* object key -> scalar, plaintext, bound to a pool */
    int disabled;
    long max_cache_size;
    long cache_time_to_live;
    int caching_enabled;
    int trace_logging_enabled;
    const char *created_date; /* ISO 8601, see ce_instance_now() */
    apr_int64_t revision;     /* counts the writes of the instance: 1 when created */
    int unreadable;           /* its sealed values did not open: listed, never valid */
    const char *updated_date;
    /* OAuth elements (e->oauth): how the instance was authenticated
     * ("none", "initial": tokens imported), when its access token is to be
     * refreshed (epoch ms; 0: never), failed refreshes in a row, and why
     * it is not valid ("" when it is: the provider refused it). */
    const char *external_authentication;
    apr_int64_t oauth_due;
    int oauth_failures;
    const char *oauth_status;
    /* What the last create or merge asked of the provider, never stored:
     * providerData.code to exchange, or tokens imported
     * (externalAuthentication "initial" with oauth.user.refresh_token) to
     * check by one refresh. The caller obtains them (ce_oauth_obtain)
     * before storing the instance. */
    const char *provider_code;
    int oauth_import;
    /* Set by a write that keeps a new grant of the provider's (a code
     * exchanged, tokens imported): its event is REAUTHENTICATED. Never
     * stored. */
    int reauthenticated;
    /* The middle of the instance's answer as its last write rendered it
     * (ce_instance_view: "tags" through "traceLoggingEnabled"), read from
     * the store instead of its tags and configuration, or NULL. When set
     * without configuration (a read that only answers), tags and
     * configuration are NULL: only ce_instance_render may be used. */
    const char *view;
    apr_size_t view_len;
} ce_instance_t;

/* Longest providerData.code accepted (it is sent on to the provider). */
#define CE_OAUTH_CODE_MAX 4096

/* Whether a PUT/PATCH/POST body asks the provider for tokens (a valid
 * providerData.code, or externalAuthentication "initial"); *phas_code says
 * whether it carries a code. A body that breaks these rules asks nothing
 * (create and merge then refuse it, saying why). */
int ce_instance_asks_provider(apr_pool_t *p, const json_t *body, int *phas_code);

/* The configuration entries an OAuth instance's tokens live in. */
#define CE_OAUTH_USER_TOKEN "oauth.user.token"
#define CE_OAUTH_USER_REFRESH_TOKEN "oauth.user.refresh_token"
#define CE_OAUTH_USER_REFRESH_TIME "oauth.user.refresh_time"
#define CE_OAUTH_USER_REFRESH_INTERVAL "oauth.user.refresh_interval"

/* Builds a new instance from a POST body. scope may be NULL. Fills catalog
 * defaults for entries the caller left out (catalog order first, then the
 * caller's extra keys in their order), generates the token, sets owner,
 * created/updated dates. Everything allocated in p.
 * APR_EINVAL with *perr for any rule above. */
apr_status_t ce_instance_create(ce_instance_t **pinst, apr_pool_t *p, const ce_catalog_t *cat,
                                const json_t *body, const ce_element_t *scope,
                                const ce_user_t *owner, const char **perr);

/* Applies a PUT/PATCH body to inst in place (fields given replace stored
 * ones; configuration entries given replace those entries, others kept;
 * a secret entry sent as CE_MASK keeps its stored value; a new element
 * re-fills that element's defaults for entries not present). Re-validates
 * required configuration. Sets updated_date. On error inst is unchanged. */
apr_status_t ce_instance_merge(ce_instance_t *inst, apr_pool_t *p, const ce_catalog_t *cat,
                               const json_t *body, const ce_element_t *scope, const char **perr);

/* The instance as answered by the API: id, name, token, element, tags,
 * configuration (secrets masked), provisionInteractions ([]), valid,
 * disabled, maxCacheSize, cacheTimeToLive, cachingEnabled, eventsEnabled,
 * traceLoggingEnabled, user {id, emailAddress, firstName, lastName},
 * createdDate, updatedDate. Bound to p. */
json_t *ce_instance_to_json(apr_pool_t *p, const ce_instance_t *inst);

/* j (ce_instance_to_json's) with its element reduced to id, key and name
 * (a list's hydrate=false). */
void ce_instance_json_dehydrate(json_t *j, const ce_instance_t *inst);

/* How ce_instance_render writes an instance: its element as hydrate=false
 * shows it (id, key, name), and without its token (an event's). */
#define CE_INSTANCE_DEHYDRATED 1u
#define CE_INSTANCE_NO_TOKEN 2u

/* Appends inst as ce_instance_to_json's tree serializes (with flags
 * applied as ce_instance_reference does), byte for byte, without building
 * the tree: the read path's writer (ce_render.h). */
void ce_instance_render(ce_render_t *w, const ce_instance_t *inst, unsigned flags);

/* Appends a JSON array of list's instances (ce_instance_t *), each as
 * ce_instance_render writes it; an owner shared by consecutive instances
 * is rendered once. */
void ce_instance_render_list(ce_render_t *w, const apr_array_header_t *list, unsigned flags);

/* The middle of inst's answer, from "tags" to "traceLoggingEnabled" (no
 * braces, no comma around it): what does not change between two writes
 * of the instance, given its element's definition. The store keeps it,
 * sealed, with every write, and reads answer with it rather than parse
 * the stored tags and configuration (ce_instance_t.view). In p; *plen
 * its length. */
const char *ce_instance_view(apr_pool_t *p, const ce_instance_t *inst, apr_size_t *plen);

/* Bumped whenever ce_instance_view's shape changes: views written by
 * another version are not used (the store compares it with the element's
 * tag). */
#define CE_INSTANCE_VIEW_VERSION "2"

/* The tree ce_instance_render's bytes must equal once serialized:
 * ce_instance_to_json, then flags applied. Bound to p. */
json_t *ce_instance_reference(apr_pool_t *p, const ce_instance_t *inst, unsigned flags);

/* The instance's entity tag, as HTTP's ETag header carries it (quotes
 * included): "<id>-<revision>", changed by every write. In p. */
const char *ce_instance_etag(apr_pool_t *p, const ce_instance_t *inst);

/* Whether an If-Match header value holds etag: "*", or one of its
 * comma-separated entity tags equal to etag (strong comparison: a weak
 * W/"..." tag never matches). */
int ce_instance_etag_match(const char *if_match, const char *etag);

/* Whether configuration entry key of inst is secret (PASSWORD or marked
 * secret in the catalog; every entry of an element gone from the catalog):
 * shown masked, stored sealed. */
int ce_instance_secret_entry(const ce_instance_t *inst, const char *key);

/* Whether a configuration value counts as unset: absent, null or "". */
int ce_instance_value_blank(const json_t *v);

/* The key of inst's config_id-th (1-based) configuration entry, or NULL. */
const char *ce_instance_config_key(const ce_instance_t *inst, long config_id);

/* 1 if every required catalog entry is present, non-null and non-empty,
 * and an OAuth instance has tokens the provider has not refused. */
int ce_instance_valid(const ce_instance_t *inst);

/* Why an OAuth instance is not valid (the provider refused its tokens, or
 * it has none yet), or NULL. */
const char *ce_instance_oauth_problem(const ce_instance_t *inst);

/* When inst's access token expires (epoch ms; 0 when the provider did not
 * say), from oauth.user.refresh_time and oauth.user.refresh_interval. */
apr_int64_t ce_instance_oauth_expires(const ce_instance_t *inst);

/* GET /instances/{id}/configuration: array of entries
 * {id, key, name, description, type, required, defaultValue, propertyValue}
 * (secrets masked; keys outside the catalog get name=key, type
 * "TEXTFIELD_1000", required false, description "", defaultValue null).
 * id is the entry's 1-based position in inst->configuration. Bound to p. */
json_t *ce_instance_config_list(apr_pool_t *p, const ce_instance_t *inst);

/* One entry as above, or NULL when config_id is out of range. */
json_t *ce_instance_config_entry(apr_pool_t *p, const ce_instance_t *inst, long config_id);

/* PATCH /instances/{id}/configuration/{configId}: body {"propertyValue": v}
 * with v a scalar. APR_NOTFOUND if config_id is out of range, APR_EINVAL
 * (with *perr) for a bad body or for clearing a required entry. Sets
 * updated_date. On error inst is unchanged. */
apr_status_t ce_instance_config_set(ce_instance_t *inst, apr_pool_t *p, const ce_catalog_t *cat,
                                    long config_id, const json_t *body, const char **perr);

/* Removes HTML tags (anything from '<' to the next '>', or to the end) and
 * trims ASCII whitespace: "<a href=\"#\">x</a>" → "x". */
const char *ce_instance_sanitize(apr_pool_t *p, const char *s);

/* Current time as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC). */
const char *ce_instance_now(apr_pool_t *p);

#endif
