/* unit.h: shared scaffolding for the Check unit suites of the core.
 * Each test gets a fresh APR pool (`pool`), created in setup and destroyed
 * in teardown, so pool-bound jansson values are released after every test. */
#ifndef CE_UNIT_H
#define CE_UNIT_H

#include <stdlib.h>
#include <check.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_dbd.h>
#include <jansson.h>

static apr_pool_t *pool;

static void unit_setup(void)
{
    apr_initialize();
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void unit_teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

/* Runs one suite with a fresh pool per test; exit status is the verdict. */
static int unit_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* For suites that open databases: apr_dbd_init() works once per process
 * (apr-util keeps its "done" flag across apr_terminate), while its driver
 * table lives in APR's global pool; holding one apr_initialize()
 * reference for the whole run keeps that pool alive across the per-test
 * apr_initialize/apr_terminate above, also with CK_FORK=no. Call first in
 * main(); the pool it returns lives for the run. */
static inline apr_pool_t *unit_dbd_init(void)
{
    apr_pool_t *process;

    apr_initialize();
    apr_pool_create(&process, NULL);
    apr_dbd_init(process);
    return process;
}

/* "k1,k2,..." — the keys of a JSON object in order ("" for none), in pool. */
static inline const char *unit_keys_of(const json_t *obj)
{
    const char *key, *out = NULL;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        out = out ? apr_pstrcat(pool, out, ",", key, NULL) : key;
    }
    return out ? out : "";
}

/* Adds test function fn to tc with the pool fixture already set on tc. */
#define UNIT_CASE(name) tcase_create(name)
#define UNIT_FIXTURE(tc) tcase_add_checked_fixture((tc), unit_setup, unit_teardown)

#endif
