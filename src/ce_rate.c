/* ce_rate: lock-free fixed-window counters per instance (see ce_rate.h). */
#include <apr_atomic.h>

#include "ce_rate.h"

/* A slot: tag (24 bits, never 0) | window (16 bits) | count (24 bits). */
#define TAG(w) ((apr_uint32_t)((w) >> 40))
#define WINDOW(w) ((apr_uint32_t)(((w) >> 24) & 0xffff))
#define COUNT(w) ((apr_uint32_t)((w)&0xffffff))
#define SLOT(tag, window, count)                                                                   \
    (((apr_uint64_t)(tag) << 40) | ((apr_uint64_t)((window)&0xffff) << 24) | (apr_uint64_t)(count))
#define COUNT_MAX 0xffffff

/* splitmix64's finalizer: ids next to each other land far apart. */
static apr_uint64_t mix(apr_uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* One slot: 1 counted (within or *pover), 0 not this instance's. */
static int try_slot(volatile apr_uint64_t *s, apr_uint32_t tag, apr_uint32_t window,
                    apr_uint32_t limit, int *pover)
{
    for (;;) {
        apr_uint64_t old = apr_atomic_read64(s), now;

        if (old && WINDOW(old) == window && TAG(old) != tag) {
            return 0; /* another instance's, in use */
        }
        if (old && WINDOW(old) == window) {
            if (COUNT(old) >= limit) {
                *pover = 1;
                return 1;
            }
            now = SLOT(tag, window, COUNT(old) + 1 > COUNT_MAX ? COUNT_MAX : COUNT(old) + 1);
        } else {
            now = SLOT(tag, window, 1); /* free, or its window is over */
        }
        if (apr_atomic_cas64(s, now, old) == old) {
            return 1;
        }
    }
}

int ce_rate_take(ce_rate_table_t *t, apr_int64_t id, apr_uint32_t limit, apr_uint32_t period,
                 apr_time_t now, apr_uint32_t *pretry)
{
    apr_uint64_t h = mix((apr_uint64_t)id);
    apr_uint32_t tag = (apr_uint32_t)(h >> 40) | 1, secs, window;
    apr_size_t first = (apr_size_t)(h % CE_RATE_SLOTS), i;
    int over = 0;

    period = period ? period : 1;
    secs = (apr_uint32_t)apr_time_sec(now);
    window = (secs / period) & 0xffff;
    for (i = 0; limit && i < CE_RATE_PROBES; i++) {
        if (try_slot(&t->slot[(first + i) % CE_RATE_SLOTS], tag, window, limit, &over)) {
            break;
        }
    }
    if (limit && !over) {
        return 1;
    }
    *pretry = period - secs % period;
    return 0;
}
