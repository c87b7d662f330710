/* ce_crypto_int.h: what the ce_crypto*.c files share, and no one else. */
#ifndef CE_CRYPTO_INT_H
#define CE_CRYPTO_INT_H

#include <openssl/evp.h>

#include "ce_crypto.h"

/* The calling thread's AES-256-GCM context for sealing (enc 1) or opening
 * (0) with cipher (NULL: the implicit fetch), keyed with key (CE_KEY_BYTES,
 * expanded only when it differs from the key this thread's context had
 * last) and given nonce; NULL on failure. Reused by the thread's next
 * call: finish with it before calling again (ce_crypto_gcm.c). */
EVP_CIPHER_CTX *ce_crypto_gcm_ctx(const EVP_CIPHER *cipher, int enc, const unsigned char *key,
                                  const unsigned char *nonce);

#endif
