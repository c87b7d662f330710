/* ce_store_seal: secrets at rest. The registry of every column holding
 * secret material, and what reads it: sealing and opening values, the key
 * check, key rotation (rekey) and the migration that sealed what was clear.
 *
 * One key file: an encryption key, read keys, a digest key. Sealed values
 * are "ce2:<key id>:" + base64(nonce | ciphertext | tag), AES-256-GCM with
 * what the value is as AAD, so a value cannot be moved to another column
 * or entry (ce_crypto.h). Secrets that
 * are only ever compared (user and organization secrets, instance tokens
 * for lookup) are stored as keyed digests: HMAC-SHA-256(digest key, hex
 * SHA-256(value)); the inner SHA-256 is what schema 1 and 2 stored, so the
 * migration keys those in place. The digest key never rotates (secrets
 * exist only as digests); ce_store_rekey.c re-seals under a new
 * encryption key.
 */
#include <string.h>
#include <apr_strings.h>
#include <openssl/crypto.h>

#include "ce_json.h"
#include "ce_render.h"
#include "ce_store_int.h"

/* A sealed configuration value is stored as {"$sealed": "ce2:..."}: an
 * object, which no caller's value can be (values are scalars). */
#define SEALED_KEY "$sealed"
/* The text the key check seals and digests. */
#define KEY_CHECK_TEXT "mod_ceinstances key check"

/* clang-format off */
const ce_sealed_column_t ce_store_sealed_columns[CE_SEALED_COLUMNS] = {
    [CE_SEALED_ORGANIZATION_SECRET] =
        {"Organization", "ce_organization", "id", "secret_digest", NULL, CE_SEAL_DIGEST, 3},
    [CE_SEALED_USER_SECRET] =
        {"User", "ce_user", "id", "secret_digest", NULL, CE_SEAL_DIGEST, 3},
    [CE_SEALED_INSTANCE_TOKEN] =
        {"Instance", "ce_instance", "id", "token", "token", CE_SEAL_TEXT, 3},
    [CE_SEALED_INSTANCE_TOKEN_DIGEST] =
        {"Instance", "ce_instance", "id", "token_digest", NULL, CE_SEAL_DIGEST, 3},
    [CE_SEALED_INSTANCE_CONFIGURATION] =
        {"Instance", "ce_instance", "id", "configuration", "config:", CE_SEAL_CONFIG, 3},
    [CE_SEALED_KEY_CHECK] =
        {"The key check", "ce_key_check", NULL, "sealed", "key-check", CE_SEAL_TEXT, 3},
    [CE_SEALED_KEY_CHECK_DIGEST] =
        {"The key check", "ce_key_check", NULL, "digest", NULL, CE_SEAL_DIGEST, 3},
    [CE_SEALED_EVENT_SIGNATURE_KEY] =
        {"Event", "ce_event", "id", "signature_key", "event-signature-key", CE_SEAL_TEXT, 7},
    /* an event tells the instance's configuration (masked), whose every
     * value is sealed at rest: the event is too, and where it goes */
    [CE_SEALED_EVENT_BODY] =
        {"Event", "ce_event", "id", "body", "event-body", CE_SEAL_TEXT, 7},
    [CE_SEALED_EVENT_CALLBACK] =
        {"Event", "ce_event", "id", "callback_url", "event-callback", CE_SEAL_TEXT, 7},
    /* the instance's answer as its last write rendered it: its
     * configuration's values (masked where secret) */
    [CE_SEALED_INSTANCE_VIEW] =
        {"Instance", "ce_instance", "id", "rendered", "instance-view", CE_SEAL_TEXT, 8},
};
/* clang-format on */

/* ------------------------------------------------------------------ */
/* Values                                                              */

const char *ce_store_seal(apr_pool_t *p, const ce_keys_t *keys, ce_sealed_t which,
                          const char *plain, apr_size_t len)
{
    return ce_crypto_seal(p, keys, ce_store_sealed_columns[which].aad, plain, len);
}

apr_status_t ce_store_open(const char **pplain, apr_size_t *plen, apr_pool_t *p,
                           const ce_keys_t *keys, ce_sealed_t which, const char *sealed)
{
    return ce_crypto_open(pplain, plen, p, keys, ce_store_sealed_columns[which].aad, sealed);
}

const char *ce_store_entry_sealed(const json_t *v)
{
    return json_string_value(json_object_get(v, SEALED_KEY));
}

/* The AAD of configuration entry key. */
static const char *config_aad(apr_pool_t *p, const char *key)
{
    return apr_pstrcat(p, ce_store_sealed_columns[CE_SEALED_INSTANCE_CONFIGURATION].aad, key, NULL);
}

json_t *ce_store_seal_entry(apr_pool_t *p, const ce_keys_t *keys, const char *key, const char *text,
                            apr_size_t len)
{
    const char *sealed = text ? ce_crypto_seal(p, keys, config_aad(p, key), text, len) : NULL;

    return sealed ? json_pack("{s:s}", SEALED_KEY, sealed) : NULL;
}

const char *ce_store_seal_configuration(apr_pool_t *p, const ce_keys_t *keys, const json_t *config,
                                        const ce_instance_t *inst)
{
    json_t *v;
    const char *key, *sealed;
    ce_render_t out, text;
    int first = 1;

    if (!config) {
        return "{}";
    }
    /* written straight (ce_render): what json_dumps made of the tree of
     * {"key": {"$sealed": "..."}} it used to build */
    ce_render_init(&out, p, 1024);
    ce_render_init(&text, p, 256);
    ce_render_lit(&out, "{");
    json_object_foreach((json_t *)config, key, v)
    {
        if (!first) {
            ce_render_lit(&out, ",");
        }
        first = 0;
        ce_render_string(&out, key);
        ce_render_lit(&out, ":");
        /* Every value is sealed, whatever its key: which keys are secret
         * depends on the element, which can change (and the catalog). */
        if (json_is_null(v) || json_is_object(v)) { /* an object: sealed already */
            ce_render_json(&out, v);
            continue;
        }
        text.len = 0;
        ce_render_json(&text, v);
        if (!(sealed = ce_crypto_seal(p, keys, config_aad(p, key), text.data, text.len))) {
            return NULL;
        }
        ce_render_lit(&out, "{\"" SEALED_KEY "\":");
        ce_render_string(&out, sealed);
        ce_render_lit(&out, "}");
    }
    ce_render_lit(&out, "}");
    return ce_render_text(&out);
}

apr_status_t ce_store_open_entry(const char **pplain, apr_size_t *plen, apr_pool_t *p,
                                 const ce_keys_t *keys, const char *key, const json_t *v)
{
    const char *sealed = ce_store_entry_sealed(v);

    if (!sealed) {
        return APR_EGENERAL;
    }
    return ce_crypto_open(pplain, plen, p, keys, config_aad(p, key), sealed);
}

apr_status_t ce_store_open_configuration(json_t *config, apr_pool_t *p, const ce_keys_t *keys,
                                         const char **perr)
{
    const char *key, *plain, *err;
    apr_size_t len;
    json_t *v, *value;
    void *tmp;

    json_object_foreach_safe(config, tmp, key, v)
    {
        if (!json_is_object(v)) {
            continue;
        }
        if (ce_store_open_entry(&plain, &len, p, keys, key, v) != APR_SUCCESS ||
            ce_json_parse(&value, p, plain, len, &err) != APR_SUCCESS) {
            *perr = apr_psprintf(p,
                                 "the stored value of configuration entry %s fails "
                                 "authentication (tampered, or another key)",
                                 key);
            return APR_EGENERAL;
        }
        json_object_set(config, key, value);
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* The key check                                                       */

/* Verifies the stored key check (digest, sealed) against db->keys. */
static apr_status_t key_check_verify(ce_db_t *db, apr_pool_t *p, const char **row,
                                     const char *digest, const char **perr)
{
    const char *plain;
    apr_size_t len;

    if (!ce_crypto_equal(row[0], digest)) {
        *perr = "The key file does not match this database: its digest key is not the "
                "one the database was written with (a rotated key file keeps it: ceadmin "
                "keygen NEW --rotate OLD)";
        return APR_EACCES;
    }
    if (ce_store_open(&plain, &len, p, db->keys, CE_SEALED_KEY_CHECK, row[1]) != APR_SUCCESS) {
        const char *kid = ce_crypto_sealed_kid(p, row[1]);

        *perr = apr_psprintf(p,
                             "The key file does not match this database: it holds no "
                             "encryption key that opens the database's key check (sealed "
                             "with key %s)",
                             kid && *kid ? kid : "of before key ids");
        return APR_EACCES;
    }
    return APR_SUCCESS;
}

apr_status_t ce_store_key_check(ce_db_t *db, apr_pool_t *p, const char **perr)
{
    const char *digest = ce_crypto_keyed_digest(p, db->keys, KEY_CHECK_TEXT), *sealed;
    apr_array_header_t *rows;
    apr_status_t rv;

    rv = ce_store_select(&rows, db, p, "SELECT digest, sealed FROM ce_key_check", perr);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (rows->nelts > 0) {
        return key_check_verify(db, p, APR_ARRAY_IDX(rows, 0, const char **), digest, perr);
    }
    sealed =
        ce_store_seal(p, db->keys, CE_SEALED_KEY_CHECK, KEY_CHECK_TEXT, strlen(KEY_CHECK_TEXT));
    if (!digest || !sealed) {
        *perr = "Could not compute the key check";
        return APR_EGENERAL;
    }
    return ce_store_exec_update(db, p,
                                apr_psprintf(p,
                                             "INSERT INTO ce_key_check (digest, sealed) "
                                             "VALUES ('%s', '%s')",
                                             digest, sealed),
                                perr);
}

/* ------------------------------------------------------------------ */
/* Rewriting a registered column in place (migration, rekey)           */

/* What one column's value becomes: *pout, or NULL when it cannot be. */
typedef const char *convert_fn(apr_pool_t *p, const ce_sealed_column_t *c, const char *value,
                               const ce_keys_t *from, const ce_keys_t *to);

/* Rewrites every row of column c through convert, naming the first row
 * that fails (nothing is changed then: the caller's transaction rolls
 * back). */
static apr_status_t convert_column(ce_db_t *db, apr_pool_t *p, const ce_sealed_column_t *c,
                                   convert_fn *convert, const ce_keys_t *to, const char *failure,
                                   const char **perr)
{
    apr_array_header_t *rows;
    apr_status_t rv;
    int i;

    rv = ce_store_select(
        &rows, db, p,
        apr_psprintf(p, "SELECT %s, %s FROM %s", c->key ? c->key : "0", c->column, c->table), perr);
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        const char **r = APR_ARRAY_IDX(rows, i, const char **);
        const char *out = convert(p, c, r[1], db->keys, to);

        if (!out) {
            *perr = c->key ? apr_psprintf(p, "%s %s: %s", c->noun, r[0], failure)
                           : apr_psprintf(p, "%s: %s", c->noun, failure);
            return APR_EGENERAL;
        }
        rv = ce_store_column_set(db, p, c, r[0], out, perr);
    }
    return rv;
}

apr_status_t ce_store_column_set(ce_db_t *db, apr_pool_t *p, const ce_sealed_column_t *c,
                                 const char *id, const char *value, const char **perr)
{
    return ce_store_exec_update(
        db, p,
        apr_psprintf(
            p, "UPDATE %s SET %s = %s%s%s", c->table, c->column, ce_store_quote(db, p, value),
            c->key ? apr_pstrcat(p, " WHERE ", c->key, " = ", NULL) : "", c->key ? id : ""),
        perr);
}

/* Clear → stored (schema 2 → 3): digests keyed, values sealed (every
 * configuration value: which are secret depends on the catalog, not at
 * hand here; sealing all is safe, and the next write of an instance seals
 * only its secret ones). */
static const char *seal_clear(apr_pool_t *p, const ce_sealed_column_t *c, const char *value,
                              const ce_keys_t *from, const ce_keys_t *to)
{
    const char *v = ce_store_or_empty(value), *err;
    json_t *cfg;

    switch (c->kind) {
        case CE_SEAL_DIGEST:
            return ce_crypto_key_digest(p, to, v);
        case CE_SEAL_TEXT:
            return ce_crypto_seal(p, to, c->aad, v, strlen(v));
        case CE_SEAL_CONFIG:
            if (ce_json_parse(&cfg, p, *v ? v : "{}", strlen(*v ? v : "{}"), &err) != APR_SUCCESS ||
                !json_is_object(cfg)) {
                return NULL;
            }
            return ce_store_seal_configuration(p, to, cfg, NULL);
    }
    return NULL;
}

apr_status_t ce_store_seal_migrate(ce_db_t *db, apr_pool_t *p, int version, const char **perr)
{
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; i < CE_SEALED_COLUMNS && rv == APR_SUCCESS; i++) {
        const ce_sealed_column_t *c = &ce_store_sealed_columns[i];

        if (c->since == version) {
            rv = convert_column(db, p, c, seal_clear, db->keys, "could not seal a stored value",
                                perr);
        }
    }
    return rv;
}

void ce_store_drop_sealed(json_t *config)
{
    const char *key;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(config, tmp, key, v)
    {
        if (json_is_object(v)) {
            json_object_set_new(config, key, json_null());
        }
    }
}

apr_status_t ce_store_seal_configurations(ce_db_t *db, apr_pool_t *p, int version,
                                          const char **perr)
{
    return convert_column(db, p, &ce_store_sealed_columns[CE_SEALED_INSTANCE_CONFIGURATION],
                          seal_clear, db->keys, "could not seal a stored value", perr);
}
