/* ce_catalog: the element catalog (conf/elements.json).
 *
 * Core unit: no httpd headers. Loaded once at configuration time into a
 * long-lived pool; read-only afterwards and shared by all threads.
 *
 * File format:
 *   {"elements": [ {
 *      "id": 16, "key": "amazons3", "name": "Amazon S3",
 *      "description": "...", "image": "...", "active": true, "deleted": false,
 *      "typeOauth": false, "trialAccount": false,
 *      "existingAccountDescription": "...", "configDescription": "...",
 *      "signupURL": "...", "transformationsEnabled": false, "hub": "documents",
 *      "elementProvisionType": "API_KEY",
 *      "configuration": [ {"key": "...", "name": "...", "type": "TEXTFIELD_128",
 *                          "required": true, "defaultValue": null,
 *                          "description": "...", "secret": false}, ... ] } ] }
 *
 * id (positive integer, unique), key (non-empty [A-Za-z0-9_.-], unique) and
 * name (non-empty string) are required. The other element fields are
 * optional: strings default to "", booleans to false except active (true),
 * elementProvisionType defaults to "" too. Each configuration entry needs a
 * unique non-empty key, a name (defaults to the key) and a type from
 * CE_CONFIG_TYPES; required defaults to false; defaultValue, if present, must
 * be a JSON scalar; description defaults to "". An entry is secret when its
 * type is PASSWORD, it has "secret": true, or it is oauth.api.key or
 * oauth.api.secret (an OAuth client's credentials, in every element that
 * has them: Cloud Elements masks both, and its clients check that). An
 * element's optional "api" says where its provider's API is and how an
 * instance authenticates to it (ce_gateway.h); it is never shown to
 * clients. Unknown fields are errors (they are typos in a hand-edited file).
 */
#ifndef CE_CATALOG_H
#define CE_CATALOG_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "ce_gateway.h"

/* Configuration entry types accepted in the catalog. */
#define CE_CONFIG_TYPES                                                                            \
    "TEXTFIELD_32, TEXTFIELD_64, TEXTFIELD_128, TEXTFIELD_1000, TEXTAREA, PASSWORD, "              \
    "BOOLEAN, NUMBER, SELECTION"

typedef struct {
    const char *key;
    const char *name;
    const char *type;
    const char *description;
    json_t *default_value; /* NULL when the catalog gives none (distinct from JSON null) */
    int required;
    int secret;
    int provider; /* the OAuth provider's (oauth.token.url, ...): the operator's, never a tenant's
                   */
} ce_config_spec_t;

/* An OAuth 2 element's provider, read from its configuration entries'
 * defaultValues (the operator's, in the catalog; a tenant's value for
 * these keys is refused):
 *   oauth.authorization.url        required, http(s)
 *   oauth.token.url                required, http(s): code exchange
 *   oauth.token.refresh_url        http(s), default the token URL
 *   oauth.token.revoke_url         http(s), or none (RFC 7009 revocation)
 *   oauth.scope                    the scope asked for, or none
 *   oauth.token.refresh_interval   seconds a token lasts when the provider
 *                                  does not say (expires_in), default 3600
 *   oauth.authorization.param.<p>  a further authorization URL parameter
 *                                  (Dropbox: token_access_type=offline)
 * An element is OAuth when it has oauth.token.url. */
typedef struct {
    const char *authorization_url;
    const char *token_url;
    const char *refresh_url;
    const char *revoke_url;       /* or NULL */
    const char *scope;            /* or NULL */
    apr_table_t *params;          /* further authorization URL parameters */
    apr_int64_t refresh_interval; /* seconds */
} ce_oauth_provider_t;

#define CE_OAUTH_REFRESH_INTERVAL_DEFAULT 3600
#define CE_OAUTH_PARAM_PREFIX "oauth.authorization.param."

typedef struct {
    long id;
    const char *key;
    const char *name;
    /* The element object exactly as embedded in instance responses:
     * id, name, key, description, image, active, deleted, typeOauth,
     * trialAccount, existingAccountDescription, configDescription, signupURL,
     * transformationsEnabled, hub, elementProvisionType. Shared; never modify. */
    json_t *json;
    const char *json_text; /* json serialized (compact), once at catalog load */
    apr_size_t json_len;
    /* json plus "configuration": [ {key, name, type, required, defaultValue,
     * description}, ... ] as served by GET /elements/{key}. Shared; never modify. */
    json_t *detail;
    apr_array_header_t *config; /* of ce_config_spec_t, in file order */
    /* Names this element's definition as an instance's answer depends on
     * (detail, each entry's secret flag): a stored view of an instance
     * (ce_instance.h) made under another definition is not used. */
    const char *tag;
    const ce_oauth_provider_t *oauth; /* NULL unless an OAuth element */
    const ce_gateway_api_t *api;      /* its provider API (ce_gateway.h), or NULL */
} ce_element_t;

typedef struct ce_catalog_t ce_catalog_t;

/* What one instance's configuration may hold (CEInstancesConfigLimits):
 * entries, the bytes of one value (a string's length, or a number's
 * text), and all keys and values together. Defaults below. */
typedef struct {
    int entries;
    apr_size_t value_bytes;
    apr_size_t total_bytes;
} ce_config_limits_t;
#define CE_CONFIG_ENTRIES_DEFAULT 200
#define CE_CONFIG_VALUE_BYTES_DEFAULT 16384
#define CE_CONFIG_TOTAL_BYTES_DEFAULT 262144

/* The limits instances of cat's elements are held to (defaults until set). */
const ce_config_limits_t *ce_catalog_limits(const ce_catalog_t *cat);
void ce_catalog_set_limits(ce_catalog_t *cat, const ce_config_limits_t *limits);

/* Parses and validates catalog text. Everything (including the json_t
 * objects, bound with ce_json_bind) lives in p. On error returns APR_EINVAL
 * with *perr naming the element (by index/key) and the field at fault. */
apr_status_t ce_catalog_parse(ce_catalog_t **pcat, apr_pool_t *p, const char *text, apr_size_t len,
                              const char **perr);

/* Reads path and parses it as above; unreadable file → its APR error with
 * *perr saying so, naming the path. */
apr_status_t ce_catalog_load(ce_catalog_t **pcat, apr_pool_t *p, const char *path,
                             const char **perr);

/* Lookups; NULL when absent. */
const ce_element_t *ce_catalog_by_key(const ce_catalog_t *cat, const char *key);
const ce_element_t *ce_catalog_by_id(const ce_catalog_t *cat, long id);
/* key_or_id that is a positive number (ce_num's grammar: no sign, no
 * leading zero) and fits a long is looked up as an id, otherwise as a key. */
const ce_element_t *ce_catalog_find(const ce_catalog_t *cat, const char *key_or_id);

/* Whether key is one of the OAuth provider's entries (see above). */
int ce_catalog_provider_key(const char *key);

/* Reads e's OAuth provider from its entries (e->oauth; NULL when e has no
 * oauth.token.url). APR_EINVAL with *perr (prefixed with where) for a
 * provider entry that is required, lacks a string defaultValue, has a URL
 * that is not http(s), or is in an element without oauth.token.url. */
apr_status_t ce_catalog_read_oauth(ce_element_t *e, apr_pool_t *p, const char *where,
                                   const char **perr);

/* All elements, as const ce_element_t *, in file order. */
const apr_array_header_t *ce_catalog_elements(const ce_catalog_t *cat);

/* The spec of configuration entry key for element e, or NULL. */
const ce_config_spec_t *ce_catalog_config_spec(const ce_element_t *e, const char *key);

#endif
