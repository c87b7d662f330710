/* ce_crypto: random tokens and secrets, digests, constant-time comparison.
 *
 * Core unit: no httpd headers. Randomness and hashing come from OpenSSL
 * (RAND_bytes, EVP); nothing here is hand-rolled crypto.
 */
#ifndef CE_CRYPTO_H
#define CE_CRYPTO_H

#include <apr_pools.h>

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

/* A request id for error bodies: 16 random bytes as 32 lowercase hex chars. */
const char *ce_crypto_request_id(apr_pool_t *p);

#endif
