/* ce_crypto_memo: keyed digests remembered (see ce_crypto.h).
 *
 * Every API request computes the keyed digests of its user and
 * organization secrets to look them up: two HMAC-SHA-256 over a SHA-256,
 * ~25k instructions, a sixth of a GET by id (issue 15). The digest of a
 * secret never changes (the digest key never rotates), so a process
 * remembers the last ones it computed, keyed by a salted SHA-256 of the
 * secret (one hash instead of three). This remembers no authentication:
 * every request still looks the digests up in the database, so a rotated
 * secret or a deleted user fails at once, on every node.
 *
 * Direct-mapped, one lock; a slot holds a key and its digest. */
#include <string.h>
#include <apr_thread_mutex.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ce_crypto.h"

#define MEMO_KEY 32
/* Longest secret remembered (the API's are 44 characters). */
#define MEMO_SECRET_MAX 256

typedef struct {
    unsigned char key[MEMO_KEY];
    char digest[CE_DIGEST_HEX_LEN + 1];
    int used;
} slot_t;

struct ce_crypto_memo_t {
    apr_thread_mutex_t *lock;
    unsigned char salt[MEMO_KEY];
    const EVP_MD *sha256;
    slot_t *slots;
    apr_size_t nslots;
};

static apr_status_t memo_wipe(void *data)
{
    ce_crypto_memo_t *m = data;

    OPENSSL_cleanse(m->slots, m->nslots * sizeof(*m->slots));
    OPENSSL_cleanse(m->salt, sizeof(m->salt));
    return APR_SUCCESS;
}

ce_crypto_memo_t *ce_crypto_memo_make(apr_pool_t *p, const EVP_MD *sha256, apr_size_t nslots)
{
    ce_crypto_memo_t *m = apr_pcalloc(p, sizeof(*m));

    m->sha256 = sha256;
    m->nslots = nslots ? nslots : 1;
    m->slots = apr_pcalloc(p, m->nslots * sizeof(*m->slots));
    if (RAND_bytes(m->salt, sizeof(m->salt)) != 1 ||
        apr_thread_mutex_create(&m->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_cleanup_register(p, m, memo_wipe, apr_pool_cleanup_null);
    return m;
}

int ce_crypto_memo_key(const ce_crypto_memo_t *m, unsigned char key[MEMO_KEY], const char *s)
{
    unsigned char buf[MEMO_KEY + MEMO_SECRET_MAX];
    apr_size_t n = strlen(s);
    unsigned int len = 0;
    int ok;

    if (n > MEMO_SECRET_MAX) {
        return 0;
    }
    memcpy(buf, m->salt, MEMO_KEY);
    memcpy(buf + MEMO_KEY, s, n);
    ok = EVP_Digest(buf, MEMO_KEY + n, key, &len, m->sha256, NULL) == 1 && len == MEMO_KEY;
    OPENSSL_cleanse(buf, MEMO_KEY + n);
    return ok;
}

static slot_t *slot_of(const ce_crypto_memo_t *m, const unsigned char key[MEMO_KEY])
{
    apr_size_t h = ((apr_size_t)key[0] << 24) | ((apr_size_t)key[1] << 16) |
                   ((apr_size_t)key[2] << 8) | key[3];

    return &m->slots[h % m->nslots];
}

int ce_crypto_memo_get(ce_crypto_memo_t *m, const unsigned char key[MEMO_KEY],
                       char digest[CE_DIGEST_HEX_LEN + 1])
{
    slot_t *s = slot_of(m, key);
    int hit;

    apr_thread_mutex_lock(m->lock);
    hit = s->used && memcmp(s->key, key, MEMO_KEY) == 0;
    if (hit) {
        memcpy(digest, s->digest, sizeof(s->digest));
    }
    apr_thread_mutex_unlock(m->lock);
    return hit;
}

void ce_crypto_memo_put(ce_crypto_memo_t *m, const unsigned char key[MEMO_KEY], const char *digest)
{
    slot_t *s = slot_of(m, key);

    if (strlen(digest) != CE_DIGEST_HEX_LEN) {
        return;
    }
    apr_thread_mutex_lock(m->lock);
    memcpy(s->key, key, MEMO_KEY);
    memcpy(s->digest, digest, sizeof(s->digest));
    s->used = 1;
    apr_thread_mutex_unlock(m->lock);
}
