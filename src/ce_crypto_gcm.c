/* ce_crypto_gcm: the AES-256-GCM contexts sealing and opening use.
 *
 * Making a context costs more than sealing or opening a short value with
 * it, and so does expanding a key: each thread keeps one context per
 * direction, set to the cipher once, and re-keys it only when it is given
 * another key than last time (most values open with the current key), the
 * nonce being set per value. Freed, the key copy wiped, when the thread
 * ends (the main thread's at exit), or before: ce_crypto_gcm_thread_done. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "ce_crypto_int.h"

typedef struct {
    EVP_CIPHER_CTX *ctx;
    int keyed; /* key holds the key ctx was last given */
    unsigned char key[CE_KEY_BYTES];
} gcm_t;

static pthread_key_t gcm_keys[2];
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;
static int gcm_keys_ok;

static void gcm_free(void *data)
{
    gcm_t *g = data;

    if (g) {
        EVP_CIPHER_CTX_free(g->ctx);
        OPENSSL_cleanse(g, sizeof(*g));
        free(g);
    }
}

void ce_crypto_gcm_thread_done(void)
{
    int enc;

    if (!gcm_keys_ok) {
        return; /* (no context was ever made) */
    }
    for (enc = 0; enc < 2; enc++) {
        gcm_free(pthread_getspecific(gcm_keys[enc]));
        pthread_setspecific(gcm_keys[enc], NULL);
    }
}

static void gcm_keys_make(void)
{
    gcm_keys_ok = pthread_key_create(&gcm_keys[0], gcm_free) == 0 &&
                  pthread_key_create(&gcm_keys[1], gcm_free) == 0 &&
                  atexit(ce_crypto_gcm_thread_done) == 0;
}

/* The calling thread's context for enc, made on first use. */
static gcm_t *thread_gcm(const EVP_CIPHER *cipher, int enc)
{
    gcm_t *g;

    if (pthread_once(&gcm_once, gcm_keys_make) != 0 || !gcm_keys_ok) {
        return NULL;
    }
    if ((g = pthread_getspecific(gcm_keys[enc])) != NULL) {
        return g;
    }
    if (!(g = calloc(1, sizeof(*g)))) {
        return NULL;
    }
    if (!(g->ctx = EVP_CIPHER_CTX_new()) ||
        EVP_CipherInit_ex(g->ctx, cipher ? cipher : EVP_aes_256_gcm(), NULL, NULL, NULL, enc) !=
            1 ||
        pthread_setspecific(gcm_keys[enc], g) != 0) {
        gcm_free(g);
        return NULL;
    }
    return g;
}

EVP_CIPHER_CTX *ce_crypto_gcm_ctx(const EVP_CIPHER *cipher, int enc, const unsigned char *key,
                                  const unsigned char *nonce)
{
    gcm_t *g = thread_gcm(cipher, enc);

    if (!g) {
        return NULL;
    }
    if (g->keyed && CRYPTO_memcmp(g->key, key, CE_KEY_BYTES) == 0) {
        if (EVP_CipherInit_ex(g->ctx, NULL, NULL, NULL, nonce, enc) == 1) {
            return g->ctx;
        }
    }
    g->keyed = 0;
    if (EVP_CipherInit_ex(g->ctx, NULL, NULL, key, nonce, enc) != 1) {
        return NULL;
    }
    memcpy(g->key, key, CE_KEY_BYTES);
    g->keyed = 1;
    return g->ctx;
}
