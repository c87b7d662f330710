/* ce_crypto_id: request ids and event ids (see ce_crypto.h). */
#include <pthread.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/rand.h>

#include "ce_crypto.h"

/* 16 bytes as 32 lowercase hex chars, in p. */
static const char *hex(apr_pool_t *p, const unsigned char raw[16])
{
    static const char digits[] = "0123456789abcdef";
    char *out = apr_palloc(p, 33);
    int i;

    for (i = 0; i < 16; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[32] = '\0';
    return out;
}

const char *ce_crypto_random_id(apr_pool_t *p)
{
    unsigned char raw[16];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return "unavailable";
    }
    return hex(p, raw);
}

/* Request ids: a thread's 8 random bytes, then its count of ids; a forked
 * child's thread draws new bytes (pthread_atfork). */
static __thread unsigned char id_seed[8];
static __thread apr_uint64_t id_count;
static __thread int id_seeded;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

static void id_forked(void)
{
    id_seeded = 0;
}

static void id_init(void)
{
    pthread_atfork(NULL, NULL, id_forked);
}

const char *ce_crypto_request_id(apr_pool_t *p)
{
    unsigned char raw[16];
    int i;

    pthread_once(&id_once, id_init);
    if (!id_seeded) {
        if (RAND_bytes(id_seed, sizeof(id_seed)) != 1) {
            return "unavailable";
        }
        id_seeded = 1;
    }
    id_count++;
    memcpy(raw, id_seed, sizeof(id_seed));
    for (i = 0; i < 8; i++) {
        raw[8 + i] = (unsigned char)(id_count >> (56 - 8 * i));
    }
    return hex(p, raw);
}
