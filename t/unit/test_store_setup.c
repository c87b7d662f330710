/* Unit tests of ce_store_init on a new database opened by many at once
 * (issue 17): the messages that mean "someone else is setting up", and
 * rounds of processes, each with a connection of its own, setting up one
 * new SQLite file together (as httpd's children and ceadmin do; threads of
 * one process would wait on apr-util's per-process sqlite3 mutex instead). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_dbd.h>
#include <sys/wait.h>
#include "unit.h"
#include "ce_crypto.h"
#include "ce_store.h"
#include "ce_store_int.h"

/* Rounds of CROWD connections set up at once. */
#define ROUNDS 40
#define CROWD 6

static char dir[64];
static ce_keys_t *keys;

static void setup(void)
{
    const char *err = NULL;

    unit_setup();
    strcpy(dir, "/tmp/ce_store_setup.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(ce_crypto_keys_write(apr_pstrcat(pool, dir, "/key", NULL), NULL, pool, &err),
                     APR_SUCCESS);
    ck_assert_int_eq(ce_crypto_keys_load(&keys, pool, apr_pstrcat(pool, dir, "/key", NULL), &err),
                     APR_SUCCESS);
}

static void teardown(void)
{
    char cmd[96];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    unit_teardown();
}

static const ce_store_dialect_t *dialect(const char *name)
{
    const apr_dbd_driver_t *driver;

    ck_assert_int_eq(apr_dbd_get_driver(pool, name, &driver), APR_SUCCESS);
    return ce_store_dialect(driver);
}

START_TEST(contended_messages)
{
    const ce_store_dialect_t *sq = dialect("sqlite3"), *pg = dialect("pgsql");

    ck_assert(ce_store_contended(sq, "Database error (schema): database schema has changed"));
    ck_assert(ce_store_contended(sq, "Database error (begin): database is locked"));
    ck_assert(!ce_store_contended(sq, "Database error (schema): no such table: ce_instance"));
    ck_assert(!ce_store_contended(sq, "The key file does not match this database"));
    ck_assert(!ce_store_contended(sq, NULL));
    ck_assert(ce_store_contended(pg, "Database error (schema): deadlock detected"));
    ck_assert(ce_store_contended(
        pg, "Database error (schema): duplicate key value violates unique constraint "
            "\"pg_type_typname_nsp_index\""));
    ck_assert(!ce_store_contended(pg, "Database error (x): duplicate key value violates unique "
                                      "constraint \"ce_user_email\""));
    ck_assert(!ce_store_contended(pg, "Database error (x): database is locked"));
}
END_TEST

/* One member of the crowd, in a process of its own: waits until the
 * parent closes the start pipe, opens path, sets it up; exits 0 when that
 * worked, else 1 with the error on stderr. */
static void open_and_init(const char *path, int start)
{
    const char *err = NULL;
    apr_pool_t *p;
    apr_status_t rv;
    ce_db_t db;
    char c;

    while (read(start, &c, 1) > 0) {
        continue;
    }
    apr_pool_create(&p, NULL);
    memset(&db, 0, sizeof(db));
    db.pool = p;
    db.prepared = apr_hash_make(p);
    db.keys = keys;
    rv = apr_dbd_get_driver(p, "sqlite3", &db.driver);
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_open_ex(db.driver, p, path, &db.handle, &err);
    }
    if (rv == APR_SUCCESS) {
        rv = ce_store_init(&db, &err);
    }
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "crowd: %s\n", err ? err : "?");
    }
    _exit(rv == APR_SUCCESS ? 0 : 1);
}

/* One round: CROWD processes set up the new database path at once; how
 * many failed. */
static int crowd_round(const char *path)
{
    pid_t pids[CROWD];
    int start[2], i, failed = 0;

    ck_assert_int_eq(pipe(start), 0);
    for (i = 0; i < CROWD; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            close(start[1]);
            open_and_init(path, start[0]);
        }
    }
    close(start[0]);
    close(start[1]); /* go */
    for (i = 0; i < CROWD; i++) {
        int status = 0;

        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    return failed;
}

START_TEST(crowd_sets_up_a_new_database)
{
    int round, failed = 0;

    for (round = 0; round < ROUNDS; round++) {
        failed += crowd_round(apr_psprintf(pool, "%s/crowd-%d.db", dir, round));
    }
    ck_assert_msg(failed == 0,
                  "%d of %d connections failed to set up a new database (their errors above)",
                  failed, ROUNDS * CROWD);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ce_store_setup");
    TCase *tc = tcase_create("first connections");

    unit_dbd_init();

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, contended_messages);
    tcase_add_test(tc, crowd_sets_up_a_new_database);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
