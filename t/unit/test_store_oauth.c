/* Unit tests of ce_store_oauth_fresh, the core's one way to a fresh access
 * token, on a real SQLite database with canned provider answers (a ce_http
 * transport of the test's own): the stored token while it lasts, a refresh
 * when it does not (the rotated pair kept), a refused grant not asked again
 * unless forced, a lease held by another refresher waited for, and what is
 * not an OAuth instance. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_dbd.h>
#include "unit.h"
#include "unit_http.h"
#include "ce_crypto.h"
#include "ce_json.h"
#include "ce_oauth.h"
#include "ce_store.h"

static const char catalog_text[] =
    "{\"elements\":[{\"id\":1,\"key\":\"p\",\"name\":\"P\",\"configuration\":["
    "{\"key\":\"oauth.callback.url\",\"type\":\"TEXTAREA\",\"required\":true},"
    "{\"key\":\"oauth.api.key\",\"type\":\"TEXTAREA\",\"required\":true},"
    "{\"key\":\"oauth.api.secret\",\"type\":\"PASSWORD\",\"required\":true},"
    "{\"key\":\"oauth.authorization.url\",\"type\":\"TEXTAREA\",\"defaultValue\":"
    "\"https://p.example/auth\"},"
    "{\"key\":\"oauth.token.url\",\"type\":\"TEXTAREA\",\"defaultValue\":"
    "\"https://p.example/token\"}]},"
    "{\"id\":2,\"key\":\"plain\",\"name\":\"Plain\"}]}";

static char dir[64];
static ce_db_t db;
static ce_catalog_t *cat;
static ce_user_t *owner;
static const char *err;

static void setup(void)
{
    ce_keys_t *keys = NULL;
    ce_organization_t *org;
    const char *s1, *s2, *key;

    unit_setup();
    strcpy(dir, "/tmp/ce_oauth_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    key = apr_pstrcat(pool, dir, "/key", NULL);
    ck_assert_int_eq(ce_crypto_keys_write(key, NULL, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_crypto_keys_load(&keys, pool, key, &err), APR_SUCCESS);
    memset(&db, 0, sizeof(db));
    db.pool = pool;
    db.prepared = apr_hash_make(pool);
    db.keys = keys;
    ck_assert_int_eq(apr_dbd_get_driver(pool, "sqlite3", &db.driver), APR_SUCCESS);
    ck_assert_int_eq(
        apr_dbd_open_ex(db.driver, pool, apr_pstrcat(pool, dir, "/ce.db", NULL), &db.handle, &err),
        APR_SUCCESS);
    ck_assert_msg(ce_store_init(&db, &err) == APR_SUCCESS, "init: %s", err);
    ck_assert_int_eq(ce_catalog_parse(&cat, pool, catalog_text, strlen(catalog_text), &err),
                     APR_SUCCESS);
    ck_assert_int_eq(
        ce_store_signup(&org, &owner, &s1, &s2, &db, pool, "Org", "a@example.com", "A", "B", &err),
        APR_SUCCESS);
}

static void teardown(void)
{
    ce_store_close(&db);
    unlink(apr_pstrcat(pool, dir, "/ce.db", NULL));
    unlink(apr_pstrcat(pool, dir, "/ce.db-wal", NULL));
    unlink(apr_pstrcat(pool, dir, "/ce.db-shm", NULL));
    unlink(apr_pstrcat(pool, dir, "/key", NULL));
    rmdir(dir);
    unit_teardown();
}

/* A stored instance of element_id; for the OAuth element, with tokens A1/R1
 * obtained now, lasting expires_in seconds. */
static apr_int64_t stored(long element_id, long expires_in)
{
    ce_instance_t *inst = apr_pcalloc(pool, sizeof(*inst));
    ce_oauth_token_t tok = {"A1", "R1", "Bearer", NULL, expires_in, NULL, NULL};

    inst->organization_id = owner->organization_id;
    inst->user = owner;
    inst->element_id = element_id;
    inst->element = ce_catalog_by_id(cat, element_id);
    inst->name = "i";
    ck_assert_int_eq(ce_crypto_token(&inst->token, pool, CE_TOKEN_BYTES), APR_SUCCESS);
    inst->tags = ce_json_bind(pool, json_array());
    inst->configuration = ce_json_bind(pool, json_pack("{s:s, s:s, s:s}", "oauth.callback.url",
                                                       "https://app.example/cb", "oauth.api.key",
                                                       "client", "oauth.api.secret", "secret"));
    inst->created_date = inst->updated_date = "2026-12-02T09:41:07.123Z";
    inst->external_authentication = "none";
    inst->oauth_status = "";
    if (inst->element->oauth) {
        ce_oauth_apply(inst, pool, &tok, apr_time_now());
    }
    ck_assert_msg(ce_store_instance_create(&db, pool, inst, &err) == APR_SUCCESS, "create: %s",
                  err);
    return inst->id;
}

static const char *stored_entry(apr_int64_t id, const char *key)
{
    ce_instance_t *inst = NULL;

    ck_assert_int_eq(ce_store_instance_get(&inst, &db, pool, cat, owner, id, &err), APR_SUCCESS);
    return json_string_value(json_object_get(inst->configuration, key));
}

#define LEASE apr_time_from_sec(15)

/* A token with life enough is given as stored; one without is refreshed,
 * the rotated pair kept. */
START_TEST(stored_while_it_lasts)
{
    canned_t c = {.status = 200,
                  .answer = "{\"access_token\":\"A2\",\"refresh_token\":\"R2\",\"expires_in\":60}"};
    apr_int64_t id = stored(1, 3600);
    ce_fresh_token_t f;

    ck_assert_int_eq(
        ce_store_oauth_fresh(&f, &db, transport(&c), pool, cat, owner, id, 60000, LEASE, &err),
        APR_SUCCESS);
    ck_assert_str_eq(f.token, "A1");
    ck_assert_int_eq(f.refreshed, 0);
    ck_assert_int_eq(c.asked, 0);
    ck_assert_int_gt(f.expires, apr_time_as_msec(apr_time_now()) + 3500 * 1000);
    /* asked for more life than it has */
    ck_assert_int_eq(ce_store_oauth_fresh(&f, &db, transport(&c), pool, cat, owner, id, 3601 * 1000,
                                          LEASE, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(f.token, "A2");
    ck_assert_int_eq(f.refreshed, 1);
    ck_assert_int_eq(c.asked, 1);
    ck_assert_ptr_nonnull(strstr(c.body, "refresh_token=R1"));
    ck_assert_str_eq(stored_entry(id, CE_OAUTH_USER_REFRESH_TOKEN), "R2");
    ck_assert_str_eq(stored_entry(id, CE_OAUTH_USER_TOKEN), "A2");
    /* forced: a newer one whatever the stored one's life */
    c.answer = "{\"access_token\":\"A3\",\"refresh_token\":\"R3\",\"expires_in\":60}";
    ck_assert_int_eq(
        ce_store_oauth_fresh(&f, &db, transport(&c), pool, cat, NULL, id, -1, LEASE, &err),
        APR_SUCCESS);
    ck_assert_str_eq(f.token, "A3");
    ck_assert_ptr_nonnull(strstr(c.body, "refresh_token=R2"));
    ck_assert_int_eq(c.asked, 2);
}
END_TEST

/* A refusal makes the instance not valid; it is not asked again until an
 * operator forces it. */
START_TEST(refused_not_asked_again)
{
    canned_t c = {.status = 400,
                  .answer =
                      "{\"error\":\"invalid_grant\",\"error_description\":\"grant revoked\"}"};
    apr_int64_t id = stored(1, 10);
    ce_fresh_token_t f;

    ck_assert_int_eq(
        ce_store_oauth_fresh(&f, &db, transport(&c), pool, cat, owner, id, 60000, LEASE, &err),
        CE_OAUTH_REFUSED);
    ck_assert_ptr_nonnull(strstr(err, "grant revoked"));
    ck_assert_int_eq(c.asked, 1);
    ck_assert_str_eq(stored_entry(id, CE_OAUTH_USER_REFRESH_TOKEN), "R1"); /* never erased */
    ck_assert_int_eq(
        ce_store_oauth_fresh(&f, &db, transport(&c), pool, cat, owner, id, 0, LEASE, &err),
        CE_OAUTH_REFUSED);
    ck_assert_int_eq(c.asked, 1);
    c.status = 200;
    c.answer = "{\"access_token\":\"A2\",\"expires_in\":60}";
    ck_assert_int_eq(
        ce_store_oauth_fresh(&f, &db, transport(&c), pool, cat, owner, id, -1, LEASE, &err),
        APR_SUCCESS);
    ck_assert_str_eq(f.token, "A2");
    ck_assert_str_eq(stored_entry(id, CE_OAUTH_USER_REFRESH_TOKEN), "R1"); /* none sent: kept */
}
END_TEST

/* While another refresher holds the lease, the provider is not asked: the
 * call waits for that one's answer, and gives up after the lease. */
START_TEST(lease_held_by_another)
{
    canned_t c = {.status = 200, .answer = "{\"access_token\":\"A2\",\"expires_in\":60}"};
    apr_int64_t id = stored(1, 10);
    apr_array_header_t *due = NULL;
    apr_int64_t now_ms = apr_time_as_msec(apr_time_now());
    ce_store_due_t d;
    ce_fresh_token_t f;
    apr_time_t t0;
    int claimed = 0;

    ck_assert_int_eq(ce_store_oauth_due(&due, &db, pool, now_ms + 60000, 10, &err), APR_SUCCESS);
    ck_assert_int_eq(due->nelts, 1);
    d = APR_ARRAY_IDX(due, 0, ce_store_due_t);
    ck_assert_int_eq(ce_store_oauth_claim(&claimed, &db, pool, &d, now_ms, now_ms + 60000, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(claimed, 1);
    t0 = apr_time_now();
    ck_assert_int_eq(ce_store_oauth_fresh(&f, &db, transport(&c), pool, cat, owner, id, 60000,
                                          apr_time_from_msec(300), &err),
                     APR_TIMEUP);
    ck_assert_int_eq(c.asked, 0);
    ck_assert_int_ge(apr_time_now() - t0, apr_time_from_msec(1300));
}
END_TEST

START_TEST(not_oauth_or_missing)
{
    canned_t c = {.status = 200, .answer = "{}"};
    apr_int64_t id = stored(2, 0);
    ce_fresh_token_t f;

    ck_assert_int_eq(
        ce_store_oauth_fresh(&f, &db, transport(&c), pool, cat, owner, id, 0, LEASE, &err),
        APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not an OAuth instance"));
    ck_assert_int_eq(
        ce_store_oauth_fresh(&f, &db, transport(&c), pool, cat, owner, id + 1, 0, LEASE, &err),
        APR_NOTFOUND);
    ck_assert_int_eq(c.asked, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_oauth");
    TCase *tc = tcase_create("fresh");
    apr_pool_t *process = unit_dbd_init();
    int status;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, stored_while_it_lasts);
    tcase_add_test(tc, refused_not_asked_again);
    tcase_add_test(tc, lease_held_by_another);
    tcase_add_test(tc, not_oauth_or_missing);
    suite_add_tcase(s, tc);
    status = unit_run(s);
    apr_pool_destroy(process);
    apr_terminate();
    return status;
}
