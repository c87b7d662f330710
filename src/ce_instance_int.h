/* ce_instance_int.h: what ce_instance.c (bodies, create, merge) and
 * ce_instance_config.c (the configuration's rules) share; nothing else
 * includes it. The public interface is ce_instance.h. */
#ifndef CE_INSTANCE_INT_H
#define CE_INSTANCE_INT_H

#include "ce_instance.h"

/* *perr = the formatted message (in p); returns APR_EINVAL. */
apr_status_t ce_instance_invalid(apr_pool_t *p, const char **perr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A JSON scalar: anything but an object or array (NULL is not). */
int ce_instance_is_scalar(const json_t *v);

/* Whether v is the mask CE_MASK (a client sending back what it got). */
int ce_instance_is_mask(const json_t *v);

/* Whether entry key of element e (NULL: an element gone from the catalog)
 * is secret: the catalog says so, or a key it does not define is named
 * like a secret (password, secret, token, key). */
int ce_instance_is_secret(const ce_element_t *e, const char *key);

/* A deep copy of cfg (an empty object for NULL), bound to p. */
json_t *ce_instance_copy_configuration(apr_pool_t *p, const json_t *cfg);

/* The configuration after applying given (checked against e's types) to
 * old: old's entries, then e's entries not there yet (defaults), then
 * given's new keys; a secret entry sent as CE_MASK keeps its value. */
apr_status_t ce_instance_build_configuration(json_t **pcfg, apr_pool_t *p, const ce_element_t *e,
                                             const json_t *old, const json_t *given,
                                             const char **perr);

/* The entries of cfg that element e defines, in cfg's order (bound to p). */
json_t *ce_instance_only_entries_of(apr_pool_t *p, const ce_element_t *e, const json_t *cfg);

/* APR_EINVAL naming the limit when cfg holds more than limits allow. */
apr_status_t ce_instance_check_limits(apr_pool_t *p, const ce_config_limits_t *limits,
                                      const json_t *cfg, const char **perr);

/* APR_EINVAL naming every required entry of e that cfg lacks. */
apr_status_t ce_instance_require_entries(apr_pool_t *p, const ce_element_t *e, const json_t *cfg,
                                         const char **perr);

/* What a body asks of an OAuth element's provider: providerData.code,
 * externalAuthentication (NULL when not given). */
typedef struct {
    const char *code;
    const char *external;
} ce_oauth_ask_t;

/* Reads providerData.code and externalAuthentication (types and values
 * checked, whatever the element). */
apr_status_t ce_instance_read_oauth(ce_oauth_ask_t *ask, apr_pool_t *p, const json_t *body,
                                    const char **perr);

/* The OAuth rules for next (its element already set), given the body's
 * ask and configuration and what was stored (NULL on create): oauth.user.*
 * entries are the server's except on import; sets next's provider_code,
 * oauth_import, external_authentication; a non-OAuth element has nothing
 * to refresh. */
apr_status_t ce_instance_apply_oauth(ce_instance_t *next, apr_pool_t *p, const ce_oauth_ask_t *ask,
                                     const json_t *given, const json_t *stored, const char **perr);

/* One configuration entry change (PATCH .../configuration/{id}) of an
 * OAuth instance: oauth.user.* entries stay the server's. */
apr_status_t ce_instance_oauth_entry(apr_pool_t *p, const ce_instance_t *inst, const char *key,
                                     const json_t *v, const char **perr);

#endif
