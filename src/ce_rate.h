/* ce_rate: per-instance request rate limits shared by a server's processes
 * (the gateway's CEInstancesProxyRateLimit).
 *
 * Core unit: no httpd headers. The table is plain memory (the glue puts it
 * in shared memory made before the children fork), updated lock-free with
 * APR's 64-bit compare-and-swap: each slot is one word holding an
 * instance's tag, its window and the calls counted in it. A fixed window
 * per instance: at most limit calls in each period-long window aligned on
 * the epoch (so a burst across a window's end can see 2 x limit in one
 * period, never more). An instance's slot is found by its hash among a few
 * neighbours; a slot whose window is over is taken by whoever needs it.
 * When all of them are busy in the current window (far more instances
 * active at once than slots), the call is let through: a limit protects a
 * provider account, it is not a reason to refuse service.
 */
#ifndef CE_RATE_H
#define CE_RATE_H

#include <apr_time.h>

#define CE_RATE_SLOTS 65536
#define CE_RATE_PROBES 16

typedef struct {
    volatile apr_uint64_t slot[CE_RATE_SLOTS];
} ce_rate_table_t;

/* Counts a call of instance id at now: 1 when it is within limit calls per
 * period seconds (period 1..65535; limit 0 allows none), else 0 with
 * *pretry the seconds until its window ends (at least 1). */
int ce_rate_take(ce_rate_table_t *t, apr_int64_t id, apr_uint32_t limit, apr_uint32_t period,
                 apr_time_t now, apr_uint32_t *pretry);

#endif
