/* mod_ce_watchdog: work without a request — OAuth access tokens refreshed
 * before they expire, events sent — driven by mod_watchdog (compiled into
 * httpd): two singleton watchdogs per child generation (a thread each), so
 * one child of each node polls for each; the store's leases make one
 * refresher of all nodes do each refresh, one sender send each event. */
#ifndef MOD_CE_WATCHDOG_H
#define MOD_CE_WATCHDOG_H

#include <httpd.h>

/* How often the job looks for tokens due. */
#define CE_REFRESH_POLL apr_time_from_msec(250)
/* How often the event job looks for events due. */
#define CE_EVENTS_POLL apr_time_from_msec(250)
/* At most this many refreshes per look (the rest wait for the next). */
#define CE_REFRESH_BATCH 50

/* post_config (before mod_watchdog's, which runs last): registers the job.
 * APR_ENOTIMPL (the caller logs it, CE00040) when mod_watchdog is absent. */
apr_status_t ce_watchdog_register(apr_pool_t *pconf, server_rec *s);

/* In each child: its exit waits for the background jobs' database work
 * under way, and starts none (mod_dbd's connections go with the child's
 * pool, before mod_watchdog joins its threads). */
void ce_watchdog_child_init(apr_pool_t *pchild, server_rec *s);

#endif
