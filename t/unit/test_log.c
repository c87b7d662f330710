/* Unit tests of ce_log: level filtering, routing to the sink that is set
 * (and back to the stderr default), truncation of long messages. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"
#include "ce_log.h"

/* What the capturing sink saw last. */
static struct {
    int calls;
    void *baton;
    const char *file;
    int line;
    ce_log_level_t level;
    apr_status_t rv;
    char message[4096];
} seen;

static void capture(void *baton, const char *file, int line, ce_log_level_t level, apr_status_t rv,
                    const char *message)
{
    seen.calls++;
    seen.baton = baton;
    seen.file = file;
    seen.line = line;
    seen.level = level;
    seen.rv = rv;
    snprintf(seen.message, sizeof(seen.message), "%s", message);
}

static void log_setup(void)
{
    unit_setup();
    memset(&seen, 0, sizeof(seen));
}

static void log_teardown(void)
{
    ce_log_set(NULL, NULL, CE_LOG_DEBUG);
    unit_teardown();
}

START_TEST(levels_above_the_max_are_dropped)
{
    ce_log_set(capture, NULL, CE_LOG_WARNING);
    ck_assert(ce_log_enabled(CE_LOG_EMERG));
    ck_assert(ce_log_enabled(CE_LOG_WARNING));
    ck_assert(!ce_log_enabled(CE_LOG_NOTICE));
    ck_assert(!ce_log_enabled(CE_LOG_DEBUG));
    ce_log(CE_LOG_MARK, CE_LOG_INFO, 0, "dropped %d", 1);
    ce_log(CE_LOG_MARK, CE_LOG_DEBUG, 0, "dropped %d", 2);
    ck_assert_int_eq(seen.calls, 0);
    ce_log(CE_LOG_MARK, CE_LOG_ERR, 0, "kept %d", 3);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_str_eq(seen.message, "kept 3");
    ce_log_set(capture, NULL, CE_LOG_DEBUG);
    ce_log(CE_LOG_MARK, CE_LOG_DEBUG, 0, "now kept");
    ck_assert_int_eq(seen.calls, 2);
}
END_TEST

START_TEST(the_sink_gets_level_status_place_and_baton)
{
    int baton = 7;
    int line;

    ce_log_set(capture, &baton, CE_LOG_INFO);
    line = __LINE__ + 1;
    ce_log(CE_LOG_MARK, CE_LOG_NOTICE, APR_EGENERAL, "CE%05d: %s", 30, "what failed");
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_ptr_eq(seen.baton, &baton);
    ck_assert_int_eq(seen.level, CE_LOG_NOTICE);
    ck_assert_int_eq(seen.rv, APR_EGENERAL);
    ck_assert_str_eq(seen.file, __FILE__);
    ck_assert_int_eq(seen.line, line);
    ck_assert_str_eq(seen.message, "CE00030: what failed");
}
END_TEST

START_TEST(long_messages_are_cut_at_1_kib)
{
    char big[3000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ce_log_set(capture, NULL, CE_LOG_DEBUG);
    ce_log(CE_LOG_MARK, CE_LOG_ERR, 0, "start:%s", big);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_uint_eq(strlen(seen.message), 1023);
    ck_assert(strncmp(seen.message, "start:xxx", 9) == 0);
}
END_TEST

/* Runs fn with stderr going to a file; returns what was written. */
static const char *stderr_of(void (*fn)(void))
{
    char path[] = "/tmp/ce-test-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    char buf[2048];
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    buf[n > 0 ? n : 0] = '\0';
    return apr_pstrdup(pool, buf);
}

static void log_three(void)
{
    ce_log(CE_LOG_MARK, CE_LOG_WARNING, 0, "a warning");
    ce_log(CE_LOG_MARK, CE_LOG_INFO, 0, "an info line");
    ce_log(CE_LOG_MARK, CE_LOG_ERR, APR_ENOENT, "an error");
}

START_TEST(default_and_reset_go_to_stderr_from_warning_up)
{
    const char *out = stderr_of(log_three);

    ck_assert_ptr_nonnull(strstr(out, "ce: a warning\n"));
    ck_assert_ptr_nonnull(strstr(out, "ce: an error ("));
    ck_assert_ptr_null(strstr(out, "info"));
    /* A sink set, then unset: the default again, its level too. */
    ce_log_set(capture, NULL, CE_LOG_DEBUG);
    ce_log_set(NULL, NULL, CE_LOG_DEBUG);
    ck_assert(!ce_log_enabled(CE_LOG_INFO));
    out = stderr_of(log_three);
    ck_assert_int_eq(seen.calls, 0);
    ck_assert_ptr_nonnull(strstr(out, "ce: a warning\n"));
    ck_assert_ptr_null(strstr(out, "info"));
}
END_TEST

START_TEST(a_set_sink_takes_the_place_of_stderr)
{
    const char *out;

    ce_log_set(capture, NULL, CE_LOG_WARNING);
    out = stderr_of(log_three);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(seen.calls, 2);
    ck_assert_str_eq(seen.message, "an error");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = UNIT_CASE("core");
    tcase_add_checked_fixture(tc, log_setup, log_teardown);
    tcase_add_test(tc, levels_above_the_max_are_dropped);
    tcase_add_test(tc, the_sink_gets_level_status_place_and_baton);
    tcase_add_test(tc, long_messages_are_cut_at_1_kib);
    tcase_add_test(tc, default_and_reset_go_to_stderr_from_warning_up);
    tcase_add_test(tc, a_set_sink_takes_the_place_of_stderr);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
