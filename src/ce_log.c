/* ce_log: how the core reports what it cannot return (see ce_log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <apr_strings.h>

#include "ce_log.h"

/* Longest message passed on; longer ones are cut. */
#define CE_LOG_MAX 1024

/* Outside httpd: warnings and worse, to stderr. */
static void stderr_sink(void *baton, const char *file, int line, ce_log_level_t level,
                        apr_status_t rv, const char *message)
{
    char buf[120];

    if (rv != APR_SUCCESS) {
        fprintf(stderr, "ce: %s (%s)\n", message, apr_strerror(rv, buf, sizeof(buf)));
    } else {
        fprintf(stderr, "ce: %s\n", message);
    }
}

static ce_log_sink_fn *log_sink = stderr_sink;
static void *log_baton;
static ce_log_level_t log_max = CE_LOG_WARNING;

void ce_log_set(ce_log_sink_fn *sink, void *baton, ce_log_level_t max_level)
{
    log_sink = sink ? sink : stderr_sink;
    log_baton = sink ? baton : NULL;
    log_max = sink ? max_level : CE_LOG_WARNING;
}

int ce_log_enabled(ce_log_level_t level)
{
    return level <= log_max;
}

void ce_log(const char *file, int line, ce_log_level_t level, apr_status_t rv, const char *fmt, ...)
{
    char message[CE_LOG_MAX];
    va_list ap;

    if (!ce_log_enabled(level)) {
        return;
    }
    va_start(ap, fmt);
    apr_vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    log_sink(log_baton, file, line, level, rv, message);
}
