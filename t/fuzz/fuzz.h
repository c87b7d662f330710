/* fuzz.h: scaffolding shared by the libFuzzer targets of the core (t/fuzz/).
 *
 * Each target includes this once. It gives
 *   fuzz_init()        apr_initialize + a process-long root pool (call from
 *                      LLVMFuzzerInitialize, then fuzz_init_done() once the
 *                      process-long values are made). LeakSanitizer ignores
 *                      what is allocated in between: Debian's APR takes pool
 *                      memory from mmap, which LSan does not scan, so the
 *                      catalog, bound to the root pool, would look leaked at
 *                      each leak check libFuzzer makes while fuzzing (after a
 *                      run that allocated more than it freed). At exit the
 *                      root pool is destroyed before LSan's final check;
 *   fuzz_pool()        a pool for one input, with an allocator of its own,
 *                      so apr_pool_destroy() unmaps every block: a use after
 *                      the request's end faults, and LeakSanitizer reports
 *                      anything malloc'd that is not tied to the pool;
 *   fuzz_catalog()     conf/elements.json ($CE_CATALOG overrides), loaded
 *                      once with ce_catalog_load, as the module does;
 *   FUZZ_CHECK(c, ...) a broken contract of the core: prints and aborts, so
 *                      libFuzzer keeps the input as a crash.
 */
#ifndef CE_FUZZ_H
#define CE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <sanitizer/lsan_interface.h>

#include "ce_catalog.h"
#include "ce_crypto.h"

static apr_pool_t *fuzz_root;

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* At exit, before LeakSanitizer's own check (atexit handlers run in
 * reverse order, and LSan registered its handler first): the root pool and
 * the process-long values it holds (catalog, stored instance) go, so that
 * what remains reported is what the fuzzed code leaked. */
static void fuzz_fini(void)
{
    apr_pool_destroy(fuzz_root);
    fuzz_root = NULL;
    apr_terminate();
}

static inline void fuzz_init(void)
{
    __lsan_disable(); /* until fuzz_init_done() */
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&fuzz_root, NULL) != APR_SUCCESS) {
        fprintf(stderr, "fuzz: cannot initialize APR\n");
        exit(1);
    }
    atexit(fuzz_fini);
    /* OpenSSL's RNG sets itself up on first use: here, not in a run. */
    ce_crypto_request_id(fuzz_root);
}

static inline void fuzz_init_done(void)
{
    __lsan_enable();
}

static inline apr_pool_t *fuzz_pool(void)
{
    apr_allocator_t *a = NULL;
    apr_pool_t *p = NULL;

    if (apr_allocator_create(&a) != APR_SUCCESS ||
        apr_pool_create_ex(&p, fuzz_root, NULL, a) != APR_SUCCESS) {
        fprintf(stderr, "fuzz: cannot create a pool\n");
        abort();
    }
    apr_allocator_owner_set(a, p); /* destroyed with p */
    return p;
}

static inline const ce_catalog_t *fuzz_catalog(void)
{
    const char *path = getenv("CE_CATALOG"), *err = NULL;
    ce_catalog_t *cat = NULL;

    path = path && *path ? path : "conf/elements.json";
    if (ce_catalog_load(&cat, fuzz_root, path, &err) != APR_SUCCESS) {
        fprintf(stderr, "fuzz: %s: %s (run from the top of the tree or set CE_CATALOG)\n", path,
                err ? err : "cannot load");
        exit(1);
    }
    return cat;
}

#endif
