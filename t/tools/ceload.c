/* ceload: load generator for the Instances API (crash, soak and multi-node tests).
 *
 * Keeps exactly --clients requests in flight over libcurl's multi interface
 * (one keep-alive HTTP/1.1 connection each, spread round-robin over the
 * --url nodes) until --creates creates and their share of reads, updates,
 * deletes and lists (--mix) are done, or --seconds have passed.
 *
 * Every state change the server acknowledges (200) is written to --out as
 * one line, flushed at once, so that the file is complete whatever happens
 * to the server:
 *     create <id> <token> <name>
 *     update <id> <name>
 *     delete <id>
 * Updates and deletes of one instance are never in flight together, so for
 * each instance the file's order is the order in which the server applied
 * them. A change that got no answer (transport error, 5xx) may or may not
 * have been applied; it is not written.
 *
 * At the end one JSON object with the counts is printed on stdout. Exit
 * status: 0 the run completed (whatever the server answered), 1 the tool
 * itself failed, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#define EXIT_USAGE 2
#define MAX_URLS 64
#define MAX_STATUS 1000
#define NAME_LEN 64
/* One operation in this many is a list GET. */
#define LIST_EVERY 50

static const char usage_text[] =
    "Usage: ceload --url BASE [--url BASE2 ...] --auth \"User X, Organization Y\" [OPTIONS]\n"
    "\n"
    "  --url BASE       API base, e.g. http://127.0.0.1:8529/elements/api-v2; repeat for\n"
    "                   several nodes (requests go round-robin over them)\n"
    "  --auth VALUE     the Authorization header value\n"
    "  --clients N      requests kept in flight, one keep-alive connection each (64)\n"
    "  --creates N      creates to perform (20000)\n"
    "  --mix R,U,D      reads, updates, deletes per create, on average (1,0.5,0.25);\n"
    "                   they pick instances this run created; 1 op in 50 is a list\n"
    "  --seconds S      stop issuing requests after S seconds (in-flight ones finish)\n"
    "  --out FILE       one flushed line per acknowledged change:\n"
    "                   create ID TOKEN NAME | update ID NAME | delete ID\n"
    "  --timeout S      per-request timeout in seconds (30)\n"
    "\n"
    "Prints one JSON object of counts on stdout. Exit status 0 when the run\n"
    "completed (the caller judges the counts), 1 on an internal failure, 2 on bad usage.\n";

typedef enum { OP_CREATE, OP_READ, OP_UPDATE, OP_DELETE, OP_LIST, OP_COUNT } op_t;

static const char *const op_method[OP_COUNT] = {"POST", "GET", "PATCH", "DELETE", "GET"};

/* An instance this run created. */
typedef struct {
    int64_t id;
    long idle_pos;          /* index in ld->idle; -1 while updated/deleted or once deleted */
    unsigned deleted : 1;   /* a delete was answered 200 or 404 */
    unsigned del_tried : 1; /* a delete was ever sent */
} inst_t;

/* One client: an easy handle and the request it is running. */
typedef struct {
    CURL *easy;
    op_t op;
    long inst; /* index in ld->inst, or -1 */
    char name[NAME_LEN];
    char url[512];
    char *buf; /* response body */
    size_t len, cap;
    int retried; /* sent again after its kept-alive connection was found closed */
} slot_t;

/* Open-addressing hash sets: instance ids and tokens seen in create answers. */
typedef struct {
    int64_t *keys;
    unsigned char *used;
    size_t cap, n;
} idset_t;

typedef struct {
    char **keys;
    size_t cap, n;
} strset_t;

typedef struct {
    /* options */
    const char *urls[MAX_URLS];
    int nurls;
    const char *auth;
    long clients;
    long creates;
    double mix[3];
    double seconds;
    const char *out_path;
    long timeout;

    /* run state */
    CURLM *multi;
    struct curl_slist *hdr_get, *hdr_body;
    slot_t *slots;
    long *free_slots, nfree;
    FILE *out;
    long left[OP_COUNT]; /* operations still to issue */
    unsigned long next_url;
    unsigned long next_name;
    uint64_t rng;
    double t0;

    inst_t *inst;
    long ninst, cap_inst;
    long *idle; /* indexes of instances neither deleted nor being updated/deleted */
    long nidle, cap_idle;

    idset_t ids;
    strset_t tokens;

    /* counts */
    long requests, ok[OP_COUNT], status[MAX_STATUS], errors5xx, transport_errors;
    long dup_ids, dup_tokens, bad_answers, unexpected_404, skipped, retries;
} ld_t;

static volatile sig_atomic_t interrupted;

/* ---- small helpers -------------------------------------------------------- */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fputs("ceload: out of memory\n", stderr);
        exit(1);
    }
    return q;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fputs("ceload: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: good enough to spread operations, no global state. */
static uint64_t rnd(ld_t *ld)
{
    ld->rng ^= ld->rng >> 12;
    ld->rng ^= ld->rng << 25;
    ld->rng ^= ld->rng >> 27;
    return ld->rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return mix64(h);
}

/* ---- hash sets -------------------------------------------------------------- */

/* Adds id; returns 0 if it was already there. */
static int idset_add(idset_t *s, int64_t id)
{
    if ((s->n + 1) * 2 > s->cap) {
        idset_t g = {NULL, NULL, s->cap ? s->cap * 2 : 1024, 0};
        g.keys = xcalloc(g.cap, sizeof(*g.keys));
        g.used = xcalloc(g.cap, 1);
        for (size_t i = 0; i < s->cap; i++)
            if (s->used[i])
                idset_add(&g, s->keys[i]);
        free(s->keys);
        free(s->used);
        *s = g;
    }
    size_t i = mix64((uint64_t)id) & (s->cap - 1);
    for (; s->used[i]; i = (i + 1) & (s->cap - 1))
        if (s->keys[i] == id)
            return 0;
    s->used[i] = 1;
    s->keys[i] = id;
    s->n++;
    return 1;
}

/* Adds a copy of str; returns 0 if it was already there. */
static int strset_add(strset_t *s, const char *str)
{
    if ((s->n + 1) * 2 > s->cap) {
        strset_t g = {NULL, s->cap ? s->cap * 2 : 1024, 0};
        g.keys = xcalloc(g.cap, sizeof(*g.keys));
        for (size_t i = 0; i < s->cap; i++) {
            if (s->keys[i]) {
                size_t j = hash_str(s->keys[i]) & (g.cap - 1);
                while (g.keys[j])
                    j = (j + 1) & (g.cap - 1);
                g.keys[j] = s->keys[i];
                g.n++;
            }
        }
        free(s->keys);
        *s = g;
    }
    size_t i = hash_str(str) & (s->cap - 1);
    for (; s->keys[i]; i = (i + 1) & (s->cap - 1))
        if (strcmp(s->keys[i], str) == 0)
            return 0;
    size_t n = strlen(str) + 1;
    s->keys[i] = memcpy(xrealloc(NULL, n), str, n);
    s->n++;
    return 1;
}

static void strset_free(strset_t *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
}

/* ---- instances ------------------------------------------------------------ */

static void idle_push(ld_t *ld, long i)
{
    if (ld->nidle == ld->cap_idle) {
        ld->cap_idle = ld->cap_idle ? ld->cap_idle * 2 : 1024;
        ld->idle = xrealloc(ld->idle, (size_t)ld->cap_idle * sizeof(*ld->idle));
    }
    ld->inst[i].idle_pos = ld->nidle;
    ld->idle[ld->nidle++] = i;
}

/* Takes a random idle instance out of the idle set (so that no other update
 * or delete of it starts); -1 if there is none. */
static long idle_take(ld_t *ld)
{
    if (ld->nidle == 0)
        return -1;
    long pos = (long)(rnd(ld) % (uint64_t)ld->nidle);
    long i = ld->idle[pos];
    long last = ld->idle[--ld->nidle];
    ld->idle[pos] = last;
    ld->inst[last].idle_pos = pos;
    ld->inst[i].idle_pos = -1;
    return i;
}

static long inst_add(ld_t *ld, int64_t id)
{
    if (ld->ninst == ld->cap_inst) {
        ld->cap_inst = ld->cap_inst ? ld->cap_inst * 2 : 1024;
        ld->inst = xrealloc(ld->inst, (size_t)ld->cap_inst * sizeof(*ld->inst));
    }
    long i = ld->ninst++;
    ld->inst[i] = (inst_t){.id = id, .idle_pos = -1};
    idle_push(ld, i);
    return i;
}

/* A random instance not known to be deleted, for a read (it may be being
 * updated or deleted: that is part of the test); -1 if there is none. */
static long inst_pick_any(ld_t *ld)
{
    for (int tries = 0; ld->ninst > 0 && tries < 8; tries++) {
        long i = (long)(rnd(ld) % (uint64_t)ld->ninst);
        if (!ld->inst[i].deleted)
            return i;
    }
    return ld->nidle ? ld->idle[rnd(ld) % (uint64_t)ld->nidle] : -1;
}

/* ---- requests ----------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    slot_t *s = userdata;
    size_t len = size * n;
    if (s->len + len + 1 > s->cap) {
        while (s->len + len + 1 > s->cap)
            s->cap = s->cap ? s->cap * 2 : 4096;
        s->buf = xrealloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return len;
}

/* Draws the next operation, each kind weighted by how many are left, so the
 * kinds stay mixed over the whole run; OP_COUNT when all are done. */
static op_t draw_op(ld_t *ld)
{
    long total = 0;
    for (int k = 0; k < OP_COUNT; k++)
        total += ld->left[k];
    if (total == 0)
        return OP_COUNT;
    long r = (long)(rnd(ld) % (uint64_t)total);
    for (int k = 0; k < OP_COUNT; k++) {
        if (r < ld->left[k])
            return (op_t)k;
        r -= ld->left[k];
    }
    return OP_COUNT;
}

/* Chooses the next operation and its instance. An operation that needs an
 * instance when none is free becomes a create while creates are left (its
 * own stays to do); otherwise it is skipped. Returns 0 when no work is left. */
static int next_op(ld_t *ld, op_t *op, long *inst)
{
    for (;;) {
        *op = draw_op(ld);
        *inst = -1;
        if (*op == OP_COUNT)
            return 0;
        if (*op == OP_READ)
            *inst = inst_pick_any(ld);
        else if (*op == OP_UPDATE || *op == OP_DELETE)
            *inst = idle_take(ld);
        if (*inst >= 0 || *op == OP_CREATE || *op == OP_LIST) {
            ld->left[*op]--;
            return 1;
        }
        if (ld->left[OP_CREATE] > 0) {
            *op = OP_CREATE;
            ld->left[OP_CREATE]--;
            return 1;
        }
        ld->left[*op]--;
        ld->skipped++;
    }
}

static void set_url(ld_t *ld, slot_t *s, const char *path)
{
    const char *base = ld->urls[ld->next_url++ % (unsigned long)ld->nurls];
    snprintf(s->url, sizeof(s->url), "%s%s", base, path);
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
}

/* Starts the next operation on free slot s; 0 when no work is left. */
static int start_one(ld_t *ld, slot_t *s)
{
    op_t op;
    long inst;
    if (!next_op(ld, &op, &inst))
        return 0;
    CURL *e = s->easy;
    char path[128], body[512];
    curl_easy_reset(e);
    s->op = op;
    s->inst = inst;
    s->len = 0;
    s->retried = 0;
    s->name[0] = '\0';
    if (op == OP_CREATE || op == OP_UPDATE)
        snprintf(s->name, sizeof(s->name), "load-%ld-%lu", (long)getpid(), ++ld->next_name);
    int64_t id = inst >= 0 ? ld->inst[inst].id : 0;
    switch (op) {
        case OP_CREATE:
            set_url(ld, s, "/instances");
            snprintf(body, sizeof(body),
                     "{\"element\":{\"key\":\"jira\"},\"name\":\"%s\","
                     "\"tags\":[\"load\",\"run-%ld\"],"
                     "\"configuration\":{\"jira.username\":\"u\",\"jira.password\":\"p\","
                     "\"jira.api.url\":\"https://jira.example.com\"}}",
                     s->name, (long)getpid());
            curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
            break;
        case OP_UPDATE:
            snprintf(path, sizeof(path), "/instances/%" PRId64, id);
            set_url(ld, s, path);
            snprintf(body, sizeof(body), "{\"name\":\"%s\"}", s->name);
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PATCH");
            curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
            break;
        case OP_DELETE:
            ld->inst[inst].del_tried = 1;
            snprintf(path, sizeof(path), "/instances/%" PRId64, id);
            set_url(ld, s, path);
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
            break;
        case OP_READ:
            snprintf(path, sizeof(path), "/instances/%" PRId64, id);
            set_url(ld, s, path);
            break;
        default:
            set_url(ld, s, "/instances?pageSize=20");
            break;
    }
    int has_body = op == OP_CREATE || op == OP_UPDATE;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, has_body ? ld->hdr_body : ld->hdr_get);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ld->timeout * 1000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_multi_add_handle(ld->multi, e);
    ld->requests++;
    return 1;
}

/* ---- answers ------------------------------------------------------------- */

static void out_line(ld_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_line(ld_t *ld, const char *fmt, ...)
{
    if (!ld->out)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(ld->out, fmt, ap);
    va_end(ap);
    fflush(ld->out);
}

static void create_done(ld_t *ld, slot_t *s)
{
    json_t *j = json_loadb(s->buf ? s->buf : "", s->len, 0, NULL);
    json_t *jid = json_object_get(j, "id");
    const char *token = json_string_value(json_object_get(j, "token"));
    if (!json_is_integer(jid) || !token || !*token || strpbrk(token, " \t\r\n")) {
        ld->bad_answers++;
        json_decref(j);
        return;
    }
    int64_t id = (int64_t)json_integer_value(jid);
    ld->ok[OP_CREATE]++;
    out_line(ld, "create %" PRId64 " %s %s\n", id, token, s->name);
    if (!strset_add(&ld->tokens, token))
        ld->dup_tokens++;
    if (idset_add(&ld->ids, id))
        inst_add(ld, id);
    else
        ld->dup_ids++;
    json_decref(j);
}

/* An idle kept-alive connection may be closed by the server at any time
 * (httpd's event MPM closes them all when its workers are busy), so a
 * request written onto one can fail to be sent. Nothing of it reached the
 * server, so sending it again, once, on a fresh connection is safe for
 * every method. Returns 1 if s was sent again. */
static int retry_stale(ld_t *ld, slot_t *s, CURLcode rc)
{
    long connects = 1;
    if (rc != CURLE_SEND_ERROR || s->retried)
        return 0;
    curl_easy_getinfo(s->easy, CURLINFO_NUM_CONNECTS, &connects);
    if (connects != 0)
        return 0;
    s->retried = 1;
    s->len = 0;
    ld->retries++;
    curl_easy_setopt(s->easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_multi_add_handle(ld->multi, s->easy);
    return 1;
}

/* Accounts for the answer (or its absence) to slot s's request; 0 when s
 * is free again, 1 when its request was sent again. */
static int finish_one(ld_t *ld, slot_t *s, CURLcode rc)
{
    long code = 0;
    if (retry_stale(ld, s, rc))
        return 1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code <= 0 || code >= MAX_STATUS) {
        /* The first few go to stderr: enough to see why, not a flood
         * when a node is down. */
        if (ld->transport_errors++ < 5)
            fprintf(stderr, "ceload: %s %s: %s\n", op_method[s->op], s->url,
                    curl_easy_strerror(rc));
        code = 0;
    } else {
        ld->status[code]++;
        if (code >= 500 && code < 600)
            ld->errors5xx++;
    }
    inst_t *in = s->inst >= 0 ? &ld->inst[s->inst] : NULL;
    if (code == 404 && in && !in->deleted && !in->del_tried)
        ld->unexpected_404++;
    if (code == 200) {
        if (s->op == OP_CREATE) {
            create_done(ld, s);
        } else {
            ld->ok[s->op]++;
            if (s->op == OP_UPDATE)
                out_line(ld, "update %" PRId64 " %s\n", in->id, s->name);
            else if (s->op == OP_DELETE)
                out_line(ld, "delete %" PRId64 "\n", in->id);
        }
    }
    if (s->op == OP_DELETE && (code == 200 || code == 404))
        in->deleted = 1;
    /* An update or delete that ends any other way leaves the instance
     * usable again (a failed delete may be retried by a later one). */
    if ((s->op == OP_UPDATE || s->op == OP_DELETE) && !in->deleted)
        idle_push(ld, s->inst);
    return 0;
}

/* ---- run ------------------------------------------------------------------- */

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int run(ld_t *ld)
{
    long n = ld->clients;
    ld->multi = curl_multi_init();
    if (!ld->multi)
        return -1;
    curl_multi_setopt(ld->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
    curl_multi_setopt(ld->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, n);
    curl_multi_setopt(ld->multi, CURLMOPT_MAXCONNECTS, n);
    curl_multi_setopt(ld->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    ld->slots = xcalloc((size_t)n, sizeof(*ld->slots));
    ld->free_slots = xcalloc((size_t)n, sizeof(*ld->free_slots));
    for (long i = 0; i < n; i++) {
        if (!(ld->slots[i].easy = curl_easy_init()))
            return -1;
        ld->free_slots[ld->nfree++] = n - 1 - i;
    }
    double deadline = ld->seconds > 0 ? ld->t0 + ld->seconds : 0;
    int stopping = 0, more = 1;
    for (;;) {
        if (interrupted || (deadline > 0 && now() >= deadline))
            stopping = 1;
        while (!stopping && more && ld->nfree > 0) {
            slot_t *s = &ld->slots[ld->free_slots[ld->nfree - 1]];
            if (!(more = start_one(ld, s)))
                break;
            ld->nfree--;
        }
        if (ld->nfree == n)
            break;
        int running;
        curl_multi_perform(ld->multi, &running);
        CURLMsg *msg;
        int queued;
        while ((msg = curl_multi_info_read(ld->multi, &queued))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            CURLcode rc = msg->data.result;
            slot_t *s;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
            curl_multi_remove_handle(ld->multi, e);
            if (!finish_one(ld, s, rc))
                ld->free_slots[ld->nfree++] = s - ld->slots;
        }
        /* Refill at once instead of polling with free slots. */
        if (!stopping && more && ld->nfree > 0 && !(deadline > 0 && now() >= deadline))
            continue;
        curl_multi_poll(ld->multi, NULL, 0, 100, NULL);
    }
    return 0;
}

static void print_summary(ld_t *ld, double secs)
{
    printf("{\"requests\":%ld,\"creates_ok\":%ld,\"deletes_ok\":%ld,\"updates_ok\":%ld,"
           "\"reads_ok\":%ld,\"lists_ok\":%ld,\"status\":{",
           ld->requests, ld->ok[OP_CREATE], ld->ok[OP_DELETE], ld->ok[OP_UPDATE], ld->ok[OP_READ],
           ld->ok[OP_LIST]);
    const char *sep = "";
    for (int c = 1; c < MAX_STATUS; c++) {
        if (ld->status[c]) {
            printf("%s\"%d\":%ld", sep, c, ld->status[c]);
            sep = ",";
        }
    }
    printf("},\"errors5xx\":%ld,\"transport_errors\":%ld,\"duplicate_ids\":%ld,"
           "\"duplicate_tokens\":%ld,\"bad_answers\":%ld,\"unexpected_404\":%ld,"
           "\"skipped\":%ld,\"retries\":%ld,\"seconds\":%.3f}\n",
           ld->errors5xx, ld->transport_errors, ld->dup_ids, ld->dup_tokens, ld->bad_answers,
           ld->unexpected_404, ld->skipped, ld->retries, secs);
    fflush(stdout);
}

static void cleanup(ld_t *ld)
{
    for (long i = 0; ld->slots && i < ld->clients; i++) {
        if (ld->slots[i].easy)
            curl_easy_cleanup(ld->slots[i].easy);
        free(ld->slots[i].buf);
    }
    if (ld->multi)
        curl_multi_cleanup(ld->multi);
    curl_slist_free_all(ld->hdr_get);
    curl_slist_free_all(ld->hdr_body);
    free(ld->slots);
    free(ld->free_slots);
    free(ld->inst);
    free(ld->idle);
    free(ld->ids.keys);
    free(ld->ids.used);
    strset_free(&ld->tokens);
}

/* ---- command line ---------------------------------------------------------- */

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "ceload: %s\n", msg);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

static int parse_long(const char *s, long min, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return 0;
    *out = v;
    return 1;
}

static int parse_double(const char *s, double *out, char **rest)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return 0;
    *out = v;
    if (rest)
        *rest = end;
    else if (*end)
        return 0;
    return 1;
}

static int parse_mix(const char *s, double mix[3])
{
    char *p = (char *)s;
    for (int i = 0; i < 3; i++) {
        if (!parse_double(p, &mix[i], &p))
            return 0;
        if (*p != (i < 2 ? ',' : '\0'))
            return 0;
        p++;
    }
    return 1;
}

/* Fills ld from argv; returns 0 or EXIT_USAGE (message printed). */
static int parse_args(ld_t *ld, int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},     {"auth", required_argument, NULL, 'a'},
        {"clients", required_argument, NULL, 'c'}, {"creates", required_argument, NULL, 'n'},
        {"mix", required_argument, NULL, 'm'},     {"seconds", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},     {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'u':
                if (ld->nurls == MAX_URLS)
                    return usage("too many --url");
                ld->urls[ld->nurls++] = optarg;
                break;
            case 'a':
                ld->auth = optarg;
                break;
            case 'c':
                if (!parse_long(optarg, 1, &ld->clients))
                    return usage("--clients wants a positive integer");
                break;
            case 'n':
                if (!parse_long(optarg, 0, &ld->creates))
                    return usage("--creates wants an integer >= 0");
                break;
            case 'm':
                if (!parse_mix(optarg, ld->mix))
                    return usage("--mix wants R,U,D (three numbers >= 0)");
                break;
            case 's':
                if (!parse_double(optarg, &ld->seconds, NULL) || ld->seconds <= 0)
                    return usage("--seconds wants a positive number");
                break;
            case 'o':
                ld->out_path = optarg;
                break;
            case 't':
                if (!parse_long(optarg, 1, &ld->timeout))
                    return usage("--timeout wants a positive integer");
                break;
            case 'h':
                fputs(usage_text, stdout);
                exit(0);
            default:
                return usage(NULL);
        }
    }
    if (optind < argc)
        return usage("unexpected argument");
    if (ld->nurls == 0)
        return usage("--url is required");
    if (!ld->auth || strpbrk(ld->auth, "\r\n"))
        return usage("--auth is required (one line)");
    for (int i = 0; i < ld->nurls; i++)
        if (strlen(ld->urls[i]) > 300)
            return usage("--url too long");
    return 0;
}

static void plan(ld_t *ld)
{
    ld->left[OP_CREATE] = ld->creates;
    ld->left[OP_READ] = lround((double)ld->creates * ld->mix[0]);
    ld->left[OP_UPDATE] = lround((double)ld->creates * ld->mix[1]);
    ld->left[OP_DELETE] = lround((double)ld->creates * ld->mix[2]);
    long others =
        ld->left[OP_CREATE] + ld->left[OP_READ] + ld->left[OP_UPDATE] + ld->left[OP_DELETE];
    ld->left[OP_LIST] = others / (LIST_EVERY - 1);
}

int main(int argc, char **argv)
{
    static ld_t ld = {.clients = 64, .creates = 20000, .mix = {1, 0.5, 0.25}, .timeout = 30};
    int rv = parse_args(&ld, argc, argv);
    if (rv)
        return rv;
    if (ld.out_path && !(ld.out = fopen(ld.out_path, "w"))) {
        fprintf(stderr, "ceload: %s: %s\n", ld.out_path, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("ceload: curl_global_init failed\n", stderr);
        return 1;
    }
    size_t alen = strlen(ld.auth) + sizeof("Authorization: ");
    char *auth = xrealloc(NULL, alen);
    snprintf(auth, alen, "Authorization: %s", ld.auth);
    ld.hdr_get = curl_slist_append(ld.hdr_get, auth);
    ld.hdr_body = curl_slist_append(ld.hdr_body, auth);
    ld.hdr_body = curl_slist_append(ld.hdr_body, "Content-Type: application/json");
    ld.hdr_body = curl_slist_append(ld.hdr_body, "Expect:");
    free(auth);
    plan(&ld);
    ld.t0 = now();
    ld.rng = mix64((uint64_t)getpid() ^ (uint64_t)(ld.t0 * 1e9)) | 1;
    rv = run(&ld) ? 1 : 0;
    if (rv)
        fputs("ceload: could not set up libcurl\n", stderr);
    print_summary(&ld, now() - ld.t0);
    if (ld.out)
        fclose(ld.out);
    cleanup(&ld);
    curl_global_cleanup();
    return rv;
}
