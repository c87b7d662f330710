/* ce_authcache: what a process remembers of the instances Element tokens
 * opened (AuthType CEInstances, see ce_authn_check_instance), so that a
 * gateway call does not pay again for three keyed digests, the instance's
 * whole row, its decryption and its parse.
 *
 * Keyed by a salted SHA-256 of the three credentials as presented, and of
 * a scope (the server's configuration: virtual hosts may have their own
 * catalog and database). An entry holds the instance as it was read (its
 * configuration opened) and the keyed digests its lookup used. A hit is
 * never trusted alone: the caller asks the database whether the instance
 * of those three digests still has that revision (every write of an
 * instance counts one; a rotated secret or digest key finds no row), and
 * forgets the entry when it does not.
 *
 * Direct-mapped: a key has one slot, and a newer entry replaces the one
 * there. An entry is copied in once and never changes after; a hit is a
 * view of it, shared by every request that holds one (counted: a replaced
 * or forgotten entry lives on until its last view goes). Secrets it holds
 * live in this process's memory only, as they do while a request uses
 * them. */
#ifndef CE_AUTHCACHE_H
#define CE_AUTHCACHE_H

#include <apr_pools.h>

#include "ce_instance.h"

typedef struct ce_authcache_t ce_authcache_t;

#define CE_AUTHCACHE_KEY_LEN 32

/* The three keyed digests of a lookup: token, user secret, organization
 * secret, in that order. */
#define CE_AUTHCACHE_DIGESTS 3

/* A cache of `slots` entries (at least 1) in p, with a fresh random salt;
 * its entries are freed with p. APR_EGENERAL if the mutex or the random
 * generator fail. */
apr_status_t ce_authcache_create(ce_authcache_t **pc, apr_pool_t *p, apr_size_t slots);

/* key = the salted digest of scope and the three credentials (none NULL).
 * APR_EGENERAL if hashing fails. */
apr_status_t ce_authcache_key(unsigned char key[CE_AUTHCACHE_KEY_LEN], const ce_authcache_t *c,
                              const void *scope, const char *user_secret,
                              const char *organization_secret, const char *token);

/* 1 when key is held: *pinst is a view of the remembered instance for p's
 * life: the struct is the caller's, but its strings, user, configuration
 * and tags are shared with other threads and must not be changed (read
 * them, or copy them to change them); digests[] the lookup's keyed
 * digests, as long. 0 otherwise. */
int ce_authcache_get(ce_authcache_t *c, const unsigned char key[CE_AUTHCACHE_KEY_LEN],
                     apr_pool_t *p, ce_instance_t **pinst,
                     const char *digests[CE_AUTHCACHE_DIGESTS]);

/* Remembers a copy of inst (which must have a user) and its digests for
 * key. Nothing is remembered when memory runs out. */
void ce_authcache_put(ce_authcache_t *c, const unsigned char key[CE_AUTHCACHE_KEY_LEN],
                      const ce_instance_t *inst, const char *const digests[CE_AUTHCACHE_DIGESTS]);

/* Forgets key's entry, if it is there. */
void ce_authcache_forget(ce_authcache_t *c, const unsigned char key[CE_AUTHCACHE_KEY_LEN]);

#endif
