/* Unit tests of ce_crypto's key file, keyed digests and sealing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <apr_file_io.h>
#include "unit.h"
#include "ce_crypto.h"

static char dir[64];

static void crypto_setup(void)
{
    unit_setup();
    strcpy(dir, "/tmp/ce_crypto_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void crypto_teardown(void)
{
    const char *names[] = {"k1", "k2", "k3", "bad", NULL};
    int i;

    for (i = 0; names[i]; i++) {
        apr_file_remove(apr_pstrcat(pool, dir, "/", names[i], NULL), pool);
    }
    apr_dir_remove(dir, pool);
    unit_teardown();
}

static const char *path(const char *name)
{
    return apr_pstrcat(pool, dir, "/", name, NULL);
}

static ce_keys_t *fresh_keys(const char *name, const ce_keys_t *keep)
{
    ce_keys_t *k = NULL;
    const char *err = NULL;

    ck_assert_msg(ce_crypto_keys_write(path(name), keep, pool, &err) == APR_SUCCESS, "%s",
                  err ? err : "?");
    ck_assert_int_eq(ce_crypto_keys_load(&k, pool, path(name), &err), APR_SUCCESS);
    return k;
}

START_TEST(key_file_roundtrip)
{
    struct stat st;
    ce_keys_t *a = fresh_keys("k1", NULL), *b = fresh_keys("k2", NULL), *c;
    const char *err = NULL;

    ck_assert_int_eq(stat(path("k1"), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_ne(memcmp(a->enc, b->enc, CE_KEY_BYTES), 0);
    ck_assert_int_ne(memcmp(a->mac, b->mac, CE_KEY_BYTES), 0);
    ck_assert_int_ne(memcmp(a->enc, a->mac, CE_KEY_BYTES), 0);
    /* rotation keeps the digest key, renews the encryption key */
    c = fresh_keys("k3", a);
    ck_assert_int_eq(memcmp(a->mac, c->mac, CE_KEY_BYTES), 0);
    ck_assert_int_ne(memcmp(a->enc, c->enc, CE_KEY_BYTES), 0);
    /* never overwrites */
    ck_assert_int_ne(ce_crypto_keys_write(path("k1"), NULL, pool, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "exists already"));
}
END_TEST

START_TEST(key_file_refusals)
{
    ce_keys_t *k = (ce_keys_t *)1;
    const char *err = NULL;
    FILE *f;

    ck_assert_int_ne(ce_crypto_keys_load(&k, pool, path("missing"), &err), APR_SUCCESS);
    ck_assert_ptr_null(k);
    ck_assert_ptr_nonnull(strstr(err, "ceadmin keygen"));

    fresh_keys("k1", NULL);
    chmod(path("k1"), 0644);
    ck_assert_int_eq(ce_crypto_keys_load(&k, pool, path("k1"), &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "chmod 600"));

    f = fopen(path("bad"), "w");
    fputs("ceinstances-key 1\nencryption c2hvcnQ=\ndigest c2hvcnQ=\n", f);
    fclose(f);
    chmod(path("bad"), 0600);
    ck_assert_int_eq(ce_crypto_keys_load(&k, pool, path("bad"), &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 2"));
    ck_assert_ptr_null(strstr(err, "c2hvcnQ")); /* key material never in messages */

    f = fopen(path("bad"), "w");
    fputs("something else\n", f);
    fclose(f);
    ck_assert_int_eq(ce_crypto_keys_load(&k, pool, path("bad"), &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a mod_ceinstances key file"));
}
END_TEST

START_TEST(keyed_digests)
{
    ce_keys_t *a = fresh_keys("k1", NULL), *b = fresh_keys("k2", NULL);
    const char *d = ce_crypto_keyed_digest(pool, a, "secret");

    ck_assert_int_eq(strlen(d), CE_DIGEST_HEX_LEN);
    ck_assert_str_eq(d, ce_crypto_keyed_digest(pool, a, "secret"));
    ck_assert_str_ne(d, ce_crypto_keyed_digest(pool, b, "secret"));
    ck_assert_str_ne(d, ce_crypto_digest(pool, "secret"));
    ck_assert_str_eq(d, ce_crypto_key_digest(pool, a, ce_crypto_digest(pool, "secret")));
}
END_TEST

/* Remembered digests (ce_crypto_memo.c) are the digests: for many secrets
 * (slots shared and replaced), asked again in another order, and for a
 * secret too long to remember. */
START_TEST(keyed_digests_remembered)
{
    ce_keys_t *a = fresh_keys("k1", NULL);
    char secret[400];
    int i, round;

    for (round = 0; round < 2; round++) {
        for (i = 0; i < 10000; i++) {
            int n = round ? 9999 - i : i;

            snprintf(secret, sizeof(secret), "secret-%d", n);
            ck_assert_str_eq(ce_crypto_keyed_digest(pool, a, secret),
                             ce_crypto_key_digest(pool, a, ce_crypto_digest(pool, secret)));
        }
    }
    memset(secret, 'x', sizeof(secret) - 1);
    secret[sizeof(secret) - 1] = '\0';
    ck_assert_str_eq(ce_crypto_keyed_digest(pool, a, secret),
                     ce_crypto_key_digest(pool, a, ce_crypto_digest(pool, secret)));
    ck_assert_str_eq(ce_crypto_keyed_digest(pool, a, secret),
                     ce_crypto_keyed_digest(pool, a, secret));
}
END_TEST

START_TEST(seal_and_open)
{
    ce_keys_t *a = fresh_keys("k1", NULL), *b = fresh_keys("k2", NULL);
    const char *plain = "s3cr3t \xc3\xa9 value", *s1, *s2, *out;
    apr_size_t len;
    char *tampered;

    s1 = ce_crypto_seal(pool, a, "config:aws.secret", plain, strlen(plain));
    s2 = ce_crypto_seal(pool, a, "config:aws.secret", plain, strlen(plain));
    ck_assert(ce_crypto_is_sealed(s1));
    ck_assert_str_ne(s1, s2); /* fresh nonce every time */
    ck_assert_ptr_null(strstr(s1, "s3cr3t"));
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "config:aws.secret", s1), APR_SUCCESS);
    ck_assert_str_eq(out, plain);
    ck_assert_int_eq(len, strlen(plain));
    /* other key, other aad, a flipped bit: authentication fails */
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, b, "config:aws.secret", s1), APR_EGENERAL);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "config:other", s1), APR_EGENERAL);
    tampered = apr_pstrdup(pool, s1);
    tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "config:aws.secret", tampered),
                     APR_EGENERAL);
    /* not sealed at all, or mangled */
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "x", "plain text"), APR_EINVAL);
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "x", "ce1:"), APR_EINVAL);
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "x", "ce1:AAA"), APR_EINVAL);
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "x", "ce1:AAAA"), APR_EINVAL);
    /* the empty string seals too */
    s1 = ce_crypto_seal(pool, a, "token", "", 0);
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "token", s1), APR_SUCCESS);
    ck_assert_str_eq(out, "");
}
END_TEST

/* Opens sealed (aad "t") with k: the plaintext, or NULL. */
static const char *opened(const ce_keys_t *k, const char *sealed)
{
    const char *out = NULL;
    apr_size_t len;

    return ce_crypto_open(&out, &len, pool, k, "t", sealed) == APR_SUCCESS ? out : NULL;
}

/* Key rotation's keys: a rotated file seals with a new key and opens what
 * the old one sealed; a staged one the other way round; a pruned one only
 * its own; values sealed before key ids ("ce1:") open with any key. */
START_TEST(key_ring)
{
    ce_keys_t *a = fresh_keys("k1", NULL), *b, *staged, *pruned, *loaded, *k;
    const char *sa = ce_crypto_seal(pool, a, "t", "A", 1), *sb, *ss, *v1, *err = NULL;
    int i;

    ck_assert_int_eq(ce_crypto_keys_rotate(&b, a, pool), APR_SUCCESS);
    ck_assert_int_eq(memcmp(a->mac, b->mac, CE_KEY_BYTES), 0);
    ck_assert_str_ne(a->kid, b->kid);
    ck_assert_int_eq(b->nread, 1);
    ck_assert_str_eq(b->read_kid[0], a->kid);
    sb = ce_crypto_seal(pool, b, "t", "B", 1);
    ck_assert_str_eq(ce_crypto_sealed_kid(pool, sa), a->kid);
    ck_assert_str_eq(ce_crypto_sealed_kid(pool, sb), b->kid);
    ck_assert(ce_crypto_sealed_current(b, sb) && !ce_crypto_sealed_current(b, sa));
    ck_assert_str_eq(opened(b, sa), "A");
    ck_assert_str_eq(opened(b, sb), "B");
    ck_assert_ptr_null(opened(a, sb)); /* the old file cannot open the new key's */
    /* staged: a's key seals, b's opens too */
    ce_crypto_keys_stage(&staged, a, b, pool);
    ss = ce_crypto_seal(pool, staged, "t", "S", 1);
    ck_assert_str_eq(ce_crypto_sealed_kid(pool, ss), a->kid);
    ck_assert_str_eq(opened(staged, sb), "B");
    ck_assert_str_eq(opened(b, ss), "S");
    /* pruned: b without a's key */
    ce_crypto_keys_prune(&pruned, b, pool);
    ck_assert_int_eq(pruned->nread, 0);
    ck_assert_ptr_null(opened(pruned, sa));
    ck_assert_str_eq(opened(pruned, sb), "B");
    /* before key ids: "ce1:" + the same base64; opened with each key */
    v1 = apr_pstrcat(pool, "ce1:", sa + 4 + CE_KEY_ID_LEN + 1, NULL);
    ck_assert_str_eq(ce_crypto_sealed_kid(pool, v1), "");
    ck_assert_str_eq(opened(a, v1), "A");
    ck_assert_str_eq(opened(b, v1), "A");
    ck_assert_ptr_null(opened(pruned, v1));
    /* a key id no key has; a malformed one */
    ck_assert_ptr_null(opened(b, apr_pstrcat(pool, "ce2:00000000:", sa + 13, NULL)));
    ck_assert_int_eq(ce_crypto_open(&v1, &(apr_size_t){0}, pool, b, "t", "ce2:zz:AAAA"),
                     APR_EINVAL);
    /* the file keeps read keys */
    ck_assert_int_eq(ce_crypto_keys_save(path("kb"), b, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(ce_crypto_keys_load(&loaded, pool, path("kb"), &err), APR_SUCCESS);
    ck_assert_str_eq(loaded->kid, b->kid);
    ck_assert_int_eq(loaded->nread, 1);
    ck_assert_str_eq(opened(loaded, sa), "A");
    /* rotations keep at most CE_KEYS_MAX_READ old keys */
    for (k = b, i = 0; i < CE_KEYS_MAX_READ + 3; i++) {
        ck_assert_int_eq(ce_crypto_keys_rotate(&k, k, pool), APR_SUCCESS);
    }
    ck_assert_int_eq(k->nread, CE_KEYS_MAX_READ);
}
END_TEST

/* Each thread's cipher contexts are re-keyed only when the key differs
 * from their last one (ce_crypto_gcm.c): keys alternating value by value,
 * a key changed in place (same address, other bytes), and an open that
 * fails authentication never leave a context with the wrong key. */
START_TEST(gcm_contexts_rekeyed)
{
    ce_keys_t *a = fresh_keys("k1", NULL), *b = fresh_keys("k2", NULL), copy;
    const char *sa, *sb, *tampered;
    char *t;
    int i;

    for (i = 0; i < 4; i++) {
        sa = ce_crypto_seal(pool, a, "t", "A", 1);
        sb = ce_crypto_seal(pool, b, "t", "B", 1);
        ck_assert_str_eq(opened(a, sa), "A");
        ck_assert_str_eq(opened(b, sb), "B");
        ck_assert_ptr_null(opened(a, sb));
        ck_assert_str_eq(opened(a, sa), "A");
    }
    tampered = t = apr_pstrdup(pool, sa);
    t[strlen(t) - 3] = t[strlen(t) - 3] == 'A' ? 'B' : 'A';
    ck_assert_ptr_null(opened(a, tampered));
    ck_assert_str_eq(opened(a, sa), "A");
    /* the same ce_keys_t, its key replaced: what it seals opens only with b */
    copy = *a;
    ck_assert_str_eq(opened(&copy, sa), "A");
    memcpy(copy.enc, b->enc, CE_KEY_BYTES);
    memcpy(copy.kid, b->kid, sizeof(copy.kid));
    sb = ce_crypto_seal(pool, &copy, "t", "C", 1);
    ck_assert_str_eq(opened(&copy, sb), "C");
    ck_assert_str_eq(opened(b, sb), "C");
    ck_assert_ptr_null(opened(a, sb));
}
END_TEST

/* Values opened are remembered (ce_crypto_opened.c) but served only for
 * the same sealed bytes, the same associated data and a key id the keys
 * have: a second open gives the same plaintext; another associated data,
 * a changed byte, or keys without the value's key fail as before; more
 * values than slots all still open. */
START_TEST(opened_values_remembered)
{
    ce_keys_t *a = fresh_keys("k1", NULL), *b, *pruned;
    const char *sa = ce_crypto_seal(pool, a, "t", "secret", 6), *out = NULL, *sb;
    char *t;
    apr_size_t len = 0;
    int i;

    ck_assert_str_eq(opened(a, sa), "secret");
    ck_assert_str_eq(opened(a, sa), "secret");
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "u", sa), APR_EGENERAL);
    ck_assert_int_eq(ce_crypto_open(&out, &len, pool, a, "tt", sa), APR_EGENERAL);
    t = apr_pstrdup(pool, sa);
    t[20] = t[20] == 'A' ? 'B' : 'A';
    ck_assert_ptr_null(opened(a, t));
    ck_assert_int_eq(ce_crypto_keys_rotate(&b, a, pool), APR_SUCCESS);
    sb = ce_crypto_seal(pool, b, "t", "new", 3);
    ck_assert_str_eq(opened(b, sa), "secret");
    ck_assert_str_eq(opened(b, sb), "new");
    ce_crypto_keys_prune(&pruned, b, pool);
    ck_assert_ptr_null(opened(pruned, sa));
    for (i = 0; i < 3000; i++) {
        const char *v = apr_psprintf(pool, "value %d", i);

        ck_assert_str_eq(opened(a, ce_crypto_seal(pool, a, "t", v, strlen(v))), v);
    }
    ck_assert_str_eq(opened(a, sa), "secret");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("keys");

    tcase_add_checked_fixture(tc, crypto_setup, crypto_teardown);
    tcase_add_test(tc, key_file_roundtrip);
    tcase_add_test(tc, key_file_refusals);
    tcase_add_test(tc, keyed_digests);
    tcase_add_test(tc, keyed_digests_remembered);
    tcase_add_test(tc, seal_and_open);
    tcase_add_test(tc, key_ring);
    tcase_add_test(tc, gcm_contexts_rekeyed);
    tcase_add_test(tc, opened_values_remembered);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
