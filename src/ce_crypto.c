/* ce_crypto: random tokens and secrets, digests, constant-time comparison.
 * Everything delegates to OpenSSL. */
#include <string.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ce_crypto.h"

apr_status_t ce_crypto_token(const char **ptoken, apr_pool_t *p, apr_size_t nbytes)
{
    unsigned char raw[256];
    char *out;

    *ptoken = NULL;
    if (nbytes == 0 || nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1) {
        return APR_EGENERAL;
    }
    out = apr_palloc(p, 4 * ((nbytes + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, raw, (int)nbytes);
    OPENSSL_cleanse(raw, nbytes);
    *ptoken = out;
    return APR_SUCCESS;
}

static const char *to_hex(apr_pool_t *p, const unsigned char *raw, apr_size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *hex = apr_palloc(p, 2 * n + 1);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 0x0f];
    }
    hex[2 * n] = '\0';
    return hex;
}

const char *ce_crypto_digest(apr_pool_t *p, const char *s)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) != 1) {
        return NULL;
    }
    return to_hex(p, md, len);
}

int ce_crypto_equal(const char *a, const char *b)
{
    size_t la, lb;

    if (!a || !b) {
        return 0;
    }
    la = strlen(a);
    lb = strlen(b);
    /* Length is not secret (all our secrets have one fixed length). */
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

const char *ce_crypto_request_id(apr_pool_t *p)
{
    unsigned char raw[16];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return "unavailable";
    }
    return to_hex(p, raw, sizeof(raw));
}
