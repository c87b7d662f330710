/* Unit tests of ce_authcache: what a process remembers of the instances
 * Element tokens opened. */
#include <string.h>
#include <apr_thread_proc.h>
#include "unit.h"
#include "ce_authcache.h"
#include "ce_json.h"

static const char *const DIGESTS[CE_AUTHCACHE_DIGESTS] = {"d-token", "d-user", "d-org"};
static ce_user_t owner = {7, 3, "a@acme.test", "First", "Last"};

static ce_instance_t *instance(apr_int64_t id, const char *name)
{
    ce_instance_t *inst = apr_pcalloc(pool, sizeof(*inst));

    inst->id = id;
    inst->organization_id = 3;
    inst->user = &owner;
    inst->element_id = 16;
    inst->name = name;
    inst->token = "tok";
    inst->tags = ce_json_bind(pool, json_pack("[s]", "prod"));
    inst->configuration =
        ce_json_bind(pool, json_pack("{s:s, s:i}", "jira.password", "s3cr3t", "retries", 3));
    inst->revision = 4;
    inst->created_date = inst->updated_date = "2026-12-03T09:00:00.000Z";
    inst->external_authentication = "none";
    inst->oauth_status = "";
    inst->provider_code = "never-remembered";
    return inst;
}

static void key_of(unsigned char *key, const ce_authcache_t *c, const void *scope, const char *u,
                   const char *o, const char *t)
{
    ck_assert_int_eq(ce_authcache_key(key, c, scope, u, o, t), APR_SUCCESS);
}

static ce_authcache_t *new_cache(apr_size_t slots)
{
    ce_authcache_t *c = NULL;

    ck_assert_int_eq(ce_authcache_create(&c, pool, slots), APR_SUCCESS);
    return c;
}

START_TEST(keys_tell_credentials_scopes_and_caches_apart)
{
    ce_authcache_t *c = new_cache(16), *other = new_cache(16);
    unsigned char k[CE_AUTHCACHE_KEY_LEN], k2[CE_AUTHCACHE_KEY_LEN];
    int scope_a, scope_b;

    key_of(k, c, &scope_a, "us", "os", "tok");
    key_of(k2, c, &scope_a, "us", "os", "tok");
    ck_assert_mem_eq(k, k2, sizeof(k));
    /* any credential, the scope, the boundaries between them, the salt */
    key_of(k2, c, &scope_a, "us", "os", "tok2");
    ck_assert(memcmp(k, k2, sizeof(k)) != 0);
    key_of(k2, c, &scope_a, "us2", "os", "tok");
    ck_assert(memcmp(k, k2, sizeof(k)) != 0);
    key_of(k2, c, &scope_a, "us", "os2", "tok");
    ck_assert(memcmp(k, k2, sizeof(k)) != 0);
    key_of(k2, c, &scope_b, "us", "os", "tok");
    ck_assert(memcmp(k, k2, sizeof(k)) != 0);
    key_of(k2, c, &scope_a, "uso", "s", "tok");
    ck_assert(memcmp(k, k2, sizeof(k)) != 0);
    key_of(k2, other, &scope_a, "us", "os", "tok");
    ck_assert(memcmp(k, k2, sizeof(k)) != 0);
}
END_TEST

START_TEST(remembers_a_copy)
{
    ce_authcache_t *c = new_cache(16);
    unsigned char k[CE_AUTHCACHE_KEY_LEN];
    ce_instance_t *inst = instance(42, "My Jira"), *got = NULL, *again = NULL;
    const char *d[CE_AUTHCACHE_DIGESTS] = {NULL, NULL, NULL};

    key_of(k, c, c, "us", "os", "tok");
    ck_assert_int_eq(ce_authcache_get(c, k, pool, &got, d), 0);
    ck_assert_ptr_null(got);
    ce_authcache_put(c, k, inst, DIGESTS);
    /* the caller's instance changes after: the cache keeps what it was given */
    json_object_set_new(inst->configuration, "jira.password", json_string("changed"));
    inst->name = "Renamed";
    ck_assert_int_eq(ce_authcache_get(c, k, pool, &got, d), 1);
    ck_assert_int_eq(got->id, 42);
    ck_assert_int_eq(got->revision, 4);
    ck_assert_str_eq(got->name, "My Jira");
    ck_assert_str_eq(got->token, "tok");
    ck_assert_str_eq(json_string_value(json_object_get(got->configuration, "jira.password")),
                     "s3cr3t");
    ck_assert_str_eq(json_string_value(json_array_get(got->tags, 0)), "prod");
    ck_assert_ptr_ne(got->user, &owner);
    ck_assert_int_eq(got->user->id, 7);
    ck_assert_str_eq(got->user->email_address, "a@acme.test");
    ck_assert_ptr_null(got->provider_code);
    ck_assert_str_eq(d[0], "d-token");
    ck_assert_str_eq(d[1], "d-user");
    ck_assert_str_eq(d[2], "d-org");
    /* each caller's struct is its own; what it points to is shared */
    got->disabled = 1;
    ck_assert_int_eq(ce_authcache_get(c, k, pool, &again, d), 1);
    ck_assert_ptr_ne(again, got);
    ck_assert_int_eq(again->disabled, 0);
    ck_assert_ptr_eq(again->configuration, got->configuration);
}
END_TEST

/* A view outlives its entry's replacement, its forgetting and the cache:
 * the entry goes with its last view (ASan and valgrind see a use after
 * free or a leak here). */
START_TEST(views_outlive_their_entry)
{
    apr_pool_t *cp, *vp;
    ce_authcache_t *c = NULL;
    unsigned char k[CE_AUTHCACHE_KEY_LEN];
    ce_instance_t *got = NULL, *other = NULL;
    const char *d[CE_AUTHCACHE_DIGESTS] = {NULL, NULL, NULL};

    apr_pool_create(&cp, pool);
    apr_pool_create(&vp, pool);
    ck_assert_int_eq(ce_authcache_create(&c, cp, 4), APR_SUCCESS);
    key_of(k, c, c, "us", "os", "tok");
    ce_authcache_put(c, k, instance(42, "My Jira"), DIGESTS);
    ck_assert_int_eq(ce_authcache_get(c, k, vp, &got, d), 1);
    ce_authcache_put(c, k, instance(42, "Replaced"), DIGESTS);
    ck_assert_int_eq(ce_authcache_get(c, k, vp, &other, d), 1);
    ck_assert_str_eq(other->name, "Replaced");
    ce_authcache_forget(c, k);
    apr_pool_destroy(cp); /* the cache goes; the views stay whole */
    ck_assert_str_eq(got->name, "My Jira");
    ck_assert_str_eq(got->user->email_address, "a@acme.test");
    ck_assert_str_eq(json_string_value(json_object_get(got->configuration, "jira.password")),
                     "s3cr3t");
    ck_assert_str_eq(d[0], "d-token");
    apr_pool_destroy(vp);
}
END_TEST

START_TEST(forgets_and_replaces)
{
    ce_authcache_t *c = new_cache(1); /* every key in the one slot */
    unsigned char a[CE_AUTHCACHE_KEY_LEN], b[CE_AUTHCACHE_KEY_LEN];
    ce_instance_t *got;
    const char *d[CE_AUTHCACHE_DIGESTS];
    ce_instance_t *nobody = instance(9, "No owner");

    key_of(a, c, c, "us", "os", "a");
    key_of(b, c, c, "us", "os", "b");
    ce_authcache_put(c, a, instance(1, "A"), DIGESTS);
    ce_authcache_put(c, b, instance(2, "B"), DIGESTS);
    ck_assert_int_eq(ce_authcache_get(c, a, pool, &got, d), 0);
    ck_assert_int_eq(ce_authcache_get(c, b, pool, &got, d), 1);
    ck_assert_int_eq(got->id, 2);
    /* forgetting another key leaves the slot's entry */
    ce_authcache_forget(c, a);
    ck_assert_int_eq(ce_authcache_get(c, b, pool, &got, d), 1);
    ce_authcache_forget(c, b);
    ck_assert_int_eq(ce_authcache_get(c, b, pool, &got, d), 0);
    /* a newer entry for a key replaces the older */
    ce_authcache_put(c, a, instance(1, "A"), DIGESTS);
    ce_authcache_put(c, a, instance(1, "A, renamed"), DIGESTS);
    ck_assert_int_eq(ce_authcache_get(c, a, pool, &got, d), 1);
    ck_assert_str_eq(got->name, "A, renamed");
    /* an instance without its user is not remembered */
    nobody->user = NULL;
    ce_authcache_put(c, b, nobody, DIGESTS);
    ck_assert_int_eq(ce_authcache_get(c, b, pool, &got, d), 0);
}
END_TEST

/* Threads putting, getting and forgetting on few slots: every hit is the
 * instance of its key, whole. */
typedef struct {
    ce_authcache_t *c;
    apr_pool_t *p;
    int offset;
    int bad;
} race_t;

#define RACE_KEYS 16
static unsigned char race_keys[RACE_KEYS][CE_AUTHCACHE_KEY_LEN];
static ce_instance_t *race_insts[RACE_KEYS];

static void *APR_THREAD_FUNC race(apr_thread_t *t, void *data)
{
    race_t *r = data;
    int i;

    for (i = 0; i < 20000; i++) {
        int k = (i * 7 + r->offset) % RACE_KEYS;
        ce_instance_t *got = NULL;
        const char *d[CE_AUTHCACHE_DIGESTS];

        if (i % 50 == 0) {
            /* keys made in many threads at once, from the one salted start */
            unsigned char key[CE_AUTHCACHE_KEY_LEN];

            if (ce_authcache_key(key, r->c, r->c, "us", "os", apr_psprintf(r->p, "tok-%d", k)) !=
                    APR_SUCCESS ||
                memcmp(key, race_keys[k], sizeof(key)) != 0) {
                r->bad++;
            }
        }
        if (i % 3 == 0) {
            ce_authcache_put(r->c, race_keys[k], race_insts[k], DIGESTS);
        } else if (i % 11 == 0) {
            ce_authcache_forget(r->c, race_keys[k]);
        } else if (ce_authcache_get(r->c, race_keys[k], r->p, &got, d) &&
                   (got->id != k || strcmp(got->name, race_insts[k]->name) != 0 ||
                    !json_object_get(got->configuration, "jira.password"))) {
            r->bad++;
        }
        if (i % 1000 == 0) {
            apr_pool_clear(r->p);
        }
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

START_TEST(threads_see_whole_entries)
{
    ce_authcache_t *c = new_cache(5);
    apr_thread_t *threads[4];
    race_t runs[4];
    apr_status_t trv;
    int i;

    for (i = 0; i < RACE_KEYS; i++) {
        key_of(race_keys[i], c, c, "us", "os", apr_psprintf(pool, "tok-%d", i));
        race_insts[i] = instance(i, apr_psprintf(pool, "instance %d", i));
    }
    for (i = 0; i < 4; i++) {
        runs[i].c = c;
        runs[i].offset = i;
        runs[i].bad = 0;
        ck_assert_int_eq(apr_pool_create(&runs[i].p, pool), APR_SUCCESS);
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, race, &runs[i], pool), APR_SUCCESS);
    }
    for (i = 0; i < 4; i++) {
        apr_thread_join(&trv, threads[i]);
        ck_assert_int_eq(runs[i].bad, 0);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("authcache");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, keys_tell_credentials_scopes_and_caches_apart);
    tcase_add_test(tc, remembers_a_copy);
    tcase_add_test(tc, views_outlive_their_entry);
    tcase_add_test(tc, forgets_and_replaces);
    tcase_add_test(tc, threads_see_whole_entries);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
