/* ce_authcache: what a process remembers of the instances Element tokens
 * opened (see ce_authcache.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ce_authcache.h"
#include "ce_json.h"

/* One remembered instance: every string and JSON value its own (malloc,
 * jansson), freed with it, when the last of its references goes: its
 * slot's, and one per view a request holds (refs, atomic). Nothing in it
 * changes after entry_new. */
typedef struct {
    volatile apr_uint32_t refs;
    unsigned char key[CE_AUTHCACHE_KEY_LEN];
    ce_instance_t inst;
    ce_user_t user;
    char *digests[CE_AUTHCACHE_DIGESTS];
} entry_t;

struct ce_authcache_t {
    apr_thread_mutex_t *lock;
    entry_t **slots;
    apr_size_t nslots;
    EVP_MD_CTX *salted; /* SHA-256 with the salt taken in: each key starts from a copy */
};

static void entry_free(entry_t *e)
{
    int i;

    if (!e) {
        return;
    }
    free((char *)e->inst.name);
    free((char *)e->inst.token);
    free((char *)e->inst.created_date);
    free((char *)e->inst.updated_date);
    free((char *)e->inst.external_authentication);
    free((char *)e->inst.oauth_status);
    free((char *)e->user.email_address);
    free((char *)e->user.first_name);
    free((char *)e->user.last_name);
    json_decref(e->inst.tags);
    json_decref(e->inst.configuration);
    for (i = 0; i < CE_AUTHCACHE_DIGESTS; i++) {
        free(e->digests[i]);
    }
    free(e);
}

/* strdup that says whether it failed (*ok = 0); NULL stays NULL. */
static char *dup_or_fail(const char *s, int *ok)
{
    char *d = s ? strdup(s) : NULL;

    if (s && !d) {
        *ok = 0;
    }
    return d;
}

static json_t *json_dup_or_fail(const json_t *j, int *ok)
{
    json_t *d = j ? json_deep_copy(j) : NULL;

    if (j && !d) {
        *ok = 0;
    }
    return d;
}

/* A malloc'd copy of inst and its digests; NULL when memory runs out. */
static entry_t *entry_new(const unsigned char *key, const ce_instance_t *inst,
                          const char *const digests[CE_AUTHCACHE_DIGESTS])
{
    entry_t *e = calloc(1, sizeof(*e));
    int ok = 1, i;

    if (!e) {
        return NULL;
    }
    e->refs = 1; /* its slot's */
    memcpy(e->key, key, CE_AUTHCACHE_KEY_LEN);
    e->inst = *inst;
    e->user = *inst->user;
    e->inst.user = &e->user;
    e->inst.provider_code = NULL; /* what a write asked for: never part of a read */
    e->inst.name = dup_or_fail(inst->name, &ok);
    e->inst.token = dup_or_fail(inst->token, &ok);
    e->inst.created_date = dup_or_fail(inst->created_date, &ok);
    e->inst.updated_date = dup_or_fail(inst->updated_date, &ok);
    e->inst.external_authentication = dup_or_fail(inst->external_authentication, &ok);
    e->inst.oauth_status = dup_or_fail(inst->oauth_status, &ok);
    e->user.email_address = dup_or_fail(inst->user->email_address, &ok);
    e->user.first_name = dup_or_fail(inst->user->first_name, &ok);
    e->user.last_name = dup_or_fail(inst->user->last_name, &ok);
    e->inst.tags = json_dup_or_fail(inst->tags, &ok);
    e->inst.configuration = json_dup_or_fail(inst->configuration, &ok);
    for (i = 0; i < CE_AUTHCACHE_DIGESTS; i++) {
        e->digests[i] = dup_or_fail(digests[i], &ok);
    }
    if (!ok) {
        entry_free(e);
        return NULL;
    }
    return e;
}

/* Drops one reference to e (a slot's or a view's); the last frees it. */
static void entry_release(entry_t *e)
{
    if (e && apr_atomic_dec32(&e->refs) == 0) {
        entry_free(e);
    }
}

static apr_status_t view_cleanup(void *data)
{
    entry_release(data);
    return APR_SUCCESS;
}

/* A view of e for p's life (e referenced until p goes): its own instance
 * struct (the caller may set its scalars), all else e's, shared. */
static ce_instance_t *entry_view(apr_pool_t *p, entry_t *e)
{
    ce_instance_t *inst = apr_pmemdup(p, &e->inst, sizeof(*inst));

    apr_atomic_inc32(&e->refs);
    apr_pool_cleanup_register(p, e, view_cleanup, apr_pool_cleanup_null);
    return inst;
}

static apr_status_t cache_cleanup(void *data)
{
    ce_authcache_t *c = data;
    apr_size_t i;

    EVP_MD_CTX_free(c->salted);
    c->salted = NULL;
    for (i = 0; i < c->nslots; i++) {
        entry_release(c->slots[i]); /* a view still held keeps its entry */
        c->slots[i] = NULL;
    }
    return APR_SUCCESS;
}

apr_status_t ce_authcache_create(ce_authcache_t **pc, apr_pool_t *p, apr_size_t slots)
{
    ce_authcache_t *c = apr_pcalloc(p, sizeof(*c));

    unsigned char salt[32];
    int ok;

    *pc = NULL;
    c->nslots = slots ? slots : 1;
    c->slots = apr_pcalloc(p, c->nslots * sizeof(*c->slots));
    if (apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* Registered after the mutex: cleanups run in reverse, so the entries
     * are freed while the mutex still exists. */
    apr_pool_cleanup_register(p, c, cache_cleanup, apr_pool_cleanup_null);
    c->salted = EVP_MD_CTX_new();
    ok = c->salted && RAND_bytes(salt, sizeof(salt)) == 1 &&
         EVP_DigestInit_ex(c->salted, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(c->salted, salt, sizeof(salt)) == 1;
    OPENSSL_cleanse(salt, sizeof(salt));
    if (!ok) {
        return APR_EGENERAL;
    }
    *pc = c;
    return APR_SUCCESS;
}

apr_status_t ce_authcache_key(unsigned char key[CE_AUTHCACHE_KEY_LEN], const ce_authcache_t *c,
                              const void *scope, const char *user_secret,
                              const char *organization_secret, const char *token)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    int ok;

    /* Each string with its NUL: no two different triples hash alike. */
    ok = ctx && EVP_MD_CTX_copy_ex(ctx, c->salted) == 1 &&
         EVP_DigestUpdate(ctx, &scope, sizeof(scope)) == 1 &&
         EVP_DigestUpdate(ctx, user_secret, strlen(user_secret) + 1) == 1 &&
         EVP_DigestUpdate(ctx, organization_secret, strlen(organization_secret) + 1) == 1 &&
         EVP_DigestUpdate(ctx, token, strlen(token) + 1) == 1 &&
         EVP_DigestFinal_ex(ctx, key, &len) == 1 && len == CE_AUTHCACHE_KEY_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? APR_SUCCESS : APR_EGENERAL;
}

static apr_size_t slot_of(const ce_authcache_t *c, const unsigned char *key)
{
    apr_uint64_t h;

    memcpy(&h, key, sizeof(h));
    return (apr_size_t)(h % c->nslots);
}

int ce_authcache_get(ce_authcache_t *c, const unsigned char key[CE_AUTHCACHE_KEY_LEN],
                     apr_pool_t *p, ce_instance_t **pinst,
                     const char *digests[CE_AUTHCACHE_DIGESTS])
{
    entry_t *e;
    int i;

    *pinst = NULL;
    apr_thread_mutex_lock(c->lock);
    e = c->slots[slot_of(c, key)];
    if (e && memcmp(e->key, key, CE_AUTHCACHE_KEY_LEN) == 0) {
        *pinst = entry_view(p, e);
        for (i = 0; i < CE_AUTHCACHE_DIGESTS; i++) {
            digests[i] = e->digests[i];
        }
    }
    apr_thread_mutex_unlock(c->lock);
    return *pinst != NULL;
}

void ce_authcache_put(ce_authcache_t *c, const unsigned char key[CE_AUTHCACHE_KEY_LEN],
                      const ce_instance_t *inst, const char *const digests[CE_AUTHCACHE_DIGESTS])
{
    /* Copied before the lock is taken: the lock guards a swap only. */
    entry_t *e = inst->user ? entry_new(key, inst, digests) : NULL, *old;
    apr_size_t slot = slot_of(c, key);

    if (!e) {
        return;
    }
    apr_thread_mutex_lock(c->lock);
    old = c->slots[slot];
    c->slots[slot] = e;
    apr_thread_mutex_unlock(c->lock);
    entry_release(old);
}

void ce_authcache_forget(ce_authcache_t *c, const unsigned char key[CE_AUTHCACHE_KEY_LEN])
{
    apr_size_t slot = slot_of(c, key);
    entry_t *old = NULL;

    apr_thread_mutex_lock(c->lock);
    if (c->slots[slot] && memcmp(c->slots[slot]->key, key, CE_AUTHCACHE_KEY_LEN) == 0) {
        old = c->slots[slot];
        c->slots[slot] = NULL;
    }
    apr_thread_mutex_unlock(c->lock);
    entry_release(old);
}
