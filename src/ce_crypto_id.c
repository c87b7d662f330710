/* ce_crypto_id: random bytes for nonces and tokens, request ids and event
 * ids (see ce_crypto.h). */
#include <pthread.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ce_crypto.h"

/* Random bytes: each thread draws RANDOM_BUF at a time from OpenSSL's
 * generator (a draw costs ~7k instructions whatever its size, and a create
 * seals half a dozen values, each with a fresh nonce) and hands them out
 * once each, erasing them as they go. A forked child's thread throws away
 * what it inherited (pthread_atfork): a parent's and a child's nonces must
 * never be the same bytes. */
#define RANDOM_BUF 1024

static __thread unsigned char random_buf[RANDOM_BUF];
static __thread apr_size_t random_left;

/* Request ids: a thread's 8 random bytes, then its count of ids. */
static __thread unsigned char id_seed[8];
static __thread apr_uint64_t id_count;
static __thread int id_seeded;

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void forked(void)
{
    OPENSSL_cleanse(random_buf, sizeof(random_buf));
    random_left = 0;
    id_seeded = 0;
}

static void fork_init(void)
{
    pthread_atfork(NULL, NULL, forked);
}

int ce_crypto_random(unsigned char *out, apr_size_t n)
{
    unsigned char *from;

    pthread_once(&fork_once, fork_init);
    if (n > RANDOM_BUF / 4) {
        return RAND_bytes(out, (int)n) == 1;
    }
    if (random_left < n) {
        if (RAND_bytes(random_buf, RANDOM_BUF) != 1) {
            return 0;
        }
        random_left = RANDOM_BUF;
    }
    from = random_buf + RANDOM_BUF - random_left;
    memcpy(out, from, n);
    OPENSSL_cleanse(from, n);
    random_left -= n;
    return 1;
}

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

    if (!ce_crypto_random(raw, sizeof(raw))) {
        return "unavailable";
    }
    return hex(p, raw);
}

const char *ce_crypto_request_id(apr_pool_t *p)
{
    unsigned char raw[16];
    int i;

    if (!id_seeded) {
        if (!ce_crypto_random(id_seed, sizeof(id_seed))) {
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
