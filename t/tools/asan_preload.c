/* asan_preload: the LD_PRELOAD library of the ASan run of the Apache::Test
 * suite (scripts/asan.sh, `make test-asan`). Built without sanitizers.
 *
 * 0. Only httpd and ceadmin run under ASan. The harness and everything it
 *    starts get this library alone (CE_TEST_PRELOAD); in a program named in
 *    CE_ASAN_PROGRAMS (default "apache2 httpd ceadmin") its constructor
 *    re-executes the program at once with LD_PRELOAD=$CE_ASAN_PRELOAD
 *    (the ASan runtime first, then this library), and sets LD_PRELOAD back to this
 *    library alone for what that program starts; under ASan it appends
 *    "<program> <pid>" to the file CE_ASAN_MARK, if set, so the run can
 *    tell that its servers were checked at all. The tests start
 *    /usr/sbin/apache2 themselves, so the environment is the only way in;
 *    the runtime preloaded into every process instead made perl ten times
 *    slower and hung libcurl's programs (curl, build/ceload) at exit, in
 *    p11-kit's destructor, even with gcc's libasan alone preloaded.
 *
 * In a process under ASan, so that LeakSanitizer's verdicts mean something:
 *
 * 1. APR pool memory is scanned. Debian's libapr takes its allocator blocks
 *    from mmap (APR_ALLOCATOR_USES_MMAP), which LeakSanitizer does not scan:
 *    anything malloc'd (jansson values, SQLite handles, ...) that only a
 *    live pool points to looks leaked. httpd children exit without
 *    destroying pconf, so every child reported the catalog, for one. Each
 *    private anonymous read-write mapping made through mmap() is therefore
 *    registered as a root region (__lsan_register_root_region) until it is
 *    unmapped. A leak is then what it is with a malloc-backed APR: memory
 *    nothing points to any more. (Blocks APR keeps for reuse after a pool
 *    is destroyed stay registered, so a pointer left in one still counts.)
 * 2. mod_ceinstances.so is never unloaded (dlclose of it does nothing): the
 *    parent unloads its modules before it exits, and a leak allocated in an
 *    unloaded module is reported as "<unknown module>". Kept mapped, its
 *    frames name our functions. Only ours: httpd's own modules keep state in
 *    statics that a reload must reset (mod_mpm_event stops serving when it
 *    is not unloaded between the two configuration passes). CE_ASAN_KEEP
 *    names another file name suffix; CE_ASAN_KEEP= (empty) keeps none.
 *
 * The ASan runtime (clang's libclang_rt.asan, or gcc's libasan) comes first
 * in LD_PRELOAD and intercepts mmap and dlclose itself;
 * its interceptors call the next definition, which is this one; ours call
 * libc's (RTLD_NEXT).
 *
 * Calls made by the runtime itself (its symbolizer maps memory while the leak
 * check holds the lock that registering takes) are only forwarded: a call
 * is tracked when it comes through the runtime's mmap interceptor (the program's
 * own mmap calls) or from outside the runtime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Weak: without the ASan runtime these stay NULL and nothing is registered. */
void __lsan_register_root_region(const void *p, size_t size) __attribute__((weak));
void __lsan_unregister_root_region(const void *p, size_t size) __attribute__((weak));

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_fn)(void *, size_t);
typedef int (*dlclose_fn)(void *);

static mmap_fn real_mmap;
static munmap_fn real_munmap;
static dlclose_fn real_dlclose;
static const char *keep = "/mod_ceinstances.so";
/* The ASan runtime's load address and its mmap/munmap interceptors. */
static void *asan_base;
static void *asan_entries[4];

/* The registered regions: an open-addressing table keyed by start address,
 * its storage mapped with real_mmap (never registered itself). */
typedef struct {
    uintptr_t start; /* 0: free, 1: deleted */
    size_t len;
} region_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static region_t *table;
static size_t cap, used, live;

static void resolve(void)
{
    const char *e = getenv("CE_ASAN_KEEP");

    real_mmap = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
    real_munmap = (munmap_fn)dlsym(RTLD_NEXT, "munmap");
    real_dlclose = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
    if (e) {
        keep = e;
    }
}

/* Whether exe's file name is one of CE_ASAN_PROGRAMS (space-separated). */
static int is_target(const char *exe)
{
    const char *list = getenv("CE_ASAN_PROGRAMS"), *base = strrchr(exe, '/');
    size_t n;

    list = list ? list : "apache2 httpd ceadmin";
    base = base ? base + 1 : exe;
    n = strlen(base);
    while (*list) {
        size_t len = strcspn(list, " ");

        if (len == n && strncmp(list, base, n) == 0) {
            return 1;
        }
        list += len;
        list += strspn(list, " ");
    }
    return 0;
}

/* Appends "<exe> <pid>" to $CE_ASAN_MARK (one write: lines do not mix). */
static void mark(const char *exe)
{
    const char *path = getenv("CE_ASAN_MARK");
    char line[4200];
    int fd, n;

    if (!path || !*path || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0666)) < 0) {
        return;
    }
    n = snprintf(line, sizeof(line), "%s %ld\n", exe, (long)getpid());
    if (n > 0 && (size_t)n < sizeof(line) && write(fd, line, (size_t)n) < 0) {
        /* nothing to do: the run then counts one server less */
    }
    close(fd);
}

/* Part 0 (see the top): returns only when this process stays as it is. */
static void select_asan(char **argv)
{
    const char *full = getenv("CE_ASAN_PRELOAD"), *self = getenv("CE_TEST_PRELOAD");
    const char *now = getenv("LD_PRELOAD");
    char exe[4096];
    ssize_t n;

    if (!full || !*full || !argv || !argv[0]) {
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return;
    }
    exe[n] = '\0';
    if (is_target(exe) && !(now && strcmp(now, full) == 0)) {
        if (setenv("LD_PRELOAD", full, 1) == 0) {
            execv(exe, argv);
        }
        return; /* could not: runs without ASan, and leaves no mark */
    }
    if (is_target(exe) && __lsan_register_root_region) {
        mark(exe);
    }
    if (self && *self) {
        setenv("LD_PRELOAD", self, 1); /* for what this process starts */
    }
}

/* glibc passes main's arguments to ELF constructors. */
__attribute__((constructor)) static void init(int argc, char **argv, char **envp)
{
    static const char *const names[] = {"mmap", "mmap64", "munmap", "__interceptor_munmap"};
    Dl_info info;
    int i;

    (void)argc;
    (void)envp;
    resolve();
    select_asan(argv);
    if (!__lsan_register_root_region || !dladdr((void *)__lsan_register_root_region, &info)) {
        return;
    }
    asan_base = info.dli_fbase;
    for (i = 0; i < 4; i++) {
        asan_entries[i] = dlsym(RTLD_DEFAULT, names[i]);
    }
}

/* Whether the call that returns to ret is the runtime's own (not an interceptor
 * forwarding the program's call): those are only forwarded. */
static int from_sanitizer(void *ret)
{
    Dl_info info;
    int i;

    if (!asan_base || !dladdr(ret, &info) || info.dli_fbase != asan_base) {
        return 0;
    }
    for (i = 0; i < 4; i++) {
        if (info.dli_saddr && info.dli_saddr == asan_entries[i]) {
            return 0;
        }
    }
    return 1;
}

static size_t slot_of(uintptr_t start)
{
    return (size_t)((start >> 12) * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static void put(uintptr_t start, size_t len);

/* Doubles the table (or makes the first one); 0 when out of memory. */
static int grow(void)
{
    region_t *old = table;
    size_t old_cap = cap, i;
    size_t new_cap = cap ? cap * 2 : 4096;
    void *mem = real_mmap(NULL, new_cap * sizeof(region_t), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (mem == MAP_FAILED) {
        return 0;
    }
    table = mem;
    cap = new_cap;
    used = live = 0;
    for (i = 0; i < old_cap; i++) {
        if (old[i].start > 1) {
            put(old[i].start, old[i].len);
        }
    }
    if (old) {
        real_munmap(old, old_cap * sizeof(region_t));
    }
    return 1;
}

static void put(uintptr_t start, size_t len)
{
    size_t i;

    if ((used + 1) * 2 > cap && !grow()) {
        return;
    }
    for (i = slot_of(start); table[i].start > 1; i = (i + 1) & (cap - 1)) {
    }
    used += table[i].start == 0;
    live++;
    table[i].start = start;
    table[i].len = len;
    __lsan_register_root_region((void *)start, len);
}

static void drop(size_t i)
{
    __lsan_unregister_root_region((void *)table[i].start, table[i].len);
    table[i].start = 1;
    live--;
}

/* Forgets every region [addr, addr + len) touches; what remains mapped of a
 * region cut in part is registered again. */
static void forget(uintptr_t addr, size_t len)
{
    size_t i;

    if (!live) {
        return;
    }
    /* The usual case: APR unmapping one whole block it mapped. */
    for (i = slot_of(addr); table[i].start != 0; i = (i + 1) & (cap - 1)) {
        if (table[i].start == addr && table[i].len == len) {
            drop(i);
            return;
        }
    }
    for (i = 0; i < cap; i++) {
        uintptr_t s = table[i].start, e = s + table[i].len;

        if (s > 1 && s < addr + len && addr < e) {
            drop(i);
            if (s < addr) {
                put(s, addr - s);
            }
            if (addr + len < e) {
                put(addr + len, e - (addr + len));
            }
        }
    }
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *p;

    if (!real_mmap) {
        resolve();
    }
    p = real_mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && __lsan_register_root_region && (flags & MAP_ANONYMOUS) &&
        (flags & MAP_PRIVATE) && (prot & PROT_READ) && (prot & PROT_WRITE) &&
        !from_sanitizer(__builtin_return_address(0))) {
        pthread_mutex_lock(&lock);
        forget((uintptr_t)p, len); /* MAP_FIXED over a region we had */
        put((uintptr_t)p, len);
        pthread_mutex_unlock(&lock);
    }
    return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

int munmap(void *addr, size_t len)
{
    if (!real_munmap) {
        resolve();
    }
    if (__lsan_unregister_root_region && !from_sanitizer(__builtin_return_address(0))) {
        pthread_mutex_lock(&lock);
        forget((uintptr_t)addr, len);
        pthread_mutex_unlock(&lock);
    }
    return real_munmap(addr, len);
}

/* Whether the object behind handle is the module kept loaded. */
static int kept(void *handle)
{
    struct link_map *map = NULL;
    size_t n = strlen(keep), len;

    if (!n || dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || !map || !map->l_name) {
        return 0;
    }
    len = strlen(map->l_name);
    return len >= n && strcmp(map->l_name + len - n, keep) == 0;
}

int dlclose(void *handle)
{
    if (!real_dlclose) {
        resolve();
    }
    return kept(handle) ? 0 : real_dlclose(handle);
}
