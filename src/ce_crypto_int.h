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
/* Frees the calling thread's contexts now (not at its end). */
void ce_crypto_gcm_thread_done(void);
EVP_CIPHER_CTX *ce_crypto_gcm_ctx(const EVP_CIPHER *cipher, int enc, const unsigned char *key,
                                  const unsigned char *nonce);

/* Sealed values a process has opened, remembered (ce_crypto_opened.c):
 * nslots slots; NULL on failure. _get gives (copied into p) the plaintext
 * of a value opened before with the same sealed text (len bytes) and
 * associated data; _put remembers one just opened (values longer than
 * 4 KB are not). The caller checks the value's key id is one of its keys. */
typedef struct ce_crypto_opened_t ce_crypto_opened_t;
ce_crypto_opened_t *ce_crypto_opened_make(apr_pool_t *p, apr_size_t nslots);
int ce_crypto_opened_get(ce_crypto_opened_t *m, const char *aad, const char *sealed, apr_size_t len,
                         apr_pool_t *p, const char **pplain, apr_size_t *plen);
void ce_crypto_opened_put(ce_crypto_opened_t *m, const char *aad, const char *sealed,
                          apr_size_t len, const char *plain, apr_size_t plen);

#endif
