/* Unit tests of ce_store against a real SQLite database: a fresh directory
 * and connection (opened with apr_dbd, as ceadmin does) for every test.
 * Instances are built by hand here, so these tests depend on ce_store and
 * the catalog lookup only, not on ce_instance's validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_dbd.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include "unit.h"
#include "ce_render.h"
#include "unit_http.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "ce_store.h"
#include "ce_store_int.h"
#include "ce_json.h"
#include "ce_crypto.h"

static char dir[64];
static ce_db_t db;
static ce_keys_t *keys; /* the test database's key file */
static ce_catalog_t *cat;
static const char *err;

static const char catalog_text[] =
    "{\"elements\": [{\"id\": 16, \"key\": \"amazons3\", \"name\": \"Amazon S3\","
    " \"configuration\": [{\"key\": \"aws.secret\", \"name\": \"Secret\", \"type\": "
    "\"PASSWORD\"}]},"
    " {\"id\": 42, \"key\": \"jira\", \"name\": \"Jira\"}]}";

/* Opens (and prepares) one more connection to the test database in p. */
static void open_db(ce_db_t *d, apr_pool_t *p)
{
    const char *open_err = NULL;

    memset(d, 0, sizeof(*d));
    d->pool = p;
    d->prepared = apr_hash_make(p);
    d->keys = keys;
    ck_assert_int_eq(apr_dbd_get_driver(p, "sqlite3", &d->driver), APR_SUCCESS);
    ck_assert_int_eq(
        apr_dbd_open_ex(d->driver, p, apr_pstrcat(p, dir, "/ce.db", NULL), &d->handle, &open_err),
        APR_SUCCESS);
    err = NULL;
    ck_assert_msg(ce_store_init(d, &err) == APR_SUCCESS, "init: %s", err ? err : "?");
}

static void store_setup(void)
{
    unit_setup();
    strcpy(dir, "/tmp/ce_store_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(ce_crypto_keys_write(apr_pstrcat(pool, dir, "/key", NULL), NULL, pool, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(ce_crypto_keys_load(&keys, pool, apr_pstrcat(pool, dir, "/key", NULL), &err),
                     APR_SUCCESS);
    open_db(&db, pool);
    ck_assert_int_eq(ce_catalog_parse(&cat, pool, catalog_text, strlen(catalog_text), &err),
                     APR_SUCCESS);
}

static void remove_dir(void)
{
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, pool) != APR_SUCCESS) {
        return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (strcmp(fi.name, ".") != 0 && strcmp(fi.name, "..") != 0) {
            apr_file_remove(apr_pstrcat(pool, dir, "/", fi.name, NULL), pool);
        }
    }
    apr_dir_close(d);
    apr_dir_remove(dir, pool);
}

static void store_teardown(void)
{
    ce_store_close(&db);
    remove_dir();
    unit_teardown();
}

/* The single integer that sql (no parameters) selects on connection d. */
static long long scalar(const ce_db_t *d, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    long long v = -1;

    ck_assert_int_eq(apr_dbd_select(d->driver, pool, d->handle, &res, sql, 1), 0);
    while (apr_dbd_get_row(d->driver, pool, res, &row, -1) == 0) {
        v = apr_atoi64(apr_dbd_get_entry(d->driver, row, 0));
    }
    return v;
}

/* --- organizations, users, secrets --- */

typedef struct {
    ce_organization_t *org;
    ce_user_t *user;
    const char *org_secret;
    const char *user_secret;
} account_t;

static account_t signup(const char *org_name, const char *email)
{
    account_t a;

    err = NULL;
    ck_assert_msg(ce_store_signup(&a.org, &a.user, &a.org_secret, &a.user_secret, &db, pool,
                                  org_name, email, "First", "Last", &err) == APR_SUCCESS,
                  "signup: %s", err ? err : "?");
    return a;
}

static void assert_authenticates(const char *user_secret, const char *org_secret,
                                 apr_int64_t user_id)
{
    ce_user_t *u = NULL;

    ck_assert_int_eq(ce_store_authenticate(&u, &db, pool, user_secret, org_secret, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(u->id, user_id);
}

static void assert_rejected(const char *user_secret, const char *org_secret)
{
    ce_user_t *u = (ce_user_t *)1;

    ck_assert_int_eq(ce_store_authenticate(&u, &db, pool, user_secret, org_secret, &err),
                     APR_NOTFOUND);
    ck_assert_ptr_null(u);
}

START_TEST(init_is_idempotent)
{
    unsigned int n = apr_hash_count(db.prepared);
    apr_pool_t *p2;
    ce_db_t db2;

    ck_assert_uint_gt(n, 10);
    ck_assert_ptr_nonnull(apr_hash_get(db.prepared, "ce_ready", APR_HASH_KEY_STRING));
    ck_assert_ptr_nonnull(apr_hash_get(db.prepared, "ce_select_instance", APR_HASH_KEY_STRING));
    ck_assert_int_eq(ce_store_init(&db, &err), APR_SUCCESS);
    ck_assert_uint_eq(apr_hash_count(db.prepared), n);

    /* a second connection on the existing schema */
    apr_pool_create(&p2, pool);
    open_db(&db2, p2);
    ck_assert_uint_eq(apr_hash_count(db2.prepared), n);
    signup("Acme", "a@acme.test");
    ck_assert_int_eq(scalar(&db2, "SELECT COUNT(*) FROM ce_organization"), 1);
    ck_assert_int_eq(scalar(&db2, "SELECT COUNT(*) FROM ce_schema_version"), 1);
    ck_assert_int_eq(scalar(&db2, "SELECT version FROM ce_schema_version"), 8);
    ck_assert_int_eq(scalar(&db2, "PRAGMA foreign_keys"), 1);
    ce_store_close(&db2);
    apr_pool_destroy(p2);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_schema_version"), 1);
}
END_TEST

START_TEST(uninitialized_connection_fails_cleanly)
{
    /* statements are looked up by label: a connection that was never
     * initialized fails cleanly instead of crashing */
    ce_db_t raw = db;
    ce_user_t *u;
    const char *secret;

    raw.prepared = apr_hash_make(pool);
    ck_assert_int_eq(ce_store_user_rotate(&secret, &raw, pool, 1, &err), APR_EGENERAL);
    ck_assert_ptr_nonnull(strstr(err, "not prepared"));
    ck_assert_int_eq(ce_store_authenticate(&u, &raw, pool, "a", "b", &err), APR_EGENERAL);
}
END_TEST

START_TEST(signup_and_authenticate)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_user_t *u;

    ck_assert_int_eq(a.org->id, 1);
    ck_assert_str_eq(a.org->name, "Acme");
    ck_assert_uint_eq(strlen(a.org->created_date), 24);
    ck_assert_int_eq(a.user->id, 1);
    ck_assert_int_eq(a.user->organization_id, 1);
    ck_assert_uint_eq(strlen(a.org_secret), 44);
    ck_assert_uint_eq(strlen(a.user_secret), 44);
    ck_assert_str_ne(a.org_secret, a.user_secret);

    ck_assert_int_eq(ce_store_authenticate(&u, &db, pool, a.user_secret, a.org_secret, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(u->id, a.user->id);
    ck_assert_int_eq(u->organization_id, a.org->id);
    ck_assert_str_eq(u->email_address, "a@acme.test");
    ck_assert_str_eq(u->first_name, "First");
    ck_assert_str_eq(u->last_name, "Last");
}
END_TEST

START_TEST(only_digests_are_stored)
{
    account_t a = signup("Acme", "a@acme.test");
    const char *sql;

    /* keyed digests (HMAC under the key file's digest key), not plain ones */
    sql = apr_psprintf(pool, "SELECT COUNT(*) FROM ce_user WHERE secret_digest = '%s'",
                       ce_crypto_keyed_digest(pool, keys, a.user_secret));
    ck_assert_int_eq(scalar(&db, sql), 1);
    sql = apr_psprintf(pool, "SELECT COUNT(*) FROM ce_organization WHERE secret_digest = '%s'",
                       ce_crypto_keyed_digest(pool, keys, a.org_secret));
    ck_assert_int_eq(scalar(&db, sql), 1);
    sql = apr_psprintf(pool, "SELECT COUNT(*) FROM ce_user WHERE secret_digest = '%s'",
                       ce_crypto_digest(pool, a.user_secret));
    ck_assert_int_eq(scalar(&db, sql), 0);
    sql = apr_psprintf(pool,
                       "SELECT COUNT(*) FROM ce_user u, ce_organization o WHERE "
                       "instr(u.secret_digest || o.secret_digest || o.name || u.email_address, "
                       "'%s') > 0 OR instr(u.secret_digest || o.secret_digest, '%s') > 0",
                       a.user_secret, a.org_secret);
    ck_assert_int_eq(scalar(&db, sql), 0);
}
END_TEST

START_TEST(wrong_and_mismatched_secrets)
{
    account_t a = signup("Acme", "a@acme.test");
    account_t b = signup("Beta", "b@beta.test");

    assert_authenticates(a.user_secret, a.org_secret, a.user->id);
    assert_authenticates(b.user_secret, b.org_secret, b.user->id);
    assert_rejected(a.user_secret, b.org_secret); /* user of another organization */
    assert_rejected(b.user_secret, a.org_secret);
    assert_rejected(a.org_secret, a.user_secret); /* swapped */
    assert_rejected(a.user_secret, a.user_secret);
    assert_rejected("bogus", a.org_secret);
    assert_rejected(a.user_secret, "bogus");
    assert_rejected(ce_crypto_digest(pool, a.user_secret), ce_crypto_digest(pool, a.org_secret));
    assert_rejected(NULL, a.org_secret);
    assert_rejected(a.user_secret, NULL);
}
END_TEST

START_TEST(rotated_secrets)
{
    account_t a = signup("Acme", "a@acme.test");
    const char *user_secret, *org_secret;

    ck_assert_int_eq(ce_store_user_rotate(&user_secret, &db, pool, a.user->id, &err), APR_SUCCESS);
    ck_assert_str_ne(user_secret, a.user_secret);
    assert_rejected(a.user_secret, a.org_secret);
    assert_authenticates(user_secret, a.org_secret, a.user->id);

    ck_assert_int_eq(ce_store_organization_rotate(&org_secret, &db, pool, a.org->id, &err),
                     APR_SUCCESS);
    assert_rejected(user_secret, a.org_secret);
    assert_authenticates(user_secret, org_secret, a.user->id);

    ck_assert_int_eq(ce_store_user_rotate(&user_secret, &db, pool, 99, &err), APR_NOTFOUND);
    ck_assert_ptr_null(user_secret);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(ce_store_organization_rotate(&org_secret, &db, pool, 99, &err), APR_NOTFOUND);
}
END_TEST

START_TEST(user_add)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_user_t *u;
    const char *secret;

    ck_assert_int_eq(
        ce_store_user_add(&u, &secret, &db, pool, a.org->id, "c@acme.test", NULL, NULL, &err),
        APR_SUCCESS);
    ck_assert_int_eq(u->id, 2);
    ck_assert_int_eq(u->organization_id, a.org->id);
    ck_assert_str_eq(u->first_name, "");
    ck_assert_str_eq(u->last_name, "");
    assert_authenticates(secret, a.org_secret, 2);
    assert_authenticates(a.user_secret, a.org_secret, 1);

    u = (ce_user_t *)1;
    ck_assert_int_eq(ce_store_user_add(&u, &secret, &db, pool, 99, "x@y.test", "X", "Y", &err),
                     APR_NOTFOUND);
    ck_assert_ptr_null(u);
    ck_assert_ptr_nonnull(strstr(err, "99"));
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_user"), 2);
}
END_TEST

START_TEST(organization_list)
{
    apr_array_header_t *orgs;
    const ce_organization_t *o;

    ck_assert_int_eq(ce_store_organization_list(&orgs, &db, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(orgs->nelts, 0);
    signup("Acme", "a@acme.test");
    signup("Beta", "b@beta.test");
    ck_assert_int_eq(ce_store_organization_list(&orgs, &db, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(orgs->nelts, 2);
    o = APR_ARRAY_IDX(orgs, 0, const ce_organization_t *);
    ck_assert_int_eq(o->id, 1);
    ck_assert_str_eq(o->name, "Acme");
    ck_assert_uint_eq(strlen(o->created_date), 24);
    o = APR_ARRAY_IDX(orgs, 1, const ce_organization_t *);
    ck_assert_int_eq(o->id, 2);
    ck_assert_str_eq(o->name, "Beta");
}
END_TEST

/* --- instances --- */

/* A new instance of owner, as ce_instance_create would hand it over. tags
 * is a new reference (or NULL for []). */
static ce_instance_t *make_instance(const ce_user_t *owner, long element_id, const char *name,
                                    json_t *tags)
{
    ce_instance_t *inst = apr_pcalloc(pool, sizeof(*inst));

    inst->organization_id = owner->organization_id;
    inst->user = owner;
    inst->element_id = element_id;
    inst->element = ce_catalog_by_id(cat, element_id);
    inst->name = name;
    ck_assert_int_eq(ce_crypto_token(&inst->token, pool, CE_TOKEN_BYTES), APR_SUCCESS);
    inst->tags = ce_json_bind(pool, tags ? tags : json_array());
    inst->configuration = ce_json_bind(
        pool, json_pack("{s:s, s:s, s:i, s:b, s:n}", "bucket.name", "photos", "aws.secret",
                        "s3cr3t-value", "retries", 3, "event.notification.enabled", 1, "optional"));
    inst->max_cache_size = 100;
    inst->cache_time_to_live = 60;
    inst->caching_enabled = 1;
    inst->created_date = inst->updated_date = "2026-11-23T09:41:07.123Z";
    return inst;
}

static ce_instance_t *create(const ce_user_t *owner, long element_id, const char *name,
                             json_t *tags)
{
    ce_instance_t *inst = make_instance(owner, element_id, name, tags);

    err = NULL;
    ck_assert_msg(ce_store_instance_create(&db, pool, inst, &err) == APR_SUCCESS, "create: %s",
                  err ? err : "?");
    ck_assert_int_gt(inst->id, 0);
    return inst;
}

static ce_instance_t *get(const ce_user_t *owner, apr_int64_t id)
{
    ce_instance_t *inst = NULL;

    ck_assert_int_eq(ce_store_instance_get(&inst, &db, pool, cat, owner, id, &err), APR_SUCCESS);
    return inst;
}

static void assert_json_eq(const json_t *a, const json_t *b)
{
    ck_assert_str_eq(ce_json_dump(pool, a), ce_json_dump(pool, b));
}

static void assert_same_instance(const ce_instance_t *a, const ce_instance_t *b)
{
    ck_assert_int_eq(a->id, b->id);
    ck_assert_int_eq(a->organization_id, b->organization_id);
    ck_assert_int_eq(a->element_id, b->element_id);
    ck_assert_str_eq(a->name, b->name);
    ck_assert_str_eq(a->token, b->token);
    assert_json_eq(a->tags, b->tags);
    assert_json_eq(a->configuration, b->configuration);
    ck_assert_int_eq(a->disabled, b->disabled);
    ck_assert_int_eq(a->max_cache_size, b->max_cache_size);
    ck_assert_int_eq(a->cache_time_to_live, b->cache_time_to_live);
    ck_assert_int_eq(a->caching_enabled, b->caching_enabled);
    ck_assert_int_eq(a->trace_logging_enabled, b->trace_logging_enabled);
    ck_assert_str_eq(a->created_date, b->created_date);
    ck_assert_str_eq(a->updated_date, b->updated_date);
}

START_TEST(instance_create_and_get)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = create(a.user, 16, "My S3", json_pack("[s, s]", "prod", "eu"));
    ce_instance_t *got = get(a.user, inst->id);
    const char *sql;

    ck_assert_int_eq(inst->id, 1);
    assert_same_instance(got, inst);
    ck_assert_ptr_eq(got->user, a.user);
    ck_assert_ptr_nonnull(got->element);
    ck_assert_str_eq(got->element->key, "amazons3");
    /* key order of the configuration object survives the round trip */
    ck_assert_str_eq(ce_json_dump(pool, got->configuration),
                     "{\"bucket.name\":\"photos\",\"aws.secret\":\"s3cr3t-value\",\"retries\":3,"
                     "\"event.notification.enabled\":true,\"optional\":null}");
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag WHERE instance_id = 1"), 2);
    sql = apr_psprintf(pool, "SELECT COUNT(*) FROM ce_instance WHERE token_digest = '%s'",
                       ce_crypto_keyed_digest(pool, keys, inst->token));
    ck_assert_int_eq(scalar(&db, sql), 1);
    /* neither the token nor any configuration value is stored in clear
     * (which keys are secret depends on an element that can change) */
    sql = apr_psprintf(pool,
                       "SELECT COUNT(*) FROM ce_instance WHERE token = '%s' OR "
                       "instr(token, '%s') > 0 OR instr(configuration, 's3cr3t') > 0",
                       inst->token, inst->token);
    ck_assert_int_eq(scalar(&db, sql), 0);
    ck_assert_int_eq(
        scalar(&db, "SELECT COUNT(*) FROM ce_instance WHERE instr(configuration, 'photos') > 0"),
        0);

    /* an element that left the catalog, or no catalog at all */
    inst = create(a.user, 777, "Gone", NULL);
    ck_assert_ptr_null(get(a.user, inst->id)->element);
    ck_assert_int_eq(get(a.user, inst->id)->element_id, 777);
    ck_assert_int_eq(ce_store_instance_get(&got, &db, pool, NULL, a.user, 1, &err), APR_SUCCESS);
    ck_assert_ptr_null(got->element);

    /* an id that is already set is refused */
    ck_assert_int_eq(ce_store_instance_create(&db, pool, inst, &err), APR_EINVAL);
    ck_assert_int_eq(ce_store_instance_get(&got, &db, pool, cat, a.user, 99, &err), APR_NOTFOUND);
    ck_assert_ptr_null(got);
}
END_TEST

START_TEST(instance_update)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = create(a.user, 16, "My S3", json_pack("[s, s]", "prod", "eu"));
    ce_instance_t *got;

    inst->name = "Renamed";
    inst->element_id = 42;
    inst->tags = ce_json_bind(pool, json_pack("[s, s]", "eu", "new"));
    json_object_set_new(inst->configuration, "retries", json_integer(5));
    json_object_set_new(inst->configuration, "extra", json_string("x"));
    inst->disabled = 1;
    inst->max_cache_size = 7;
    inst->cache_time_to_live = 8;
    inst->caching_enabled = 0;
    inst->trace_logging_enabled = 1;
    inst->updated_date = "2026-11-24T00:00:00.000Z";
    ck_assert_int_eq(ce_store_instance_update(&db, pool, inst, &err), APR_SUCCESS);
    got = get(a.user, inst->id);
    assert_same_instance(got, inst);
    ck_assert_str_eq(got->element->key, "jira");
    ck_assert_str_eq(got->created_date, "2026-11-23T09:41:07.123Z");
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag WHERE tag = 'prod'"), 0);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag WHERE tag = 'new'"), 1);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag"), 2);

    inst->id = 99;
    ck_assert_int_eq(ce_store_instance_update(&db, pool, inst, &err), APR_NOTFOUND);
}
END_TEST

/* A modify callback: renames to the baton, or fails with APR_EINVAL when
 * the baton is NULL. */
static apr_status_t rename_to(ce_instance_t *inst, void *baton, const char **perr)
{
    if (!baton) {
        inst->name = "never written";
        *perr = "refused";
        return APR_EINVAL;
    }
    inst->name = baton;
    json_object_set_new(inst->configuration, "added", json_string("in the transaction"));
    return APR_SUCCESS;
}

START_TEST(instance_modify)
{
    account_t a = signup("Acme", "a@acme.test"), b = signup("Beta", "b@beta.test");
    ce_instance_t *inst = create(a.user, 16, "Before", NULL), *out = NULL, *got;

    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, a.user, inst->id, rename_to, "After", &err),
        APR_SUCCESS);
    ck_assert_str_eq(out->name, "After");
    got = get(a.user, inst->id);
    assert_same_instance(got, out);
    ck_assert_str_eq(json_string_value(json_object_get(got->configuration, "added")),
                     "in the transaction");
    /* refused: nothing written, the callback's status and message */
    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, a.user, inst->id, rename_to, NULL, &err),
        APR_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err, "refused");
    ck_assert_str_eq(get(a.user, inst->id)->name, "After");
    /* another tenant's, or gone: not found, callback never called */
    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, b.user, inst->id, rename_to, "Stolen", &err),
        APR_NOTFOUND);
    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, a.user, 999, rename_to, "Nobody", &err),
        APR_NOTFOUND);
    ck_assert_str_eq(get(a.user, inst->id)->name, "After");
}
END_TEST

START_TEST(instance_delete)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = create(a.user, 16, "My S3", json_pack("[s]", "prod"));
    ce_instance_t *keep = create(a.user, 16, "Other", json_pack("[s]", "prod"));
    ce_instance_t *got;
    apr_int64_t id;

    ck_assert_int_eq(ce_store_instance_delete(&db, pool, a.user, inst->id, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_store_instance_get(&got, &db, pool, cat, a.user, inst->id, &err),
                     APR_NOTFOUND);
    ck_assert_int_eq(ce_store_instance_by_token(&id, &db, pool, a.user, inst->token, &err),
                     APR_NOTFOUND);
    ck_assert_int_eq(ce_store_instance_delete(&db, pool, a.user, inst->id, &err), APR_NOTFOUND);
    ck_assert_int_eq(ce_store_instance_update(&db, pool, inst, &err), APR_NOTFOUND);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag"), 1);
    assert_same_instance(get(a.user, keep->id), keep);
}
END_TEST

START_TEST(instance_by_token)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = create(a.user, 16, "My S3", NULL);
    const char *token;
    apr_int64_t id = -1;

    create(a.user, 16, "Other", NULL);
    ck_assert_int_eq(ce_store_instance_by_token(&id, &db, pool, a.user, inst->token, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(id, inst->id);
    ck_assert_int_eq(ce_crypto_token(&token, pool, CE_TOKEN_BYTES), APR_SUCCESS);
    ck_assert_int_eq(ce_store_instance_by_token(&id, &db, pool, a.user, token, &err), APR_NOTFOUND);
    ck_assert_int_eq(id, 0);
    ck_assert_int_eq(ce_store_instance_by_token(&id, &db, pool, a.user,
                                                ce_crypto_digest(pool, inst->token), &err),
                     APR_NOTFOUND);
    ck_assert_int_eq(ce_store_instance_by_token(&id, &db, pool, a.user, NULL, &err), APR_NOTFOUND);
    /* a disabled instance's token is known, and said to be disabled */
    inst->disabled = 1;
    ck_assert_int_eq(ce_store_instance_update(&db, pool, inst, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_store_instance_by_token(&id, &db, pool, a.user, inst->token, &err),
                     CE_STORE_EDISABLED);
    ck_assert_int_eq(id, inst->id);
}
END_TEST

/* The small read ce_authcache's hits are checked by: the instance of the
 * digests an instance_of_credentials lookup used, its revision and
 * whether it is disabled; not found once a secret or the row changed. */
START_TEST(instance_revision_check)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = create(a.user, 16, "My S3", NULL), *got = NULL;
    const char *digests[CE_STORE_CREDENTIAL_DIGESTS] = {NULL, NULL, NULL}, *secret;
    apr_int64_t revision = 0;
    int disabled = -1;

    ck_assert_int_eq(ce_store_instance_of_credentials(&got, &db, pool, cat, a.user_secret,
                                                      a.org_secret, inst->token, digests, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(digests[2]);
    ck_assert_int_eq(
        ce_store_instance_revision(&revision, &disabled, &db, pool, inst->id, digests, &err),
        APR_SUCCESS);
    ck_assert_int_eq(revision, got->revision);
    ck_assert_int_eq(disabled, 0);
    /* on SQLite, read with SQLite's own API (ce_store_sqlite.c), on the
     * one statement the connection keeps, through every case below */
    if (strcmp(apr_dbd_name(db.driver), "sqlite3") == 0) {
        ck_assert(ce_store_sqlite_native(&db));
    }
    /* another instance's id with these digests: not found */
    ck_assert_int_eq(ce_store_instance_revision(&revision, &disabled, &db, pool,
                                                create(a.user, 16, "Other", NULL)->id, digests,
                                                &err),
                     APR_NOTFOUND);
    /* a write counts one; disabling shows */
    got->disabled = 1;
    ck_assert_int_eq(ce_store_instance_update(&db, pool, got, &err), APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_instance_revision(&revision, &disabled, &db, pool, inst->id, digests, &err),
        APR_SUCCESS);
    ck_assert_int_eq(revision, got->revision + 1);
    ck_assert_int_eq(disabled, 1);
    /* a rotated user secret: the old digests find nothing */
    ck_assert_int_eq(ce_store_user_rotate(&secret, &db, pool, a.user->id, &err), APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_instance_revision(&revision, &disabled, &db, pool, inst->id, digests, &err),
        APR_NOTFOUND);
    ck_assert_int_eq(ce_store_instance_of_credentials(&got, &db, pool, cat, secret, a.org_secret,
                                                      inst->token, digests, &err),
                     CE_STORE_EDISABLED);
    ck_assert_int_eq(
        ce_store_instance_revision(&revision, &disabled, &db, pool, inst->id, digests, &err),
        APR_SUCCESS);
    /* deleted: nothing */
    ck_assert_int_eq(ce_store_instance_delete(&db, pool, a.user, inst->id, &err), APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_instance_revision(&revision, &disabled, &db, pool, inst->id, digests, &err),
        APR_NOTFOUND);
}
END_TEST

START_TEST(instance_ownership)
{
    account_t a = signup("Acme", "a@acme.test");
    account_t b = signup("Beta", "b@beta.test");
    ce_instance_t *inst = create(a.user, 16, "Mine", json_pack("[s]", "prod"));
    ce_instance_t *before = get(a.user, inst->id), *got, theirs = *inst;
    ce_user_t *colleague;
    const ce_user_t *others[2];
    const char *secret;
    apr_int64_t id;
    int i;

    ck_assert_int_eq(ce_store_user_add(&colleague, &secret, &db, pool, a.org->id, "c@acme.test",
                                       NULL, NULL, &err),
                     APR_SUCCESS);
    /* another organization's user, and a colleague in the same one */
    others[0] = b.user;
    others[1] = colleague;
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(ce_store_instance_get(&got, &db, pool, cat, others[i], inst->id, &err),
                         APR_NOTFOUND);
        ck_assert_int_eq(ce_store_instance_by_token(&id, &db, pool, others[i], inst->token, &err),
                         APR_NOTFOUND);
        theirs.user = others[i];
        theirs.name = "Hijacked";
        ck_assert_int_eq(ce_store_instance_update(&db, pool, &theirs, &err), APR_NOTFOUND);
        ck_assert_int_eq(ce_store_instance_delete(&db, pool, others[i], inst->id, &err),
                         APR_NOTFOUND);
    }
    assert_same_instance(get(a.user, inst->id), before);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag"), 1);
}
END_TEST

START_TEST(ids_not_reused)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *third;

    create(a.user, 16, "one", NULL);
    create(a.user, 16, "two", NULL);
    third = create(a.user, 16, "three", NULL);
    ck_assert_int_eq(third->id, 3);
    ck_assert_int_eq(ce_store_instance_delete(&db, pool, a.user, 3, &err), APR_SUCCESS);
    ck_assert_int_eq(create(a.user, 16, "four", NULL)->id, 4);
}
END_TEST

START_TEST(failed_write_leaves_nothing)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *dup_tags, *dup_token, *ok, *got;

    /* the tag rows fail (duplicate tag) after the instance row went in */
    dup_tags = make_instance(a.user, 16, "Dup tags", json_pack("[s, s]", "x", "x"));
    err = NULL;
    ck_assert_int_eq(ce_store_instance_create(&db, pool, dup_tags, &err), APR_EGENERAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(strstr(err, dup_tags->token));
    ck_assert_int_eq(dup_tags->id, 0);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance"), 0);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag"), 0);

    /* the instance row fails (token already issued) */
    ok = create(a.user, 16, "Ok", json_pack("[s]", "keep"));
    dup_token = make_instance(a.user, 16, "Dup token", json_pack("[s]", "y"));
    dup_token->token = ok->token;
    ck_assert_int_eq(ce_store_instance_create(&db, pool, dup_token, &err), APR_EGENERAL);
    ck_assert_ptr_null(strstr(err, ok->token));
    ck_assert_ptr_null(strstr(err, ce_crypto_digest(pool, ok->token)));
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance"), 1);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag"), 1);

    /* a failed update keeps the stored row and tags */
    got = get(a.user, ok->id);
    got->name = "Changed";
    got->tags = ce_json_bind(pool, json_pack("[s, s]", "z", "z"));
    ck_assert_int_eq(ce_store_instance_update(&db, pool, got, &err), APR_EGENERAL);
    assert_same_instance(get(a.user, ok->id), ok);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag WHERE tag = 'keep'"), 1);

    /* the connection is usable afterwards (no transaction left open) */
    ck_assert_int_eq(create(a.user, 16, "After", NULL)->id, ok->id + 1);
}
END_TEST

/* --- group commit --- */

static apr_int64_t total(const ce_user_t *owner, long element_id, const char *tags);
static void drop_version_6(ce_db_t *d);

#define GC_THREADS 8

/* What the threads of a group-commit round share: the batch, and a gate
 * that holds the first batch's write lock until every thread has queued
 * its create. */
static struct {
    ce_store_batch_t *batch;
    apr_thread_mutex_t *lock; /* stands for httpd's cross-process write lock */
    int transactions;         /* write transactions begun */
    apr_thread_mutex_t *gate_mutex;
    apr_thread_cond_t *gate_cond;
    int gate_open, started;
} gc;

typedef struct {
    ce_db_t db;
    apr_pool_t *p;
    ce_instance_t *inst;
    apr_status_t rv;
    const char *err;
} gc_job_t;

static apr_status_t gc_serialize(void *baton, int acquire)
{
    if (!acquire) {
        return apr_thread_mutex_unlock(gc.lock);
    }
    apr_thread_mutex_lock(gc.gate_mutex);
    while (!gc.gate_open) {
        apr_thread_cond_wait(gc.gate_cond, gc.gate_mutex);
    }
    apr_thread_mutex_unlock(gc.gate_mutex);
    apr_thread_mutex_lock(gc.lock);
    gc.transactions++;
    return APR_SUCCESS;
}

static void *APR_THREAD_FUNC gc_run(apr_thread_t *t, void *data)
{
    gc_job_t *job = data;

    apr_thread_mutex_lock(gc.gate_mutex);
    gc.started++;
    apr_thread_cond_broadcast(gc.gate_cond);
    apr_thread_mutex_unlock(gc.gate_mutex);
    job->rv = ce_store_instance_create(&job->db, job->p, job->inst, &job->err);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* After one warm-up create, GC_THREADS threads, each on its own connection,
 * create at once through one batch; the create of thread dup (if >= 0)
 * reuses taken's token. */
static void gc_round(gc_job_t *jobs, const ce_user_t *owner, const ce_instance_t *taken, int dup)
{
    apr_thread_t *threads[GC_THREADS];
    ce_instance_t *warm;
    apr_status_t trv;
    int i;

    memset(&gc, 0, sizeof(gc));
    ck_assert_int_eq(apr_thread_mutex_create(&gc.lock, APR_THREAD_MUTEX_DEFAULT, pool), 0);
    ck_assert_int_eq(apr_thread_mutex_create(&gc.gate_mutex, APR_THREAD_MUTEX_DEFAULT, pool), 0);
    ck_assert_int_eq(apr_thread_cond_create(&gc.gate_cond, pool), 0);
    ck_assert_int_eq(ce_store_batch_create(&gc.batch, pool), APR_SUCCESS);
    for (i = 0; i < GC_THREADS; i++) {
        jobs[i].inst = make_instance(owner, 16, apr_psprintf(pool, "gc%d", i),
                                     json_pack("[s, s]", "batch", i % 2 ? "odd" : "even"));
        if (i == dup) {
            jobs[i].inst->token = taken->token;
        }
        ck_assert_int_eq(apr_pool_create(&jobs[i].p, pool), APR_SUCCESS);
        open_db(&jobs[i].db, jobs[i].p);
        jobs[i].db.serialize = gc_serialize;
        jobs[i].db.batch = gc.batch;
        jobs[i].err = NULL;
    }
    /* a first create through the batch opens its own connection */
    gc.gate_open = 1;
    warm = make_instance(owner, 16, "warm-up", NULL);
    ck_assert_int_eq(ce_store_instance_create(&jobs[0].db, pool, warm, &err), APR_SUCCESS);
    gc.gate_open = 0;
    gc.transactions = 0;
    for (i = 0; i < GC_THREADS; i++) {
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, gc_run, &jobs[i], pool), 0);
    }
    /* every thread is in (or about to enter) its create: let the queue form */
    apr_thread_mutex_lock(gc.gate_mutex);
    while (gc.started < GC_THREADS) {
        apr_thread_cond_wait(gc.gate_cond, gc.gate_mutex);
    }
    apr_thread_mutex_unlock(gc.gate_mutex);
    apr_sleep(apr_time_from_msec(200));
    apr_thread_mutex_lock(gc.gate_mutex);
    gc.gate_open = 1;
    apr_thread_cond_broadcast(gc.gate_cond);
    apr_thread_mutex_unlock(gc.gate_mutex);
    for (i = 0; i < GC_THREADS; i++) {
        apr_thread_join(&trv, threads[i]);
    }
    for (i = 0; i < GC_THREADS; i++) {
        ce_store_close(&jobs[i].db);
    }
}

/* The creates that queue while the first is written share one transaction
 * (on the batch's own connection), and every one is stored under its own
 * id, tags included. */
START_TEST(group_commit)
{
    account_t a = signup("Acme", "a@acme.test");
    gc_job_t jobs[GC_THREADS];
    int i;

    gc_round(jobs, a.user, NULL, -1);
    /* one for the first create, one (on a slow machine, two) for the seven
     * queued behind it */
    ck_assert_int_ge(gc.transactions, 2);
    ck_assert_int_le(gc.transactions, 3);
    for (i = 0; i < GC_THREADS; i++) {
        ck_assert_msg(jobs[i].rv == APR_SUCCESS, "create %d: %s", i,
                      jobs[i].err ? jobs[i].err : "?");
        ck_assert_int_gt(jobs[i].inst->id, 0);
        ck_assert_str_eq(get(a.user, jobs[i].inst->id)->name, jobs[i].inst->name);
    }
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(DISTINCT id) FROM ce_instance"), GC_THREADS + 1);
    ck_assert_int_eq(total(a.user, 0, NULL), GC_THREADS + 1);
    ck_assert_int_eq(total(a.user, 0, "odd"), GC_THREADS / 2);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag WHERE tag = 'batch'"),
                     GC_THREADS);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag WHERE tag = 'odd'"),
                     GC_THREADS / 2);
}
END_TEST

/* A create that fails inside a batch (its token is taken) fails alone:
 * the others are written, each in its own transaction. */
START_TEST(group_commit_failure_is_isolated)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *taken = create(a.user, 16, "Taken", NULL);
    gc_job_t jobs[GC_THREADS];
    int i, dup = 5;

    gc_round(jobs, a.user, taken, dup);
    for (i = 0; i < GC_THREADS; i++) {
        if (i == dup) {
            ck_assert_int_eq(jobs[i].rv, APR_EGENERAL);
            ck_assert_ptr_nonnull(jobs[i].err);
            ck_assert_ptr_null(strstr(jobs[i].err, taken->token));
            ck_assert_int_eq(jobs[i].inst->id, 0);
            continue;
        }
        ck_assert_msg(jobs[i].rv == APR_SUCCESS, "create %d: %s", i,
                      jobs[i].err ? jobs[i].err : "?");
        ck_assert_str_eq(get(a.user, jobs[i].inst->id)->name, jobs[i].inst->name);
    }
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance"), GC_THREADS + 1);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag WHERE tag = 'batch'"),
                     GC_THREADS - 1);
    ck_assert_int_eq(total(a.user, 0, NULL), GC_THREADS + 1);
}
END_TEST

/* --- checkpoints (ce_store_wal.c) --- */

/* The log's state, read from the wal-index (the -shm file; its layout is
 * SQLite's documented file format): the frames committed (mxFrame, offset
 * 16 of the first header copy) and those already copied back into the
 * database (nBackfill, offset 96). */
static void wal_state(unsigned *frames, unsigned *backfilled)
{
    FILE *f = fopen(apr_pstrcat(pool, dir, "/ce.db-shm", NULL), "rb");
    unsigned char head[100];

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fread(head, 1, sizeof(head), f), sizeof(head));
    fclose(f);
    memcpy(frames, head + 16, sizeof(*frames));
    memcpy(backfilled, head + 96, sizeof(*backfilled));
}

/* What the write lock's release saw: the commit has ended there, and no
 * checkpoint may have run yet (SQLite's autocheckpoint would have, inside
 * the commit, inside the lock). */
static struct {
    unsigned frames;   /* in the log at the last release */
    int long_logs;     /* commits that left 1000 frames or more in the log */
    int copied_inside; /* ... of which some had been copied back already */
} wal_seen;

static apr_status_t wal_serialize(void *baton, int acquire)
{
    unsigned frames, backfilled;

    (void)baton;
    if (!acquire) {
        wal_state(&frames, &backfilled);
        /* (a release after a transaction that wrote nothing: no commit) */
        if (frames >= 1000 && frames != wal_seen.frames) {
            wal_seen.long_logs++;
            wal_seen.copied_inside += backfilled > 0;
        }
        wal_seen.frames = frames;
    }
    return APR_SUCCESS;
}

/* Creates until some commit leaves 1000 frames or more in the log, each
 * on d; after each, a log that long must have been copied back whole. */
static void wal_fill(ce_db_t *d, const ce_user_t *owner, const char *prefix)
{
    unsigned frames, backfilled;
    int i, checkpointed = 0;

    for (i = 0; i < 3000 && !checkpointed; i++) {
        ce_instance_t *inst = make_instance(owner, 16, apr_psprintf(pool, "%s%d", prefix, i), NULL);

        err = NULL;
        ck_assert_msg(ce_store_instance_create(d, pool, inst, &err) == APR_SUCCESS, "create: %s",
                      err ? err : "?");
        wal_state(&frames, &backfilled);
        checkpointed = frames >= 1000;
        ck_assert_msg(!checkpointed || backfilled == frames, "%u frames, %u copied back", frames,
                      backfilled);
    }
    ck_assert_msg(checkpointed, "no commit left 1000 frames in the log");
}

/* A commit that leaves the log at 1000 pages or more (SQLite's own
 * autocheckpoint limit) is followed by a checkpoint that copies all of it
 * back, run after the transaction and its write lock have ended, not
 * inside them: on the committing connection, and for group commit's own
 * connection, by the create after the writer has handed over. */
START_TEST(checkpoints_run_outside_the_lock)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_store_batch_t *batch;

    memset(&wal_seen, 0, sizeof(wal_seen));
    db.serialize = wal_serialize;
    wal_fill(&db, a.user, "plain");
    ck_assert_int_ge(wal_seen.long_logs, 1);
    ck_assert_int_eq(wal_seen.copied_inside, 0);

    /* the batch's own connection shares the serialize of the first
     * connection that writes through it */
    wal_seen.long_logs = wal_seen.copied_inside = 0;
    ck_assert_int_eq(ce_store_batch_create(&batch, pool), APR_SUCCESS);
    db.batch = batch;
    wal_fill(&db, a.user, "batch");
    ck_assert_int_ge(wal_seen.long_logs, 1);
    ck_assert_int_eq(wal_seen.copied_inside, 0);
    db.batch = NULL;
    db.serialize = NULL;
}
END_TEST

/* --- listing --- */

/* Lists owner's instances and returns their ids as "7,6,5" (+ ",more"). */
static const char *list_ids(const ce_user_t *owner, long element_id, const char *tags,
                            apr_int64_t before_id, int limit)
{
    ce_instance_query_t q = {element_id, NULL, before_id, limit};
    apr_array_header_t *insts, *want = apr_array_make(pool, 2, sizeof(const char *));
    const char *out = "";
    char *state, *tag;
    int more = -1, i;

    if (tags) {
        for (tag = apr_strtok(apr_pstrdup(pool, tags), ",", &state); tag;
             tag = apr_strtok(NULL, ",", &state)) {
            APR_ARRAY_PUSH(want, const char *) = tag;
        }
        q.tags = want;
    }
    err = NULL;
    ck_assert_msg(ce_store_instance_list(&insts, &more, &db, pool, cat, owner, &q, &err) ==
                      APR_SUCCESS,
                  "list: %s", err ? err : "?");
    ck_assert_int_le(insts->nelts, limit);
    for (i = 0; i < insts->nelts; i++) {
        const ce_instance_t *inst = APR_ARRAY_IDX(insts, i, const ce_instance_t *);

        ck_assert_ptr_eq(inst->user, owner);
        out = apr_psprintf(pool, "%s%s%" APR_INT64_T_FMT, out, i ? "," : "", inst->id);
    }
    return more ? apr_pstrcat(pool, out, ",more", NULL) : out;
}

START_TEST(list_newest_first_and_paging)
{
    account_t a = signup("Acme", "a@acme.test");
    account_t b = signup("Beta", "b@beta.test");
    apr_array_header_t *insts;
    ce_instance_query_t q = {0, NULL, 0, 0};
    int i, more;

    ck_assert_str_eq(list_ids(a.user, 0, NULL, 0, 10), "");
    for (i = 1; i <= 7; i++) {
        create(a.user, 16, "a", NULL);
    }
    create(b.user, 16, "b", NULL); /* id 8, not a's */
    ck_assert_str_eq(list_ids(a.user, 0, NULL, 0, 10), "7,6,5,4,3,2,1");
    ck_assert_str_eq(list_ids(a.user, 0, NULL, 0, 7), "7,6,5,4,3,2,1");
    ck_assert_str_eq(list_ids(a.user, 0, NULL, 0, 6), "7,6,5,4,3,2,more");
    ck_assert_str_eq(list_ids(a.user, 0, NULL, 0, 3), "7,6,5,more");
    ck_assert_str_eq(list_ids(a.user, 0, NULL, 5, 3), "4,3,2,more");
    ck_assert_str_eq(list_ids(a.user, 0, NULL, 2, 3), "1");
    ck_assert_str_eq(list_ids(a.user, 0, NULL, 1, 3), "");
    ck_assert_str_eq(list_ids(a.user, 0, NULL, 100, 1), "7,more");
    ck_assert_str_eq(list_ids(b.user, 0, NULL, 0, 10), "8");

    /* full instances come back, and bad page sizes are refused */
    q.limit = 1;
    ck_assert_int_eq(ce_store_instance_list(&insts, &more, &db, pool, cat, a.user, &q, &err),
                     APR_SUCCESS);
    assert_same_instance(APR_ARRAY_IDX(insts, 0, ce_instance_t *), get(a.user, 7));
    q.limit = 0;
    ck_assert_int_eq(ce_store_instance_list(&insts, &more, &db, pool, cat, a.user, &q, &err),
                     APR_EINVAL);
    q.limit = CE_PAGE_SIZE_MAX + 1;
    ck_assert_int_eq(ce_store_instance_list(&insts, &more, &db, pool, cat, a.user, &q, &err),
                     APR_EINVAL);
}
END_TEST

START_TEST(list_by_element)
{
    account_t a = signup("Acme", "a@acme.test");
    int i;

    for (i = 1; i <= 9; i++) {
        create(a.user, i % 3 == 0 ? 42 : 16, "x", NULL); /* 3, 6, 9 are jira */
    }
    ck_assert_str_eq(list_ids(a.user, 42, NULL, 0, 10), "9,6,3");
    ck_assert_str_eq(list_ids(a.user, 42, NULL, 0, 2), "9,6,more");
    ck_assert_str_eq(list_ids(a.user, 42, NULL, 6, 2), "3");
    ck_assert_str_eq(list_ids(a.user, 16, NULL, 0, 4), "8,7,5,4,more");
    ck_assert_str_eq(list_ids(a.user, 16, NULL, 4, 4), "2,1");
    ck_assert_str_eq(list_ids(a.user, 777, NULL, 0, 4), "");
}
END_TEST

START_TEST(list_by_tags)
{
    account_t a = signup("Acme", "a@acme.test");
    account_t b = signup("Beta", "b@beta.test");
    int i;

    /* ids 1..24: "even" on even ids, "three" on multiples of 3, "all" on all */
    for (i = 1; i <= 24; i++) {
        json_t *tags = json_pack("[s]", "all");

        if (i % 2 == 0) {
            json_array_append_new(tags, json_string("even"));
        }
        if (i % 3 == 0) {
            json_array_append_new(tags, json_string("three"));
        }
        create(a.user, i % 4 == 0 ? 42 : 16, "x", tags);
    }
    create(b.user, 16, "theirs", json_pack("[s, s]", "even", "three")); /* id 25 */

    ck_assert_str_eq(list_ids(a.user, 0, "three", 0, 100), "24,21,18,15,12,9,6,3");
    ck_assert_str_eq(list_ids(a.user, 0, "three", 0, 3), "24,21,18,more");
    ck_assert_str_eq(list_ids(a.user, 0, "three", 18, 3), "15,12,9,more");
    ck_assert_str_eq(list_ids(a.user, 0, "three", 9, 3), "6,3");
    ck_assert_str_eq(list_ids(a.user, 0, "missing", 0, 3), "");
    ck_assert_str_eq(list_ids(b.user, 0, "three", 0, 3), "25");

    /* two tags: the second is filtered in C, across several batches */
    ck_assert_str_eq(list_ids(a.user, 0, "even,three", 0, 100), "24,18,12,6");
    ck_assert_str_eq(list_ids(a.user, 0, "three,even", 0, 100), "24,18,12,6");
    ck_assert_str_eq(list_ids(a.user, 0, "all,even,three", 0, 1), "24,more");
    ck_assert_str_eq(list_ids(a.user, 0, "all,three,even", 24, 1), "18,more");
    ck_assert_str_eq(list_ids(a.user, 0, "all,three,even", 18, 2), "12,6");
    ck_assert_str_eq(list_ids(a.user, 0, "all,three,even", 6, 2), "");
    ck_assert_str_eq(list_ids(a.user, 0, "even,missing", 0, 5), "");

    /* tags and element together: element 42 = multiples of 4 */
    ck_assert_str_eq(list_ids(a.user, 42, "three", 0, 100), "24,12");
    ck_assert_str_eq(list_ids(a.user, 42, "even", 0, 2), "24,20,more");
    ck_assert_str_eq(list_ids(a.user, 42, "even", 20, 2), "16,12,more");
    ck_assert_str_eq(list_ids(a.user, 42, "all,three", 20, 5), "12");
    ck_assert_str_eq(list_ids(a.user, 16, "three,even", 0, 5), "18,6");
}
END_TEST

/* An instance whose sealed values do not open does not break its owner's
 * listing: it is listed as unreadable (never valid), without its token,
 * its sealed values null; a read of it alone still fails. */
START_TEST(list_with_unreadable_instance)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *good = create(a.user, 16, "good", NULL);
    ce_instance_t *bad = create(a.user, 16, "bad token", NULL);
    ce_instance_t *cfg = create(a.user, 16, "bad config", NULL), *got = NULL;
    ce_instance_query_t q = {0, NULL, 0, 10};
    apr_array_header_t *found;
    int more = 0, i;

    ck_assert_int_eq(ce_store_exec_update(&db, pool,
                                          apr_psprintf(pool,
                                                       "UPDATE ce_instance SET token = "
                                                       "'ce1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' "
                                                       "WHERE id = %" APR_INT64_T_FMT,
                                                       bad->id),
                                          &err),
                     APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_exec_update(
            &db, pool,
            apr_psprintf(
                pool,
                "UPDATE ce_instance SET configuration = replace(configuration, "
                "'\"$sealed\":\"ce2:', '\"$sealed\":\"ce2:0') WHERE id = %" APR_INT64_T_FMT,
                cfg->id),
            &err),
        APR_SUCCESS);
    ck_assert_int_eq(ce_store_instance_get(&got, &db, pool, cat, a.user, bad->id, &err),
                     APR_EGENERAL);
    ck_assert_int_eq(ce_store_instance_list(&found, &more, &db, pool, cat, a.user, &q, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(found->nelts, 3);
    for (i = 0; i < found->nelts; i++) {
        ce_instance_t *inst = APR_ARRAY_IDX(found, i, ce_instance_t *);

        if (inst->id == good->id) {
            ck_assert(!inst->unreadable && inst->token && ce_instance_valid(inst));
            continue;
        }
        ck_assert_msg(inst->unreadable, "%s listed as readable", inst->name);
        ck_assert_ptr_null(inst->token);
        ck_assert(!ce_instance_valid(inst));
        ck_assert(json_is_null(json_object_get(inst->configuration, "aws.secret")));
        ck_assert(json_is_null(json_object_get(inst->configuration, "bucket.name")) ||
                  strcmp(json_string_value(json_object_get(inst->configuration, "bucket.name")),
                         "photos") == 0);
    }
}
END_TEST

/* --- totals --- */

/* ce_store_instance_count of owner's instances of element (0: any) with
 * every tag of the comma-separated tags (NULL: none). */
static apr_int64_t total(const ce_user_t *owner, long element_id, const char *tags)
{
    ce_instance_query_t q = {element_id, NULL, 0, 1, 0, 0};
    apr_array_header_t *want = apr_array_make(pool, 2, sizeof(const char *));
    apr_int64_t n = -1;
    char *state, *tag;

    if (tags) {
        for (tag = apr_strtok(apr_pstrdup(pool, tags), ",", &state); tag;
             tag = apr_strtok(NULL, ",", &state)) {
            APR_ARRAY_PUSH(want, const char *) = tag;
        }
        q.tags = want;
    }
    err = NULL;
    ck_assert_msg(ce_store_instance_count(&n, &db, pool, owner, &q, &err) == APR_SUCCESS,
                  "count: %s", err ? err : "?");
    return n;
}

/* What the rows say: owner's instances of element (0: any), counted. */
static long long truth(const ce_user_t *owner, long element_id)
{
    return scalar(
        &db,
        apr_psprintf(pool,
                     "SELECT COUNT(*) FROM ce_instance WHERE user_id = "
                     "%" APR_INT64_T_FMT "%s",
                     owner->id,
                     element_id ? apr_psprintf(pool, " AND element_id = %ld", element_id) : ""));
}

/* The totals without tags equal the rows, for every element, and every
 * count row is in the shard of its instances (never below zero). */
static void assert_totals_true(const ce_user_t *owner)
{
    static const long elements[] = {0, 16, 42, 777};
    size_t i;

    for (i = 0; i < sizeof(elements) / sizeof(elements[0]); i++) {
        ck_assert_int_eq(total(owner, elements[i], NULL), truth(owner, elements[i]));
    }
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_count WHERE n < 0 "
                                 "OR shard < 0 OR shard >= 8"),
                     0);
}

static apr_status_t move_to_jira(ce_instance_t *inst, void *baton, const char **perr)
{
    inst->element_id = 42;
    return APR_SUCCESS;
}

static apr_status_t delete_it(ce_instance_t *inst, void *baton, const char **perr)
{
    return CE_STORE_DELETE;
}

/* Every write that adds, removes or moves an instance keeps the totals:
 * create, delete (alone and by modify), a change of element (update and
 * modify), failed writes (nothing counted); another tenant's never count. */
START_TEST(totals_follow_every_write)
{
    account_t a = signup("Acme", "a@acme.test"), b = signup("Beta", "b@beta.test");
    ce_instance_t *insts[20], *out, *bad;
    int i;

    ck_assert_int_eq(total(a.user, 0, NULL), 0);
    for (i = 0; i < 20; i++) {
        insts[i] = create(a.user, i % 2 ? 42 : 16, "x",
                          json_pack("[s, s]", "all", i % 3 == 0 ? "three" : "other"));
    }
    create(b.user, 16, "theirs", json_pack("[s, s]", "all", "three"));
    ck_assert_int_eq(total(a.user, 0, NULL), 20);
    ck_assert_int_eq(total(a.user, 16, NULL), 10);
    ck_assert_int_eq(total(b.user, 0, NULL), 1);
    assert_totals_true(a.user);
    /* spread over shards: ids alternate between the elements, so each has
     * four of the eight (odd ids and even ids) */
    ck_assert_int_eq(scalar(&db, apr_psprintf(pool,
                                              "SELECT COUNT(*) FROM ce_instance_count WHERE "
                                              "user_id = %" APR_INT64_T_FMT,
                                              a.user->id)),
                     8);

    ck_assert_int_eq(ce_store_instance_delete(&db, pool, a.user, insts[0]->id, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_store_instance_delete(&db, pool, b.user, insts[1]->id, &err), APR_NOTFOUND);
    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, a.user, insts[2]->id, delete_it, NULL, &err),
        APR_SUCCESS);
    ck_assert_int_eq(total(a.user, 0, NULL), 18);
    ck_assert_int_eq(total(a.user, 16, NULL), 8);
    assert_totals_true(a.user);

    /* moved to another element: by update, by modify; unchanged by a rename */
    insts[4]->element_id = 42;
    ck_assert_int_eq(ce_store_instance_update(&db, pool, insts[4], &err), APR_SUCCESS);
    ck_assert_int_eq(ce_store_instance_modify(&out, &db, pool, cat, a.user, insts[6]->id,
                                              move_to_jira, NULL, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(ce_store_instance_modify(&out, &db, pool, cat, a.user, insts[8]->id, rename_to,
                                              "renamed", &err),
                     APR_SUCCESS);
    ck_assert_int_eq(total(a.user, 16, NULL), 6);
    ck_assert_int_eq(total(a.user, 42, NULL), 12);
    assert_totals_true(a.user);

    /* failed writes count nothing */
    bad = make_instance(a.user, 16, "Dup tags", json_pack("[s, s]", "x", "x"));
    ck_assert_int_eq(ce_store_instance_create(&db, pool, bad, &err), APR_EGENERAL);
    insts[10]->element_id = 42;
    insts[10]->tags = ce_json_bind(pool, json_pack("[s, s]", "z", "z"));
    ck_assert_int_eq(ce_store_instance_update(&db, pool, insts[10], &err), APR_EGENERAL);
    ck_assert_int_eq(total(a.user, 16, NULL), 6);
    assert_totals_true(a.user);
    ck_assert_int_eq(total(b.user, 0, NULL), 1);
}
END_TEST

/* Totals by tags come from the owner's tag rows: one tag, several, with
 * an element; repeated tags count once; more than CE_STORE_COUNT_TAGS_MAX
 * distinct ones are not counted (APR_ENOTIMPL). */
START_TEST(totals_by_tags)
{
    account_t a = signup("Acme", "a@acme.test"), b = signup("Beta", "b@beta.test");
    ce_instance_query_t q = {0, NULL, 0, 1, 0};
    apr_array_header_t *tags = apr_array_make(pool, 6, sizeof(const char *));
    apr_int64_t n = -1;
    int i;

    /* as list_by_tags: ids 1..24, "even", "three", "all"; jira: multiples of 4 */
    for (i = 1; i <= 24; i++) {
        json_t *t = json_pack("[s]", "all");

        if (i % 2 == 0) {
            json_array_append_new(t, json_string("even"));
        }
        if (i % 3 == 0) {
            json_array_append_new(t, json_string("three"));
        }
        create(a.user, i % 4 == 0 ? 42 : 16, "x", t);
    }
    for (i = 0; i < 5; i++) {
        create(b.user, 16, "theirs", json_pack("[s, s, s]", "all", "even", "three"));
    }
    ck_assert_int_eq(total(a.user, 0, "three"), 8);
    ck_assert_int_eq(total(a.user, 0, "even,three"), 4);
    ck_assert_int_eq(total(a.user, 0, "three,even,all"), 4);
    ck_assert_int_eq(total(a.user, 0, "all,even,three,missing"), 0);
    ck_assert_int_eq(total(a.user, 0, "missing"), 0);
    ck_assert_int_eq(total(a.user, 42, "three"), 2);
    ck_assert_int_eq(total(a.user, 16, "even,three"), 2);
    ck_assert_int_eq(total(a.user, 42, "all,even"), 6);
    ck_assert_int_eq(total(b.user, 0, "three"), 5);
    /* the same as the pages list */
    ck_assert_str_eq(list_ids(a.user, 16, "three,even", 0, 100), "18,6");
    /* repeats count once: five tags, four distinct */
    ck_assert_int_eq(total(a.user, 0, "all,even,all,three,even"), 4);
    ck_assert_int_eq(total(a.user, 0, "all,even,three,a4,all"), 0);
    /* five distinct: not counted */
    for (i = 0; i < 5; i++) {
        APR_ARRAY_PUSH(tags, const char *) = apr_psprintf(pool, "t%d", i);
    }
    q.tags = tags;
    ck_assert_int_eq(ce_store_instance_count(&n, &db, pool, a.user, &q, &err), APR_ENOTIMPL);
    ck_assert_int_eq(n, 0);
    /* tags follow updates and deletes */
    ck_assert_int_eq(ce_store_instance_delete(&db, pool, a.user, 24, &err), APR_SUCCESS);
    ck_assert_int_eq(total(a.user, 42, "three"), 1);
}
END_TEST

/* A version 5 database (no counts, tag rows without their user) comes to
 * version 6 with its instances counted and its tag rows keyed by user. */
START_TEST(migration_6_counts_existing_instances)
{
    account_t a = signup("Acme", "a@acme.test"), b = signup("Beta", "b@beta.test");
    ce_db_t db2;
    apr_pool_t *p2;
    int i;

    for (i = 1; i <= 19; i++) {
        create(a.user, i % 3 ? 16 : 42, "old", json_pack("[s]", i % 2 ? "odd" : "even"));
    }
    create(b.user, 42, "theirs", json_pack("[s]", "odd"));
    ck_assert_int_eq(ce_store_instance_delete(&db, pool, a.user, 5, &err), APR_SUCCESS);
    drop_version_6(&db);
    ck_assert_int_eq(
        ce_store_exec_update(&db, pool, "UPDATE ce_schema_version SET version = 5", &err),
        APR_SUCCESS);

    apr_pool_create(&p2, pool);
    open_db(&db2, p2);
    ce_store_close(&db);
    db = db2;
    ck_assert_int_eq(scalar(&db, "SELECT version FROM ce_schema_version"), 8);
    ck_assert_int_eq(total(a.user, 0, NULL), 18);
    ck_assert_int_eq(total(a.user, 42, NULL), 6);
    ck_assert_int_eq(total(b.user, 0, NULL), 1);
    assert_totals_true(a.user);
    assert_totals_true(b.user);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_instance_tag t JOIN ce_instance i ON "
                                 "i.id = t.instance_id WHERE t.user_id <> i.user_id"),
                     0);
    ck_assert_int_eq(total(a.user, 0, "odd"), 9);
    ck_assert_str_eq(list_ids(a.user, 42, "odd", 0, 10), "15,9,3");
    /* and the writes go on from there */
    create(a.user, 42, "new", json_pack("[s]", "odd"));
    ck_assert_int_eq(ce_store_instance_delete(&db, pool, a.user, 3, &err), APR_SUCCESS);
    ck_assert_int_eq(total(a.user, 42, "odd"), 3);
    assert_totals_true(a.user);
}
END_TEST

/* --- the registry of sealed columns --- */

/* Every value of registered column c, as stored. */
static apr_array_header_t *column_values(const ce_sealed_column_t *c)
{
    apr_array_header_t *rows, *out = apr_array_make(pool, 4, sizeof(const char *));
    int i;

    ck_assert_int_eq(ce_store_select(&rows, &db, pool,
                                     apr_psprintf(pool, "SELECT %s FROM %s", c->column, c->table),
                                     &err),
                     APR_SUCCESS);
    for (i = 0; i < rows->nelts; i++) {
        APR_ARRAY_PUSH(out, const char *) = APR_ARRAY_IDX(rows, i, const char **)[0];
    }
    return out;
}

/* Whether every sealed value in value (a column of kind c->kind) opens
 * with keys k; counts them in *pn. */
static int opens_with(const ce_sealed_column_t *c, const char *value, const ce_keys_t *k, int *pn)
{
    const char *plain, *key;
    apr_size_t len;
    json_t *cfg, *v;
    int ok = 1;

    if (c->kind == CE_SEAL_TEXT) {
        ++*pn;
        return ce_crypto_open(&plain, &len, pool, k, c->aad, value) == APR_SUCCESS;
    }
    ck_assert_int_eq(ce_json_parse(&cfg, pool, value, strlen(value), &err), APR_SUCCESS);
    json_object_foreach(cfg, key, v)
    {
        const char *s = json_string_value(json_object_get(v, "$sealed"));

        if (s) {
            ++*pn;
            ok &= ce_crypto_open(&plain, &len, pool, k, apr_pstrcat(pool, c->aad, key, NULL), s) ==
                  APR_SUCCESS;
        }
    }
    return ok;
}

/* After a rekey every value of every registered sealed column opens with
 * the new key and none with the old: a column added to the schema and the
 * registry cannot be missed by a key rotation. */
START_TEST(rekey_reseals_every_registered_column)
{
    account_t a = signup("Acme", "a@acme.test");
    const char *path = apr_pstrcat(pool, dir, "/key.new", NULL);
    ce_keys_t *next, *only_next;
    ce_store_rekey_report_t *report;
    int i, j, n = 0, none = 0;

    ce_instance_t *two = make_instance(a.user, 16, "two", NULL);

    create(a.user, 16, "one", NULL);
    /* notified: its event has a callback URL and a signature key to seal */
    json_object_set_new(two->configuration, CE_EVENT_ENABLED_KEY, json_string("true"));
    json_object_set_new(two->configuration, CE_EVENT_CALLBACK_KEY,
                        json_string("http://127.0.0.1:9/hook"));
    json_object_set_new(two->configuration, CE_EVENT_SIGNATURE_KEY, json_string("sign-me"));
    ck_assert_int_eq(ce_store_instance_create(&db, pool, two, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_crypto_keys_write(path, keys, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_crypto_keys_load(&next, pool, path, &err), APR_SUCCESS);
    ce_crypto_keys_prune(&only_next, next, pool);
    db.keys = next; /* the rotated file: next's key seals, the old one opens */
    ck_assert_msg(ce_store_rekey(&report, &db, pool, 1, &err) == APR_SUCCESS, "rekey: %s", err);
    /* batches of one row; a second pass finds nothing left */
    /* 2 tokens, 2 configurations, the key check; 2 created events: body
     * each, callback URL and signature key the notified one's (the other
     * has none: nothing sealed); 2 stored views */
    ck_assert_int_eq(report->resealed, 2 + 2 + 1 + 2 + 2 + 2);
    ck_assert_int_eq(report->passes, 2);
    ck_assert_int_eq(report->unreadable->nelts, 0);
    ck_assert_int_eq(*(apr_int64_t *)apr_hash_get(report->by_key, next->kid, APR_HASH_KEY_STRING),
                     2 + 10 + 1 + 2 + 2 + 2);
    for (i = 0; i < CE_SEALED_COLUMNS; i++) {
        const ce_sealed_column_t *c = &ce_store_sealed_columns[i];
        apr_array_header_t *values;

        if (c->kind == CE_SEAL_DIGEST) {
            continue;
        }
        values = column_values(c);
        ck_assert_int_gt(values->nelts, 0);
        for (j = 0; j < values->nelts; j++) {
            const char *v = APR_ARRAY_IDX(values, j, const char *);

            if (c->kind == CE_SEAL_TEXT && !*v) {
                continue; /* none (an event without a callback or a key) */
            }
            ck_assert_msg(opens_with(c, v, only_next, &n), "%s.%s: not under the new key", c->table,
                          c->column);
            ck_assert_msg(!opens_with(c, v, keys, &none) || c->kind == CE_SEAL_CONFIG,
                          "%s.%s: still under the old key", c->table, c->column);
        }
    }
    /* 2 tokens + 4 + 6 non-null configuration values (two's callback URL
     * and signature key entries) + the key check, and 2 event bodies, two's
     * event's callback URL and signature key, and 2 stored views */
    ck_assert_int_eq(n, 2 + 10 + 1 + 2 + 2 + 2);
    db.keys = only_next;
    ck_assert_str_eq(get(a.user, 1)->name, "one");
}
END_TEST

/* Every column of the schema whose name says it holds secret material is
 * in the registry (a new one that is not fails here, before it can escape
 * sealing, rekey and the key check). */
START_TEST(registry_lists_every_secret_column)
{
    static const char *const secretish[] = {"secret",        "token",    "digest",     "sealed",
                                            "configuration", "password", "credential", "signature",
                                            "body",          "callback", "rendered",   NULL};
    apr_array_header_t *cols;
    int i, k, n, found = 0;

    ck_assert_int_eq(ce_store_select(&cols, &db, pool,
                                     "SELECT m.name, p.name FROM sqlite_master m, "
                                     "pragma_table_info(m.name) p WHERE m.type = 'table'",
                                     &err),
                     APR_SUCCESS);
    for (i = 0; i < cols->nelts; i++) {
        const char **r = APR_ARRAY_IDX(cols, i, const char **);
        int secret = 0, listed = 0;

        for (k = 0; secretish[k]; k++) {
            secret |= strstr(r[1], secretish[k]) != NULL;
        }
        for (n = 0; n < CE_SEALED_COLUMNS; n++) {
            listed |= strcmp(ce_store_sealed_columns[n].table, r[0]) == 0 &&
                      strcmp(ce_store_sealed_columns[n].column, r[1]) == 0;
        }
        ck_assert_msg(!secret || listed, "%s.%s holds secrets and is not registered", r[0], r[1]);
        found += secret;
    }
    ck_assert_int_eq(found, CE_SEALED_COLUMNS);
}
END_TEST

/* A version 2 database (clear tokens and configuration, unkeyed SHA-256
 * digests) goes through the migration table to the current version:
 * every registered column converted, old secrets still authenticate. */
/* Runs each statement of sql (NULL-terminated) on d. */
static void exec_all(ce_db_t *d, const char *const *sql)
{
    const char *const *q;

    for (q = sql; *q; q++) {
        ck_assert_msg(ce_store_exec_update(d, pool, *q, &err) == APR_SUCCESS, "%s: %s", *q, err);
    }
}

/* Back to before schema 6: no counts, tag rows without their user, the
 * index by tag alone (and no stored views, schema 8). */
static void drop_version_6(ce_db_t *d)
{
    static const char *const sql[] = {
        "ALTER TABLE ce_instance DROP COLUMN rendered",
        "DROP TABLE ce_instance_count",
        "DROP INDEX ce_instance_tag_user",
        "ALTER TABLE ce_instance_tag DROP COLUMN user_id",
        "CREATE INDEX ce_instance_tag_tag ON ce_instance_tag (tag, instance_id)",
        NULL};

    exec_all(d, sql);
}

/* Back to before schema 5: without the OAuth columns and their index. */
static void drop_version_5(ce_db_t *d)
{
    static const char *const sql[] = {"DROP INDEX ce_instance_oauth_due",
                                      "ALTER TABLE ce_instance DROP COLUMN oauth_due",
                                      "ALTER TABLE ce_instance DROP COLUMN oauth_lease",
                                      "ALTER TABLE ce_instance DROP COLUMN oauth_failures",
                                      "ALTER TABLE ce_instance DROP COLUMN oauth_status",
                                      "ALTER TABLE ce_instance DROP COLUMN external_auth",
                                      NULL};
    const char *const *q;

    for (q = sql; *q; q++) {
        ck_assert_msg(ce_store_exec_update(d, pool, *q, &err) == APR_SUCCESS, "%s: %s", *q, err);
    }
}

/* An answer's read (CE_STORE_READ_VIEW): the view the last write stored,
 * nothing parsed, the same bytes as a read in full; a view moved to
 * another row, tampered with, or made under another element definition is
 * not used (read in full instead). */
static const char *answer(const ce_user_t *owner, apr_int64_t id, unsigned how, int *pviewed)
{
    ce_instance_t *inst = NULL;
    ce_render_t w;

    ck_assert_int_eq(ce_store_instance_read(&inst, &db, pool, cat, owner, id, how, &err),
                     APR_SUCCESS);
    *pviewed = inst->view != NULL && inst->configuration == NULL;
    ce_render_init(&w, pool, 64);
    ce_instance_render(&w, inst, 0);
    return ce_render_text(&w);
}

START_TEST(read_answers_from_the_stored_view)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *one = create(a.user, 16, "one", json_pack("[s]", "x")), *two;
    const char *full;
    int viewed;

    two = create(a.user, 42, "two", NULL);
    full = answer(a.user, one->id, CE_STORE_READ_FULL, &viewed);
    ck_assert_int_eq(viewed, 0);
    ck_assert_str_eq(answer(a.user, one->id, CE_STORE_READ_VIEW, &viewed), full);
    ck_assert_int_eq(viewed, 1);
    /* both: parsed and viewed, the view rendered */
    ck_assert_str_eq(answer(a.user, one->id, CE_STORE_READ_VIEW | CE_STORE_READ_FULL, &viewed),
                     full);
    /* a write stores the new view with it */
    one = get(a.user, one->id);
    json_object_set_new(one->configuration, "bucket.name", json_string("renamed"));
    one->name = "one again";
    ck_assert_int_eq(ce_store_instance_update(&db, pool, one, &err), APR_SUCCESS);
    full = answer(a.user, one->id, CE_STORE_READ_FULL, &viewed);
    ck_assert_ptr_nonnull(strstr(full, "renamed"));
    ck_assert_str_eq(answer(a.user, one->id, CE_STORE_READ_VIEW, &viewed), full);
    ck_assert_int_eq(viewed, 1);
    /* two's view on one's row: not one's token's, not used */
    exec_all(&db, (const char *const[]){
                      apr_psprintf(pool,
                                   "UPDATE ce_instance SET rendered = (SELECT rendered FROM "
                                   "ce_instance WHERE id = %" APR_INT64_T_FMT
                                   ") WHERE id = %" APR_INT64_T_FMT,
                                   two->id, one->id),
                      NULL});
    ck_assert_str_eq(answer(a.user, one->id, CE_STORE_READ_VIEW, &viewed), full);
    ck_assert_int_eq(viewed, 0);
    /* tampered: fails authentication, read in full */
    exec_all(&db, (const char *const[]){
                      "UPDATE ce_instance SET rendered = substr(rendered, 1, 20) || 'AAAA' || "
                      "substr(rendered, 25)",
                      NULL});
    ck_assert_str_eq(answer(a.user, one->id, CE_STORE_READ_VIEW, &viewed), full);
    ck_assert_int_eq(viewed, 0);
    /* none (a row an older module wrote): read in full */
    exec_all(&db, (const char *const[]){"UPDATE ce_instance SET rendered = ''", NULL});
    ck_assert_str_eq(answer(a.user, one->id, CE_STORE_READ_VIEW, &viewed), full);
    ck_assert_int_eq(viewed, 0);
}
END_TEST

/* A view made under another definition of the element (the catalog
 * changed since the write) is not used. */
START_TEST(read_ignores_a_view_of_another_catalog)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *one = create(a.user, 16, "one", NULL);
    ce_element_t *e = (ce_element_t *)ce_catalog_by_id(cat, 16);
    const char *was = e->tag, *full;
    int viewed;

    full = answer(a.user, one->id, CE_STORE_READ_VIEW, &viewed);
    ck_assert_int_eq(viewed, 1);
    e->tag = "0123456789abcdef"; /* as another catalog file would name it */
    ck_assert_str_eq(answer(a.user, one->id, CE_STORE_READ_VIEW, &viewed), full);
    ck_assert_int_eq(viewed, 0);
    e->tag = was;
}
END_TEST

START_TEST(migration_seals_version_2_data)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = create(a.user, 16, "old", NULL);
    ce_db_t db2;
    apr_pool_t *p2;

    /* Back to what version 2 stored. */
    ck_assert_int_eq(
        ce_store_exec_update(
            &db, pool,
            apr_psprintf(pool,
                         "UPDATE ce_instance SET token = '%s', token_digest = '%s', "
                         "configuration = '{\"bucket.name\":\"photos\",\"aws.secret\":\"x\"}'",
                         inst->token, ce_crypto_digest(pool, inst->token)),
            &err),
        APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_exec_update(&db, pool,
                             apr_psprintf(pool, "UPDATE ce_user SET secret_digest = '%s'",
                                          ce_crypto_digest(pool, a.user_secret)),
                             &err),
        APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_exec_update(&db, pool,
                             apr_psprintf(pool, "UPDATE ce_organization SET secret_digest = '%s'",
                                          ce_crypto_digest(pool, a.org_secret)),
                             &err),
        APR_SUCCESS);
    ck_assert_int_eq(ce_store_exec_update(&db, pool, "DROP TABLE ce_key_check", &err), APR_SUCCESS);
    drop_version_6(&db);
    drop_version_5(&db);
    ck_assert_int_eq(
        ce_store_exec_update(&db, pool, "ALTER TABLE ce_instance DROP COLUMN revision", &err),
        APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_exec_update(&db, pool, "UPDATE ce_schema_version SET version = 2", &err),
        APR_SUCCESS);

    apr_pool_create(&p2, pool);
    open_db(&db2, p2);
    /* The old connection's statements predate the migration's DDL. */
    ce_store_close(&db);
    db = db2;
    ck_assert_int_eq(scalar(&db2, "SELECT version FROM ce_schema_version"), 8);
    ck_assert_int_eq(scalar(&db2, "SELECT COUNT(*) FROM ce_instance WHERE token LIKE 'ce2:%'"), 1);
    ck_assert_int_eq(scalar(&db2, "SELECT COUNT(*) FROM ce_instance WHERE configuration LIKE "
                                  "'%\"aws.secret\":{\"$sealed\":\"ce2:%'"),
                     1);
    ck_assert_int_eq(scalar(&db2, "SELECT COUNT(*) FROM ce_instance WHERE instr(configuration, "
                                  "'photos') > 0"),
                     0);
    assert_authenticates(a.user_secret, a.org_secret, a.user->id);
    ck_assert_str_eq(ce_json_dump(pool, get(a.user, inst->id)->configuration),
                     "{\"bucket.name\":\"photos\",\"aws.secret\":\"x\"}");
    {
        apr_int64_t id = 0;

        ck_assert_int_eq(ce_store_instance_by_token(&id, &db2, pool, a.user, inst->token, &err),
                         APR_SUCCESS);
        ck_assert_int_eq(id, inst->id);
    }
}
END_TEST

/* A version 3 database (only secret configuration values sealed) comes to
 * version 4 with every configuration value sealed and readable. */
START_TEST(migration_4_seals_every_configuration_value)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = create(a.user, 16, "v3", NULL);
    const char *stored, **row;
    apr_array_header_t *rows;
    ce_db_t db2;
    apr_pool_t *p2;
    json_t *cfg;

    /* What version 3 stored: the secret entry sealed, the others clear. */
    ck_assert_int_eq(
        ce_store_select(&rows, &db, pool, "SELECT configuration FROM ce_instance", &err),
        APR_SUCCESS);
    row = APR_ARRAY_IDX(rows, 0, const char **);
    ck_assert_int_eq(ce_json_parse(&cfg, pool, row[0], strlen(row[0]), &err), APR_SUCCESS);
    json_object_set_new(cfg, "bucket.name", json_string("photos"));
    json_object_set_new(cfg, "retries", json_integer(3));
    stored = ce_json_dump(pool, cfg);
    ck_assert_int_eq(
        ce_store_exec_update(&db, pool,
                             apr_psprintf(pool, "UPDATE ce_instance SET configuration = %s",
                                          ce_store_quote(&db, pool, stored)),
                             &err),
        APR_SUCCESS);
    drop_version_6(&db);
    drop_version_5(&db);
    ck_assert_int_eq(
        ce_store_exec_update(&db, pool, "ALTER TABLE ce_instance DROP COLUMN revision", &err),
        APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_exec_update(&db, pool, "UPDATE ce_schema_version SET version = 3", &err),
        APR_SUCCESS);

    apr_pool_create(&p2, pool);
    open_db(&db2, p2);
    ce_store_close(&db);
    db = db2;
    ck_assert_int_eq(scalar(&db, "SELECT version FROM ce_schema_version"), 8);
    ck_assert_int_eq(
        scalar(&db, "SELECT COUNT(*) FROM ce_instance WHERE instr(configuration, 'photos') > 0"),
        0);
    ck_assert_int_eq(
        scalar(&db,
               "SELECT COUNT(*) FROM ce_instance WHERE instr(configuration, '\"retries\":3') > 0"),
        0);
    cfg = get(a.user, inst->id)->configuration;
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "bucket.name")), "photos");
    ck_assert_int_eq(json_integer_value(json_object_get(cfg, "retries")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(cfg, "aws.secret")), "s3cr3t-value");
}
END_TEST

/* --- events (issue 14): recorded with each write, in its transaction --- */

static apr_status_t set_disabled(ce_instance_t *inst, void *baton, const char **perr)
{
    inst->disabled = *(int *)baton;
    return APR_SUCCESS;
}

/* The types of owner's events (of instance id, unless 0), newest first,
 * as "A,B,...". */
static const char *event_types(const ce_user_t *owner, apr_int64_t id)
{
    apr_array_header_t *evs;
    const char *out = "";
    int more = 0, i;

    ck_assert_int_eq(ce_store_event_list(&evs, &more, &db, pool, owner, id, 0, 100, &err),
                     APR_SUCCESS);
    for (i = 0; i < evs->nelts; i++) {
        out = apr_pstrcat(pool, out, i ? "," : "",
                          APR_ARRAY_IDX(evs, i, ce_event_row_t *)->event_type, NULL);
    }
    return out;
}

START_TEST(events_recorded_with_writes)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = create(a.user, 16, "Before", NULL), *out = NULL;
    int yes = 1, no = 0;
    apr_array_header_t *evs;
    ce_event_row_t *ev;
    int more, i;
    json_t *shown;

    db.catalog = cat;
    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, a.user, inst->id, rename_to, "After", &err),
        APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, a.user, inst->id, set_disabled, &yes, &err),
        APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, a.user, inst->id, set_disabled, &no, &err),
        APR_SUCCESS);
    /* a refused write has no event */
    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, a.user, inst->id, rename_to, NULL, &err),
        APR_EINVAL);
    ck_assert_str_eq(event_types(a.user, inst->id), "ENABLED,DISABLED,UPDATED,CREATED");
    ck_assert_int_eq(ce_store_instance_delete(&db, pool, a.user, inst->id, &err), APR_SUCCESS);
    /* a deleted instance's events stay */
    ck_assert_str_eq(event_types(a.user, inst->id), "DELETED,ENABLED,DISABLED,UPDATED,CREATED");
    ck_assert_int_eq(ce_store_event_list(&evs, &more, &db, pool, a.user, 0, 0, 1, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(more, 1);
    ev = APR_ARRAY_IDX(evs, 0, ce_event_row_t *);
    ck_assert_str_eq(ev->status, "DISABLED"); /* no callback asked for */
    ck_assert_int_eq(json_integer_value(json_object_get(ev->body, "instanceId")), inst->id);
    ck_assert_str_eq(json_string_value(json_object_get(ev->body, "elementKey")), "amazons3");
    ck_assert_str_eq(json_string_value(json_object_get(ev->body, "eventId")), ev->event_id);
    ck_assert_int_eq(strlen(ev->event_id), 36);
    shown = json_object_get(ev->body, "instance");
    ck_assert_str_eq(json_string_value(json_object_get(shown, "name")), "After");
    ck_assert_ptr_null(json_object_get(shown, "token"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(shown, "configuration"), "aws.secret")),
        CE_MASK);
    /* deleted through modify too */
    inst = create(a.user, 16, "Second", NULL);
    ck_assert_int_eq(
        ce_store_instance_modify(&out, &db, pool, cat, a.user, inst->id, delete_it, NULL, &err),
        APR_SUCCESS);
    ck_assert_str_eq(event_types(a.user, inst->id), "DELETED,CREATED");
    /* made one after the other, often within one millisecond: the ids
     * (version 7) sort as the events were made (newest first here) */
    ck_assert_int_eq(ce_store_event_list(&evs, &more, &db, pool, a.user, 0, 0, 100, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(evs->nelts, 7);
    for (i = 1; i < evs->nelts; i++) {
        const char *newer = APR_ARRAY_IDX(evs, i - 1, ce_event_row_t *)->event_id;
        const char *older = APR_ARRAY_IDX(evs, i, ce_event_row_t *)->event_id;

        ck_assert_msg(strcmp(newer, older) > 0, "event %d: %s after %s", i, older, newer);
        ck_assert_int_eq(newer[14], '7');
    }
    /* at rest: sealed, no configuration value in clear */
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_event WHERE body LIKE '%photos%' "
                                 "OR body LIKE '%s3cr3t%' OR body NOT LIKE 'ce2:%'"),
                     0);
}
END_TEST

START_TEST(events_paged_and_owned)
{
    account_t a = signup("Acme", "a@acme.test"), b = signup("Beta", "b@beta.test");
    ce_instance_t *one = create(a.user, 16, "one", NULL), *two = create(a.user, 16, "two", NULL);
    ce_instance_t *out;
    apr_array_header_t *page1, *page2;
    ce_event_row_t *ev, *last;
    int more = 0, i;

    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(
            ce_store_instance_modify(&out, &db, pool, cat, a.user, one->id, rename_to, "x", &err),
            APR_SUCCESS);
    }
    ck_assert_int_eq(ce_store_event_list(&page1, &more, &db, pool, a.user, 0, 0, 3, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(page1->nelts, 3);
    ck_assert_int_eq(more, 1);
    last = APR_ARRAY_IDX(page1, 2, ce_event_row_t *);
    ck_assert_int_eq(ce_store_event_list(&page2, &more, &db, pool, a.user, 0, last->id, 3, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(page2->nelts, 2);
    ck_assert_int_eq(more, 0);
    ck_assert_int_lt(APR_ARRAY_IDX(page2, 0, ce_event_row_t *)->id, last->id);
    ck_assert_str_eq(event_types(a.user, two->id), "CREATED");
    /* another tenant sees none of them */
    ck_assert_str_eq(event_types(b.user, 0), "");
    ck_assert_int_eq(ce_store_event_get(&ev, &db, pool, b.user, last->event_id, &err),
                     APR_NOTFOUND);
    ck_assert_int_eq(ce_store_event_get(&ev, &db, pool, a.user, last->event_id, &err), APR_SUCCESS);
    ck_assert_int_eq(ev->id, last->id);
    ck_assert_int_eq(ce_store_event_redeliver(&ev, &db, pool, b.user, last->event_id, &err),
                     APR_NOTFOUND);
}
END_TEST

START_TEST(events_pending_and_redelivered)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = make_instance(a.user, 16, "Notified", NULL);
    ce_event_row_t *ev;
    apr_array_header_t *evs;
    int more;
    const char *id;

    json_object_set_new(inst->configuration, CE_EVENT_ENABLED_KEY, json_string("true"));
    json_object_set_new(inst->configuration, CE_EVENT_CALLBACK_KEY,
                        json_string("http://127.0.0.1:9/hook"));
    json_object_set_new(inst->configuration, CE_EVENT_SIGNATURE_KEY, json_string("sign-me"));
    ck_assert_int_eq(ce_store_instance_create(&db, pool, inst, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_store_event_list(&evs, &more, &db, pool, a.user, 0, 0, 10, &err),
                     APR_SUCCESS);
    ev = APR_ARRAY_IDX(evs, 0, ce_event_row_t *);
    ck_assert_str_eq(ev->status, "PENDING");
    id = ev->event_id;
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_event WHERE due > 0 AND "
                                 "callback_url LIKE 'ce2:%' AND signature_key LIKE 'ce2:%'"),
                     1);
    /* no callback, no key: nothing to seal, nothing sealed */
    ck_assert_int_eq(
        ce_store_instance_create(&db, pool, make_instance(a.user, 16, "Quiet", NULL), &err),
        APR_SUCCESS);
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_event WHERE due = 0 AND "
                                 "status = 'DISABLED' AND callback_url = '' AND "
                                 "signature_key = '' AND body LIKE 'ce2:%'"),
                     1);
    /* only a FAILED one is sent again */
    ck_assert_int_eq(ce_store_event_redeliver(&ev, &db, pool, a.user, id, &err), APR_EEXIST);
    ck_assert_int_eq(ce_store_exec_update(&db, pool,
                                          "UPDATE ce_event SET status = 'FAILED', attempts = 9, "
                                          "due = 0, last_error = 'HTTP 500'",
                                          &err),
                     APR_SUCCESS);
    ck_assert_int_eq(ce_store_event_redeliver(&ev, &db, pool, a.user, id, &err), APR_SUCCESS);
    ck_assert_str_eq(ev->status, "PENDING");
    ck_assert_int_eq(ev->attempts, 0);
    ck_assert_str_eq(ev->last_error, "");
    ck_assert_int_eq(scalar(&db, "SELECT COUNT(*) FROM ce_event WHERE due > 0"), 1);
}
END_TEST

/* Sending the outbox: claimed, POSTed signed, retried, given up. */
START_TEST(events_sent_signed_retried_given_up)
{
    account_t a = signup("Acme", "a@acme.test");
    ce_instance_t *inst = make_instance(a.user, 16, "Notified", NULL);
    canned_t c = {500, "{}", 0, NULL, NULL, NULL, 0};
    ce_http_t *h = transport(&c);
    ce_event_policy_t pol = {apr_time_from_sec(1), 3, apr_time_from_sec(30)};
    apr_array_header_t *due;
    ce_event_sent_t out;
    ce_event_row_t *ev;
    apr_int64_t id;
    unsigned char mac[32];
    unsigned int n = 0;
    char sig[64];
    int i, pruned = -1;

    json_object_set_new(inst->configuration, CE_EVENT_ENABLED_KEY, json_true());
    json_object_set_new(inst->configuration, CE_EVENT_CALLBACK_KEY,
                        json_string("https://hooks.example.com/in"));
    json_object_set_new(inst->configuration, CE_EVENT_SIGNATURE_KEY, json_string("sign-me"));
    ck_assert_int_eq(ce_store_instance_create(&db, pool, inst, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_store_event_due(&due, &db, pool, 10, &err), APR_SUCCESS);
    ck_assert_int_eq(due->nelts, 1);
    id = APR_ARRAY_IDX(due, 0, apr_int64_t);

    /* the receiver fails: RETRYING, due later, the reason kept */
    ck_assert_int_eq(ce_store_event_send(&out, &db, h, pool, id, &pol, &err), APR_SUCCESS);
    ck_assert_str_eq(out.status, "RETRYING");
    ck_assert_str_eq(out.why, "the receiver answered 500");
    ck_assert_int_eq(out.attempts, 1);
    ck_assert_int_eq(c.asked, 1);
    ck_assert_int_eq(ce_store_event_due(&due, &db, pool, 10, &err), APR_SUCCESS);
    ck_assert_int_eq(due->nelts, 0);
    ck_assert_int_eq(ce_store_event_get(&ev, &db, pool, a.user, out.event_id, &err), APR_SUCCESS);
    ck_assert_str_eq(ev->status, "RETRYING");
    ck_assert_str_eq(ev->last_error, "the receiver answered 500");

    /* claimed by another sender (a lease in the future): not sent */
    ck_assert_int_eq(ce_store_exec_update(
                         &db, pool, "UPDATE ce_event SET due = 1, lease = 99999999999999", &err),
                     APR_SUCCESS);
    ck_assert_int_eq(ce_store_event_send(&out, &db, h, pool, id, &pol, &err), APR_SUCCESS);
    ck_assert_ptr_null(out.status);
    ck_assert_int_eq(c.asked, 1);

    /* delivered: the body as logged, its id and signature in headers */
    ck_assert_int_eq(ce_store_exec_update(&db, pool, "UPDATE ce_event SET lease = 0", &err),
                     APR_SUCCESS);
    c.status = 204;
    ck_assert_int_eq(ce_store_event_send(&out, &db, h, pool, id, &pol, &err), APR_SUCCESS);
    ck_assert_str_eq(out.status, "DELIVERED");
    ck_assert_ptr_null(out.why);
    ck_assert_str_eq(c.url, "https://hooks.example.com/in");
    ck_assert_int_eq(ce_store_event_get(&ev, &db, pool, a.user, out.event_id, &err), APR_SUCCESS);
    ck_assert_str_eq(ev->status, "DELIVERED");
    ck_assert_int_eq(ev->attempts, 2);
    ck_assert(json_equal(ev->body, ce_json_bind(pool, json_loads(c.body, 0, NULL))));
    ck_assert_ptr_nonnull(
        HMAC(EVP_sha256(), "sign-me", 7, (const unsigned char *)c.body, strlen(c.body), mac, &n));
    EVP_EncodeBlock((unsigned char *)sig, mac, (int)n);
    ck_assert_str_eq(c.headers,
                     apr_pstrcat(pool, "Elements-Webhook-Id: ", ev->event_id,
                                 "\nElements-Webhook-Signature: sha256=", sig, "\n", NULL));
    ck_assert_int_eq(ce_store_event_due(&due, &db, pool, 10, &err), APR_SUCCESS);
    ck_assert_int_eq(due->nelts, 0);

    /* a receiver that never answers 2xx: FAILED after 3 attempts */
    ck_assert_int_eq(ce_store_exec_update(&db, pool,
                                          "UPDATE ce_event SET status = 'PENDING', attempts = 0, "
                                          "due = 1",
                                          &err),
                     APR_SUCCESS);
    c.fail = CE_HTTP_UNREACHABLE;
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(
            ce_store_exec_update(&db, pool, "UPDATE ce_event SET due = 1 WHERE due > 0", &err),
            APR_SUCCESS);
        ck_assert_int_eq(ce_store_event_send(&out, &db, h, pool, id, &pol, &err), APR_SUCCESS);
        ck_assert_str_eq(out.status, i < 2 ? "RETRYING" : "FAILED");
    }
    ck_assert_str_eq(out.why, "canned failure");
    ck_assert_int_eq(scalar(&db, "SELECT due FROM ce_event"), 0);
    ck_assert_int_eq(ce_store_event_redeliver(&ev, &db, pool, a.user, out.event_id, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(ev->status, "PENDING");

    /* retention */
    ck_assert_int_eq(ce_store_event_prune(&pruned, &db, pool, 1, &err), APR_SUCCESS);
    ck_assert_int_eq(pruned, 0);
    ck_assert_int_eq(ce_store_event_prune(&pruned, &db, pool, APR_INT64_MAX, &err), APR_SUCCESS);
    ck_assert_int_eq(pruned, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("sqlite3");
    apr_pool_t *process = unit_dbd_init();
    int status;

    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, init_is_idempotent);
    tcase_add_test(tc, uninitialized_connection_fails_cleanly);
    tcase_add_test(tc, signup_and_authenticate);
    tcase_add_test(tc, only_digests_are_stored);
    tcase_add_test(tc, wrong_and_mismatched_secrets);
    tcase_add_test(tc, rotated_secrets);
    tcase_add_test(tc, user_add);
    tcase_add_test(tc, organization_list);
    tcase_add_test(tc, instance_create_and_get);
    tcase_add_test(tc, instance_update);
    tcase_add_test(tc, instance_modify);
    tcase_add_test(tc, events_recorded_with_writes);
    tcase_add_test(tc, events_paged_and_owned);
    tcase_add_test(tc, events_pending_and_redelivered);
    tcase_add_test(tc, events_sent_signed_retried_given_up);
    tcase_add_test(tc, instance_delete);
    tcase_add_test(tc, instance_by_token);
    tcase_add_test(tc, instance_revision_check);
    tcase_add_test(tc, instance_ownership);
    tcase_add_test(tc, ids_not_reused);
    tcase_add_test(tc, failed_write_leaves_nothing);
    tcase_add_test(tc, group_commit);
    tcase_add_test(tc, group_commit_failure_is_isolated);
    tcase_add_test(tc, checkpoints_run_outside_the_lock);
    tcase_add_test(tc, list_newest_first_and_paging);
    tcase_add_test(tc, list_by_element);
    tcase_add_test(tc, list_by_tags);
    tcase_add_test(tc, list_with_unreadable_instance);
    tcase_add_test(tc, totals_follow_every_write);
    tcase_add_test(tc, totals_by_tags);
    tcase_add_test(tc, migration_6_counts_existing_instances);
    tcase_add_test(tc, rekey_reseals_every_registered_column);
    tcase_add_test(tc, read_answers_from_the_stored_view);
    tcase_add_test(tc, read_ignores_a_view_of_another_catalog);
    tcase_add_test(tc, registry_lists_every_secret_column);
    tcase_add_test(tc, migration_seals_version_2_data);
    tcase_add_test(tc, migration_4_seals_every_configuration_value);
    suite_add_tcase(s, tc);
    status = unit_run(s);
    apr_pool_destroy(process);
    apr_terminate();
    return status;
}
