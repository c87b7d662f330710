/* ce_crypto: random tokens and secrets, digests, the key file, sealing.
 * Everything cryptographic delegates to OpenSSL. */
#include <stdlib.h>
#include <string.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ce_crypto_int.h"

apr_status_t ce_crypto_token(const char **ptoken, apr_pool_t *p, apr_size_t nbytes)
{
    unsigned char raw[256];
    char *out;

    *ptoken = NULL;
    if (nbytes == 0 || nbytes > sizeof(raw) || !ce_crypto_random(raw, nbytes)) {
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

void ce_crypto_thread_done(void)
{
    ce_crypto_gcm_thread_done();
    OPENSSL_thread_stop();
}

/* ------------------------------------------------------------------ */
/* The key file                                                        */

#define KEY_MAGIC "ceinstances-key 1"
/* Sealed values: "ce2:<key id>:<base64>"; "ce1:<base64>" (before key ids)
 * is still opened. */
#define SEAL_PREFIX "ce2:"
#define SEAL_PREFIX_V1 "ce1:"
#define PREFIX_LEN 4
/* What a key's id hashes besides the key. */
#define KEY_ID_LABEL "mod_ceinstances key id"
#define NONCE_BYTES 12
#define TAG_BYTES 16

struct ce_crypto_algs_t {
    EVP_MD *sha256;
    EVP_CIPHER *gcm;
    EVP_MAC_CTX *hmac;          /* keyed with the digest key; duplicated per use */
    ce_crypto_memo_t *memo;     /* keyed digests remembered (ce_crypto_memo.c), or NULL */
    ce_crypto_opened_t *opened; /* values opened, remembered (ce_crypto_opened.c), or NULL */
};

static apr_status_t wipe_keys(void *data)
{
    ce_keys_t *keys = data;

    if (keys->algs) {
        EVP_MD_free(keys->algs->sha256);
        EVP_CIPHER_free(keys->algs->gcm);
        EVP_MAC_CTX_free(keys->algs->hmac);
    }
    OPENSSL_cleanse(keys, sizeof(*keys));
    return APR_SUCCESS;
}

/* Fetches the algorithms once and keys the HMAC template. */
static ce_crypto_algs_t *fetch_algs(apr_pool_t *p, const ce_keys_t *keys)
{
    ce_crypto_algs_t *a = apr_pcalloc(p, sizeof(*a));
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[2];

    a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    a->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    a->hmac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!a->sha256 || !a->gcm || !a->hmac ||
        EVP_MAC_init(a->hmac, keys->mac, sizeof(keys->mac), params) != 1) {
        EVP_MD_free(a->sha256);
        EVP_CIPHER_free(a->gcm);
        EVP_MAC_CTX_free(a->hmac);
        return NULL;
    }
    a->memo = ce_crypto_memo_make(p, a->sha256, 4096); /* NULL: none, computed each time */
    a->opened = ce_crypto_opened_make(p, 1024);        /* NULL: none, opened each time */
    return a;
}

/* Decodes base64 text of exactly CE_KEY_BYTES bytes into out. */
static int decode_key(unsigned char *out, const char *b64)
{
    unsigned char buf[CE_KEY_BYTES + 3];
    size_t len = strlen(b64);
    int n;

    if (len != 4 * ((CE_KEY_BYTES + 2) / 3)) {
        return 0;
    }
    n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)len);
    /* EVP_DecodeBlock counts '=' padding as zero bytes */
    if (n != CE_KEY_BYTES + 1 || b64[len - 1] != '=' || b64[len - 2] == '=') {
        OPENSSL_cleanse(buf, sizeof(buf));
        return 0;
    }
    memcpy(out, buf, CE_KEY_BYTES);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 1;
}

/* out = key's id: hex of the first bytes of SHA-256(label | key). */
static void key_id(char out[CE_KEY_ID_LEN + 1], const unsigned char *key)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[sizeof(KEY_ID_LABEL) - 1 + CE_KEY_BYTES], md[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;

    memcpy(buf, KEY_ID_LABEL, sizeof(KEY_ID_LABEL) - 1);
    memcpy(buf + sizeof(KEY_ID_LABEL) - 1, key, CE_KEY_BYTES);
    if (EVP_Digest(buf, sizeof(buf), md, &len, EVP_sha256(), NULL) != 1) {
        memset(md, 0, sizeof(md));
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    for (i = 0; i < CE_KEY_ID_LEN / 2; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[CE_KEY_ID_LEN] = '\0';
}

/* Adds key to keys' read keys (unless it is there, or is the encryption
 * key): 0 when there is no room. */
static int add_read_key(ce_keys_t *keys, const unsigned char *key)
{
    int i;

    if (CRYPTO_memcmp(key, keys->enc, CE_KEY_BYTES) == 0) {
        return 1;
    }
    for (i = 0; i < keys->nread; i++) {
        if (CRYPTO_memcmp(key, keys->read[i], CE_KEY_BYTES) == 0) {
            return 1;
        }
    }
    if (keys->nread >= CE_KEYS_MAX_READ) {
        return 0;
    }
    memcpy(keys->read[keys->nread], key, CE_KEY_BYTES);
    key_id(keys->read_kid[keys->nread], key);
    keys->nread++;
    return 1;
}

/* The key file must be a regular file nobody else can read or write. */
static apr_status_t check_key_file(apr_pool_t *p, const char *path, const char **perr)
{
    apr_finfo_t fi;
    apr_status_t rv;

    if ((rv = apr_stat(&fi, path, APR_FINFO_PROT | APR_FINFO_TYPE, p)) != APR_SUCCESS) {
        char why[120];

        *perr =
            apr_psprintf(p, "cannot read the key file %s: %s (make one with: ceadmin keygen %s)",
                         path, apr_strerror(rv, why, sizeof(why)), path);
        return rv;
    }
    if (fi.filetype != APR_REG) {
        *perr = apr_psprintf(p, "the key file %s is not a regular file", path);
        return APR_EINVAL;
    }
    if (fi.protection & (APR_GREAD | APR_GWRITE | APR_WREAD | APR_WWRITE)) {
        *perr = apr_psprintf(p,
                             "the key file %s is readable or writable by others "
                             "(chmod 600 it)",
                             path);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Reads the key lines of f into keys: *pfound has bit 1 for the magic
 * line, 2 for the encryption key, 4 for the digest key. APR_EINVAL with
 * *perr for a line that is none of those. Lines are wiped after use. */
static apr_status_t read_key_lines(int *pfound, ce_keys_t *keys, apr_file_t *f, apr_pool_t *p,
                                   const char *path, const char **perr)
{
    char line[256], *state, *name, *value;
    int lineno = 0, ok;

    *pfound = 0;
    while (apr_file_gets(line, sizeof(line), f) == APR_SUCCESS) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!(*pfound & 1)) {
            if (strcmp(line, KEY_MAGIC) != 0) {
                break;
            }
            *pfound |= 1;
            continue;
        }
        if (!(name = apr_strtok(line, " \t", &state)) || *name == '#') {
            continue;
        }
        value = apr_strtok(NULL, " \t", &state);
        ok = 1;
        if (strcmp(name, "encryption") == 0 && value && decode_key(keys->enc, value)) {
            *pfound |= 2;
        } else if (strcmp(name, "digest") == 0 && value && decode_key(keys->mac, value)) {
            *pfound |= 4;
        } else if (strcmp(name, "read") == 0 && value && keys->nread < CE_KEYS_MAX_READ &&
                   decode_key(keys->read[keys->nread], value)) {
            keys->nread++;
        } else {
            ok = 0;
        }
        OPENSSL_cleanse(line, sizeof(line));
        if (!ok) {
            *perr =
                apr_psprintf(p, "the key file %s: line %d is not a valid key line", path, lineno);
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

apr_status_t ce_crypto_keys_load(ce_keys_t **pkeys, apr_pool_t *p, const char *path,
                                 const char **perr)
{
    ce_keys_t *keys;
    apr_file_t *f;
    int found = 0, i;
    apr_status_t rv;

    *pkeys = NULL;
    if ((rv = check_key_file(p, path, perr)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "cannot open the key file %s", path);
        return rv;
    }
    keys = apr_pcalloc(p, sizeof(*keys));
    apr_pool_cleanup_register(p, keys, wipe_keys, apr_pool_cleanup_null);
    rv = read_key_lines(&found, keys, f, p, path, perr);
    apr_file_close(f);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (found != 7) {
        *perr = apr_psprintf(p,
                             "%s is not a mod_ceinstances key file (it needs the line '" KEY_MAGIC
                             "', an encryption and a digest key; make one "
                             "with: ceadmin keygen PATH)",
                             path);
        return APR_EINVAL;
    }
    key_id(keys->kid, keys->enc);
    for (i = 0; i < keys->nread; i++) {
        key_id(keys->read_kid[i], keys->read[i]);
    }
    keys->algs = fetch_algs(p, keys);
    *pkeys = keys;
    return APR_SUCCESS;
}

/* A copy of keys in p (wiped with it), without read keys and algorithms. */
static ce_keys_t *keys_copy(const ce_keys_t *keys, apr_pool_t *p)
{
    ce_keys_t *out = apr_pcalloc(p, sizeof(*out));

    apr_pool_cleanup_register(p, out, wipe_keys, apr_pool_cleanup_null);
    memcpy(out->enc, keys->enc, CE_KEY_BYTES);
    memcpy(out->mac, keys->mac, CE_KEY_BYTES);
    memcpy(out->kid, keys->kid, sizeof(out->kid));
    return out;
}

apr_status_t ce_crypto_keys_rotate(ce_keys_t **pnext, const ce_keys_t *from, apr_pool_t *p)
{
    ce_keys_t *next = keys_copy(from, p);
    int i;

    *pnext = NULL;
    if (RAND_bytes(next->enc, sizeof(next->enc)) != 1) {
        return APR_EGENERAL;
    }
    key_id(next->kid, next->enc);
    add_read_key(next, from->enc);
    for (i = 0; i < from->nread; i++) {
        add_read_key(next, from->read[i]);
    }
    next->algs = fetch_algs(p, next);
    *pnext = next;
    return APR_SUCCESS;
}

void ce_crypto_keys_stage(ce_keys_t **pstaged, const ce_keys_t *from, const ce_keys_t *next,
                          apr_pool_t *p)
{
    ce_keys_t *staged = keys_copy(from, p);
    int i;

    add_read_key(staged, next->enc);
    for (i = 0; i < from->nread; i++) {
        add_read_key(staged, from->read[i]);
    }
    staged->algs = fetch_algs(p, staged);
    *pstaged = staged;
}

void ce_crypto_keys_prune(ce_keys_t **ppruned, const ce_keys_t *keys, apr_pool_t *p)
{
    ce_keys_t *pruned = keys_copy(keys, p);

    pruned->algs = fetch_algs(p, pruned);
    *ppruned = pruned;
}

static const char *encode(apr_pool_t *p, const unsigned char *raw, apr_size_t n)
{
    char *out = apr_palloc(p, 4 * ((n + 2) / 3) + 1);

    EVP_EncodeBlock((unsigned char *)out, raw, (int)n);
    return out;
}

/* Why path could not be created, in words an operator can act on. */
static const char *key_file_create_error(apr_pool_t *p, const char *path, apr_status_t rv)
{
    char why[120];

    if (APR_STATUS_IS_EEXIST(rv)) {
        return apr_psprintf(p,
                            "cannot create %s: it exists already (a key file is never "
                            "overwritten)",
                            path);
    }
    if (APR_STATUS_IS_ENOENT(rv)) {
        return apr_psprintf(p, "cannot create %s: its directory does not exist", path);
    }
    return apr_psprintf(p, "cannot create %s: %s", path, apr_strerror(rv, why, sizeof(why)));
}

/* The key file's text for keys (to be wiped after use). */
static const char *key_file_text(apr_pool_t *p, const ce_keys_t *keys)
{
    const char *text =
        apr_pstrcat(p, KEY_MAGIC "\n# mod_ceinstances: keep secret, keep a copy; see README\n",
                    "encryption ", encode(p, keys->enc, sizeof(keys->enc)), "\n", "digest ",
                    encode(p, keys->mac, sizeof(keys->mac)), "\n", NULL);
    int i;

    for (i = 0; i < keys->nread; i++) {
        text = apr_pstrcat(p, text, "read ", encode(p, keys->read[i], CE_KEY_BYTES), "\n", NULL);
    }
    return text;
}

apr_status_t ce_crypto_keys_save(const char *path, const ce_keys_t *keys, apr_pool_t *p,
                                 const char **perr)
{
    apr_file_t *f;
    const char *text;
    apr_size_t len;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_EXCL,
                       APR_FPROT_UREAD | APR_FPROT_UWRITE, p);
    if (rv != APR_SUCCESS) {
        *perr = key_file_create_error(p, path, rv);
        return rv;
    }
    text = key_file_text(p, keys);
    len = strlen(text);
    rv = apr_file_write_full(f, text, len, NULL);
    OPENSSL_cleanse((char *)text, len);
    if (rv == APR_SUCCESS) {
        rv = apr_file_perms_set(path, APR_FPROT_UREAD | APR_FPROT_UWRITE);
        rv = rv == APR_ENOTIMPL ? APR_SUCCESS : rv;
    }
    if (apr_file_close(f) != APR_SUCCESS || rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "cannot write %s", path);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t ce_crypto_keys_write(const char *path, const ce_keys_t *keep, apr_pool_t *p,
                                  const char **perr)
{
    ce_keys_t *keys = NULL;
    apr_pool_t *scratch;
    apr_status_t rv = APR_SUCCESS;

    apr_pool_create(&scratch, p);
    if (keep) {
        rv = ce_crypto_keys_rotate(&keys, keep, scratch);
    } else {
        keys = apr_pcalloc(scratch, sizeof(*keys));
        apr_pool_cleanup_register(scratch, keys, wipe_keys, apr_pool_cleanup_null);
        if (RAND_bytes(keys->enc, sizeof(keys->enc)) != 1 ||
            RAND_bytes(keys->mac, sizeof(keys->mac)) != 1) {
            rv = APR_EGENERAL;
        }
    }
    if (rv != APR_SUCCESS) {
        *perr = "the random generator failed";
    } else if ((rv = ce_crypto_keys_save(path, keys, scratch, perr)) != APR_SUCCESS) {
        *perr = apr_pstrdup(p, *perr);
    }
    apr_pool_destroy(scratch);
    return rv;
}

/* ---- keyed digests and sealing ---- */
const char *ce_crypto_key_digest(apr_pool_t *p, const ce_keys_t *keys, const char *sha256_hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    size_t mlen = 0;
    EVP_MAC_CTX *ctx;
    int ok;

    if (!sha256_hex) {
        return NULL;
    }
    if (!keys->algs) {
        if (!HMAC(EVP_sha256(), keys->mac, sizeof(keys->mac), (const unsigned char *)sha256_hex,
                  strlen(sha256_hex), md, &len)) {
            return NULL;
        }
        return to_hex(p, md, len);
    }
    ctx = EVP_MAC_CTX_dup(keys->algs->hmac);
    ok = ctx && EVP_MAC_update(ctx, (const unsigned char *)sha256_hex, strlen(sha256_hex)) == 1 &&
         EVP_MAC_final(ctx, md, &mlen, sizeof(md)) == 1;
    EVP_MAC_CTX_free(ctx);
    return ok ? to_hex(p, md, mlen) : NULL;
}

const char *ce_crypto_keyed_digest(apr_pool_t *p, const ce_keys_t *keys, const char *s)
{
    unsigned char md[EVP_MAX_MD_SIZE], key[32];
    unsigned int len = 0;
    char remembered[CE_DIGEST_HEX_LEN + 1];
    const char *digest;
    int memo;
    if (!s) {
        return NULL;
    }
    if (!keys->algs) {
        return ce_crypto_key_digest(p, keys, ce_crypto_digest(p, s));
    }
    memo = keys->algs->memo && ce_crypto_memo_key(keys->algs->memo, key, s);
    if (memo && ce_crypto_memo_get(keys->algs->memo, key, remembered)) {
        return apr_pstrmemdup(p, remembered, CE_DIGEST_HEX_LEN);
    }
    if (EVP_Digest(s, strlen(s), md, &len, keys->algs->sha256, NULL) != 1) {
        return NULL;
    }
    digest = ce_crypto_key_digest(p, keys, to_hex(p, md, len));
    if (memo && digest) {
        ce_crypto_memo_put(keys->algs->memo, key, digest);
    }
    return digest;
}

int ce_crypto_is_sealed(const char *s)
{
    return s && (strncmp(s, SEAL_PREFIX, PREFIX_LEN) == 0 ||
                 strncmp(s, SEAL_PREFIX_V1, PREFIX_LEN) == 0);
}

/* Where a sealed value's base64 starts, its key id in kid ("" for "ce1:");
 * NULL when it is not of either form. */
static const char *sealed_parts(char kid[CE_KEY_ID_LEN + 1], const char *s)
{
    kid[0] = '\0';
    if (s && strncmp(s, SEAL_PREFIX_V1, PREFIX_LEN) == 0) {
        return s + PREFIX_LEN;
    }
    if (!s || strncmp(s, SEAL_PREFIX, PREFIX_LEN) != 0 ||
        strspn(s + PREFIX_LEN, "0123456789abcdef") != CE_KEY_ID_LEN ||
        s[PREFIX_LEN + CE_KEY_ID_LEN] != ':') {
        return NULL;
    }
    memcpy(kid, s + PREFIX_LEN, CE_KEY_ID_LEN);
    kid[CE_KEY_ID_LEN] = '\0';
    return s + PREFIX_LEN + CE_KEY_ID_LEN + 1;
}

const char *ce_crypto_sealed_kid(apr_pool_t *p, const char *s)
{
    char kid[CE_KEY_ID_LEN + 1];

    return sealed_parts(kid, s) ? apr_pstrdup(p, kid) : NULL;
}

int ce_crypto_sealed_current(const ce_keys_t *keys, const char *s)
{
    char kid[CE_KEY_ID_LEN + 1];

    return sealed_parts(kid, s) && strcmp(kid, keys->kid) == 0;
}

const char *ce_crypto_seal(apr_pool_t *p, const ce_keys_t *keys, const char *aad,
                           const char *plaintext, apr_size_t len)
{
    apr_size_t n = NONCE_BYTES + len + TAG_BYTES;
    unsigned char *buf = apr_palloc(p, n);
    EVP_CIPHER_CTX *ctx;
    int out = 0, fin = 0, ok;

    ok = len < (apr_size_t)1 << 30 && ce_crypto_random(buf, NONCE_BYTES) &&
         (ctx = ce_crypto_gcm_ctx(keys->algs ? keys->algs->gcm : NULL, 1, keys->enc, buf)) &&
         EVP_EncryptUpdate(ctx, NULL, &out, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         EVP_EncryptUpdate(ctx, buf + NONCE_BYTES, &out, (const unsigned char *)plaintext,
                           (int)len) == 1 &&
         EVP_EncryptFinal_ex(ctx, buf + NONCE_BYTES + out, &fin) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, buf + NONCE_BYTES + len) == 1;
    if (!ok || strlen(keys->kid) != CE_KEY_ID_LEN) {
        return NULL;
    }
    return apr_pstrcat(p, SEAL_PREFIX, keys->kid, ":", encode(p, buf, n), NULL);
}

/* AES-256-GCM open of buf (nonce | ciphertext of n bytes | tag) under key
 * into plain (n + 1 bytes): whether it authenticates. */
static int open_with(const ce_keys_t *keys, const unsigned char *key, const char *aad,
                     const unsigned char *buf, apr_size_t n, char *plain)
{
    EVP_CIPHER_CTX *ctx = ce_crypto_gcm_ctx(keys->algs ? keys->algs->gcm : NULL, 0, key, buf);
    int out = 0, fin = 0, ok;

    ok = ctx &&
         EVP_DecryptUpdate(ctx, NULL, &out, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         EVP_DecryptUpdate(ctx, (unsigned char *)plain, &out, buf + NONCE_BYTES, (int)n) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES,
                             (void *)(buf + NONCE_BYTES + n)) == 1 &&
         EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + out, &fin) == 1;
    return ok;
}

/* Opens buf with the key named kid, or ("" kid: a "ce1:" value) with each
 * key in turn. */
static int open_named(const ce_keys_t *keys, const char *kid, const char *aad,
                      const unsigned char *buf, apr_size_t n, char *plain)
{
    int i;

    if (!*kid || strcmp(kid, keys->kid) == 0) {
        if (open_with(keys, keys->enc, aad, buf, n, plain)) {
            return 1;
        }
    }
    for (i = 0; i < keys->nread; i++) {
        if ((!*kid || strcmp(kid, keys->read_kid[i]) == 0) &&
            open_with(keys, keys->read[i], aad, buf, n, plain)) {
            return 1;
        }
    }
    return 0;
}

/* Where a value sealed under kid, opened with keys, is remembered: NULL
 * when not (no memo, a "ce1:" value, or a key id keys do not have). */
static ce_crypto_opened_t *opened_memo(const ce_keys_t *keys, const char *kid)
{
    int i;

    if (!keys->algs || !keys->algs->opened || !*kid) {
        return NULL;
    }
    for (i = -1; i < keys->nread; i++) {
        if (strcmp(kid, i < 0 ? keys->kid : keys->read_kid[i]) == 0) {
            return keys->algs->opened;
        }
    }
    return NULL;
}

apr_status_t ce_crypto_open(const char **pplain, apr_size_t *plen, apr_pool_t *p,
                            const ce_keys_t *keys, const char *aad, const char *sealed)
{
    char kid[CE_KEY_ID_LEN + 1];
    const char *b64;
    apr_size_t b64len, n, pad = 0;
    unsigned char *buf;
    char *plain;
    int dec;
    ce_crypto_opened_t *memo;
    apr_size_t slen;

    *pplain = NULL;
    *plen = 0;
    if (!(b64 = sealed_parts(kid, sealed))) {
        return APR_EINVAL;
    }
    slen = strlen(sealed);
    memo = opened_memo(keys, kid);
    if (memo && ce_crypto_opened_get(memo, aad, sealed, slen, p, pplain, plen)) {
        return APR_SUCCESS;
    }
    b64len = strlen(b64);
    if (b64len == 0 || b64len % 4 != 0 || b64len > ((apr_size_t)1 << 31)) {
        return APR_EINVAL;
    }
    pad = (b64[b64len - 1] == '=') + (b64[b64len - 2] == '=');
    buf = apr_palloc(p, b64len / 4 * 3);
    dec = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)b64len);
    if (dec < 0 || (apr_size_t)dec < pad || (apr_size_t)dec - pad < NONCE_BYTES + TAG_BYTES) {
        return APR_EINVAL;
    }
    n = (apr_size_t)dec - pad - NONCE_BYTES - TAG_BYTES;
    plain = apr_palloc(p, n + 1);
    if (!open_named(keys, kid, aad, buf, n, plain)) {
        OPENSSL_cleanse(plain, n + 1);
        return APR_EGENERAL;
    }
    plain[n] = '\0';
    *pplain = plain;
    *plen = n;
    if (memo) {
        ce_crypto_opened_put(memo, aad, sealed, slen, plain, n);
    }
    return APR_SUCCESS;
}
