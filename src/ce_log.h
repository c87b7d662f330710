/* ce_log: how the core reports what it cannot return.
 *
 * Core unit: no httpd headers (mod_md's md_log is the model). Work without
 * a request (group commit's own connection, checkpoints, later background
 * jobs) has no caller to hand an error to; it logs here. The glue points
 * the sink at ap_log_error (mod_ce_dbd.c); ceadmin and the unit tests leave
 * the default, which writes warnings and worse to stderr.
 *
 * Messages never hold a secret, a token or a configuration value: callers
 * log ids and what failed, as everywhere else.
 */
#ifndef CE_LOG_H
#define CE_LOG_H

#include <apr_errno.h>

/* Levels as syslog and httpd number them (CE_LOG_ERR == APLOG_ERR). */
typedef enum {
    CE_LOG_EMERG,
    CE_LOG_ALERT,
    CE_LOG_CRIT,
    CE_LOG_ERR,
    CE_LOG_WARNING,
    CE_LOG_NOTICE,
    CE_LOG_INFO,
    CE_LOG_DEBUG
} ce_log_level_t;

#define CE_LOG_MARK __FILE__, __LINE__

/* A sink: one formatted message (no trailing newline) with the status it
 * is about (0 for none). Called from any thread. */
typedef void ce_log_sink_fn(void *baton, const char *file, int line, ce_log_level_t level,
                            apr_status_t rv, const char *message);

/* Routes every later message to sink (NULL: back to the default), with
 * messages above max_level dropped before they are formatted. Set once,
 * before threads start (post_config / child_init), as md_log_set. */
void ce_log_set(ce_log_sink_fn *sink, void *baton, ce_log_level_t max_level);

/* Whether a message at level would reach the sink. */
int ce_log_enabled(ce_log_level_t level);

/* Formats (apr_vsnprintf, at most 1 KiB) and hands it to the sink. */
void ce_log(const char *file, int line, ce_log_level_t level, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
