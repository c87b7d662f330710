/* ce_crypto_opened: sealed values a process has opened, remembered.
 *
 * Opening a sealed value is a base64 decode and an AES-256-GCM decryption
 * and tag check: ~11k instructions for an instance's 1.5 KB view, a third
 * of a 20-instance page (issue 15). The same bytes come back from the
 * database on every read until the row is written again, so a process
 * remembers the last values it opened: a slot holds the sealed text, the
 * associated data it was opened with and the plaintext. A value is served
 * from here only when its sealed text and associated data are byte for
 * byte those of a value this process authenticated (GCM: the same key, nonce,
 * ciphertext and data give the same plaintext or fail the same), and its
 * key id is one of the caller's keys. Nothing is read less often: every
 * request still reads its rows, so a rewritten, deleted or tampered value
 * is seen at once.
 *
 * Direct-mapped, one lock, bounded: at most nslots values of at most
 * MAX_SEALED bytes, each slot's buffer reused and wiped when it is
 * replaced and when the pool is cleared. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/crypto.h>

#include "ce_crypto_int.h"

/* Longest sealed text remembered (an instance's view is ~1.5 KB). */
#define MAX_SEALED 4096

typedef struct {
    char *buf; /* sealed text, NUL, associated data, NUL, plaintext, NUL */
    apr_size_t cap, sealed_len, aad_len, plain_len;
} slot_t;

struct ce_crypto_opened_t {
    apr_thread_mutex_t *lock;
    slot_t *slots;
    apr_size_t nslots;
};

static apr_status_t opened_wipe(void *data)
{
    ce_crypto_opened_t *m = data;
    apr_size_t i;

    for (i = 0; i < m->nslots; i++) {
        if (m->slots[i].buf) {
            OPENSSL_cleanse(m->slots[i].buf, m->slots[i].cap);
            free(m->slots[i].buf);
        }
    }
    memset(m->slots, 0, m->nslots * sizeof(*m->slots));
    return APR_SUCCESS;
}

ce_crypto_opened_t *ce_crypto_opened_make(apr_pool_t *p, apr_size_t nslots)
{
    ce_crypto_opened_t *m = apr_pcalloc(p, sizeof(*m));

    m->nslots = nslots ? nslots : 1;
    m->slots = apr_pcalloc(p, m->nslots * sizeof(*m->slots));
    if (apr_thread_mutex_create(&m->lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return NULL;
    }
    apr_pool_cleanup_register(p, m, opened_wipe, apr_pool_cleanup_null);
    return m;
}

/* The slot of a sealed text: its last characters are the base64 of the
 * GCM tag, random for every seal. */
static slot_t *slot_of(const ce_crypto_opened_t *m, const char *sealed, apr_size_t len)
{
    apr_size_t i, h = 2166136261u;

    for (i = len > 16 ? len - 16 : 0; i < len; i++) {
        h = (h ^ (unsigned char)sealed[i]) * 16777619u;
    }
    return &m->slots[h % m->nslots];
}

int ce_crypto_opened_get(ce_crypto_opened_t *m, const char *aad, const char *sealed, apr_size_t len,
                         apr_pool_t *p, const char **pplain, apr_size_t *plen)
{
    slot_t *s = slot_of(m, sealed, len);
    apr_size_t aad_len = strlen(aad);
    int hit;

    apr_thread_mutex_lock(m->lock);
    hit = s->buf && s->sealed_len == len && s->aad_len == aad_len &&
          memcmp(s->buf, sealed, len) == 0 && memcmp(s->buf + len + 1, aad, aad_len) == 0;
    if (hit) {
        *pplain = apr_pstrmemdup(p, s->buf + len + 1 + aad_len + 1, s->plain_len);
        *plen = s->plain_len;
    }
    apr_thread_mutex_unlock(m->lock);
    return hit;
}

void ce_crypto_opened_put(ce_crypto_opened_t *m, const char *aad, const char *sealed,
                          apr_size_t len, const char *plain, apr_size_t plen)
{
    slot_t *s = slot_of(m, sealed, len);
    apr_size_t aad_len = strlen(aad), need = len + aad_len + plen + 3;

    if (len > MAX_SEALED || plen > len) {
        return;
    }
    apr_thread_mutex_lock(m->lock);
    if (s->buf) {
        OPENSSL_cleanse(s->buf, s->cap);
    }
    if (s->cap < need) {
        free(s->buf);
        s->cap = 0;
        if (!(s->buf = malloc(need))) {
            apr_thread_mutex_unlock(m->lock);
            return;
        }
        s->cap = need;
    }
    memcpy(s->buf, sealed, len);
    s->buf[len] = '\0';
    memcpy(s->buf + len + 1, aad, aad_len + 1);
    memcpy(s->buf + len + 1 + aad_len + 1, plain, plen);
    s->buf[need - 1] = '\0';
    s->sealed_len = len;
    s->aad_len = aad_len;
    s->plain_len = plen;
    apr_thread_mutex_unlock(m->lock);
}
