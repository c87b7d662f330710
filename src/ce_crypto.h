/* ce_crypto: random tokens and secrets, digests, the key file, sealing
 * secrets at rest, constant-time comparison.
 *
 * Core unit: no httpd headers. Randomness, hashing, HMAC and AES-256-GCM
 * come from OpenSSL (RAND_bytes, EVP, EVP_MAC); nothing here is hand-rolled
 * crypto.
 */
#ifndef CE_CRYPTO_H
#define CE_CRYPTO_H

#include <apr_pools.h>
#include <openssl/types.h>

/* Length of the random part of tokens and secrets, in bytes. */
#define CE_TOKEN_BYTES 32
/* Length of a hex SHA-256 digest, without the NUL. */
#define CE_DIGEST_HEX_LEN 64

/* *ptoken = standard base64 (with padding) of nbytes fresh random bytes,
 * allocated in p (44 characters for 32 bytes). APR_EGENERAL if the RNG
 * fails. Used for instance tokens and user/organization secrets. */
apr_status_t ce_crypto_token(const char **ptoken, apr_pool_t *p, apr_size_t nbytes);

/* Lowercase hex SHA-256 of the NUL-terminated string s, allocated in p.
 * This is how secrets and tokens are looked up in the database. */
const char *ce_crypto_digest(apr_pool_t *p, const char *s);

/* 1 if a and b are equal strings, compared in time independent of where
 * they differ (CRYPTO_memcmp); 0 otherwise, also when either is NULL. */
int ce_crypto_equal(const char *a, const char *b);

/* --- the key file ---
 *
 * Text, mode 0600 (anything readable by group or others is refused):
 *   ceinstances-key 1
 *   encryption <base64 of 32 bytes>   AES-256-GCM key sealing secrets at rest
 *   digest <base64 of 32 bytes>       HMAC-SHA-256 key of the lookup digests
 *   read <base64 of 32 bytes>         0 to CE_KEYS_MAX_READ more AES keys that
 *                                     only open values (retired, or coming)
 * The digest key is what user and organization secrets are stored under
 * (only as digests), so it outlives key rotations: a rotated file keeps it
 * and the old encryption key (as a read key), and has a fresh encryption
 * key. Each AES key has an id (CE_KEY_ID_LEN hex characters of a hash of
 * it), which every value it seals names. */
#define CE_KEY_BYTES 32
#define CE_KEYS_MAX_READ 8
#define CE_KEY_ID_LEN 8
typedef struct ce_crypto_algs_t ce_crypto_algs_t;
typedef struct {
    unsigned char enc[CE_KEY_BYTES];
    unsigned char mac[CE_KEY_BYTES];
    char kid[CE_KEY_ID_LEN + 1]; /* enc's id */
    int nread;
    unsigned char read[CE_KEYS_MAX_READ][CE_KEY_BYTES];
    char read_kid[CE_KEYS_MAX_READ][CE_KEY_ID_LEN + 1];
    /* OpenSSL algorithms fetched once, at load (an implicit fetch on every
     * call takes a process-wide lock); NULL: fetched per call. */
    ce_crypto_algs_t *algs;
} ce_keys_t;
/* Reads and checks the key file at path into *pkeys (allocated in p, wiped
 * when p is cleared). Errors name the path and the problem. */
apr_status_t ce_crypto_keys_load(ce_keys_t **pkeys, apr_pool_t *p, const char *path,
                                 const char **perr);

/* Writes a new key file at path (which must not exist), mode 0600, with a
 * fresh encryption key and either a fresh digest key or, if keep is not
 * NULL, keep's rotated (ce_crypto_keys_rotate). */
apr_status_t ce_crypto_keys_write(const char *path, const ce_keys_t *keep, apr_pool_t *p,
                                  const char **perr);

/* *pnext: from rotated, in p (wiped with it): a fresh encryption key;
 * from's encryption key and read keys as read keys (the oldest dropped
 * past CE_KEYS_MAX_READ); from's digest key. APR_EGENERAL if the RNG
 * fails. */
apr_status_t ce_crypto_keys_rotate(ce_keys_t **pnext, const ce_keys_t *from, apr_pool_t *p);

/* *pstaged: what nodes run before next is deployed (many nodes): from's
 * encryption key still seals, next's opens too. */
void ce_crypto_keys_stage(ce_keys_t **pstaged, const ce_keys_t *from, const ce_keys_t *next,
                          apr_pool_t *p);

/* *ppruned: keys without their read keys (once nothing is sealed with
 * them: ceadmin verify). */
void ce_crypto_keys_prune(ce_keys_t **ppruned, const ce_keys_t *keys, apr_pool_t *p);

/* Writes keys to a new file at path (which must not exist), mode 0600. */
apr_status_t ce_crypto_keys_save(const char *path, const ce_keys_t *keys, apr_pool_t *p,
                                 const char **perr);

/* The id of the key that sealed s ("" for a value sealed before ids,
 * "ce1:"), or NULL when s is not sealed. */
const char *ce_crypto_sealed_kid(apr_pool_t *p, const char *s);

/* Whether s was sealed with keys' encryption key (a rekey leaves it). */
int ce_crypto_sealed_current(const ce_keys_t *keys, const char *s);

/* Lowercase hex HMAC-SHA-256, under the digest key, of the hex SHA-256 of
 * s: how secrets and tokens are stored for lookup. (The inner SHA-256 is
 * what the first schema stored, so a migration can key those in place.) */
const char *ce_crypto_keyed_digest(apr_pool_t *p, const ce_keys_t *keys, const char *s);

/* The keyed digest of an already computed hex SHA-256 (see above). */
const char *ce_crypto_key_digest(apr_pool_t *p, const ce_keys_t *keys, const char *sha256_hex);

/* Seals plaintext (len bytes) with AES-256-GCM under the encryption key,
 * a fresh 96-bit nonce and aad (additional authenticated data: what the
 * value is, so it cannot be moved elsewhere): "ce2:" + key id + ":" +
 * base64(nonce | ciphertext | tag), in p. NULL on failure. */
const char *ce_crypto_seal(apr_pool_t *p, const ce_keys_t *keys, const char *aad,
                           const char *plaintext, apr_size_t len);
/* Opens what ce_crypto_seal made with the same aad, with the key it names
 * (the encryption key or a read key; a "ce1:" value, which names none,
 * with each in turn): *pplain (NUL terminated, in p) and *plen.
 * APR_EINVAL when sealed is not of that form, APR_EGENERAL when it fails
 * authentication (a key the file does not hold, tampered). */
apr_status_t ce_crypto_open(const char **pplain, apr_size_t *plen, apr_pool_t *p,
                            const ce_keys_t *keys, const char *aad, const char *sealed);
/* Whether s has the form ce_crypto_seal produces. */
int ce_crypto_is_sealed(const char *s);

/* A request id (requestId, Elements-Request-Id): 32 lowercase hex chars,
 * unique (the calling thread's 8 random bytes and its count of ids), not
 * unpredictable: a random draw per request cost more than the rest of a
 * small answer's crypto. */
const char *ce_crypto_request_id(apr_pool_t *p);

/* ce_crypto_memo.c: keyed digests a process remembers, keyed by a salted
 * SHA-256 of what was digested (ce_crypto_keyed_digest uses it). */
typedef struct ce_crypto_memo_t ce_crypto_memo_t;
ce_crypto_memo_t *ce_crypto_memo_make(apr_pool_t *p, const EVP_MD *sha256, apr_size_t nslots);
/* key = salted SHA-256 of s; 0 when s is too long to be remembered. */
int ce_crypto_memo_key(const ce_crypto_memo_t *m, unsigned char key[32], const char *s);
int ce_crypto_memo_get(ce_crypto_memo_t *m, const unsigned char key[32],
                       char digest[CE_DIGEST_HEX_LEN + 1]);
void ce_crypto_memo_put(ce_crypto_memo_t *m, const unsigned char key[32], const char *digest);

/* n bytes from OpenSSL's generator, drawn a buffer at a time per thread
 * (never handed out twice, nor across fork): nonces, tokens, ids. 0 when
 * the generator fails. */
int ce_crypto_random(unsigned char *out, apr_size_t n);

/* 16 random bytes as 32 lowercase hex chars (event ids). */
const char *ce_crypto_random_id(apr_pool_t *p);

/* Frees what the calling thread keeps (its cipher contexts, OpenSSL's
 * random generators and error queue), for a background thread at the end
 * of its work: thread-exit cleanup does not run when the process exits
 * first, which is how httpd's watchdog thread can end, and LeakSanitizer
 * then reports what the thread kept. */
void ce_crypto_thread_done(void);

#endif
