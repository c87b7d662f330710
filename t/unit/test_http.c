/* Unit tests of ce_http's libcurl transport against a small scripted
 * server on loopback (one thread, one connection per test): what is sent,
 * what is read back, and every way a request is refused or fails. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "unit.h"
#include "ce_http.h"

/* The scripted server: accepts once, reads the request, answers reply
 * (or nothing, after hold_ms), and keeps what it read. */
typedef struct {
    int fd, port, accepted;
    const char *reply;
    apr_size_t reply_len;
    int hold_ms;
    char got[8192];
    pthread_t thread;
} server_t;

static void *serve(void *arg)
{
    server_t *sv = arg;
    int c = accept(sv->fd, NULL, NULL);
    size_t n = 0;
    ssize_t r;

    if (c < 0)
        return NULL;
    sv->accepted = 1;
    while (n < sizeof(sv->got) - 1 && (r = read(c, sv->got + n, sizeof(sv->got) - 1 - n)) > 0) {
        n += (size_t)r;
        sv->got[n] = '\0';
        if (strstr(sv->got, "\r\n\r\n") &&
            (!strstr(sv->got, "Content-Length") || strstr(sv->got, "grant_type")))
            break;
    }
    if (sv->hold_ms)
        usleep((useconds_t)sv->hold_ms * 1000);
    else if (write(c, sv->reply, sv->reply_len) < 0)
        sv->accepted = 2;
    close(c);
    return NULL;
}

static server_t *server_start(const char *reply, apr_size_t len, int hold_ms)
{
    server_t *sv = apr_pcalloc(pool, sizeof(*sv));
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sv->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(sv->fd, 0);
    ck_assert_int_eq(bind(sv->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(sv->fd, 4), 0);
    ck_assert_int_eq(getsockname(sv->fd, (struct sockaddr *)&a, &alen), 0);
    sv->port = ntohs(a.sin_port);
    sv->reply = reply;
    sv->reply_len = len;
    sv->hold_ms = hold_ms;
    ck_assert_int_eq(pthread_create(&sv->thread, NULL, serve, sv), 0);
    return sv;
}

/* Stops the server (a connect unblocks an accept that never came). */
static void server_stop(server_t *sv)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int c = socket(AF_INET, SOCK_STREAM, 0);
    int accepted = sv->accepted;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)sv->port);
    if (!accepted)
        (void)connect(c, (struct sockaddr *)&a, sizeof(a));
    close(c);
    pthread_join(sv->thread, NULL);
    close(sv->fd);
    sv->accepted = accepted;
}

static ce_http_t *transport(const char *allow, apr_interval_time_t timeout)
{
    apr_array_header_t *a = apr_array_make(pool, 1, sizeof(const char *));
    ce_outbound_t *o = NULL;
    const char *err = NULL;

    if (allow)
        APR_ARRAY_PUSH(a, const char *) = allow;
    ck_assert_int_eq(ce_outbound_make(&o, pool, a, &err), APR_SUCCESS);
    return ce_http_curl_make(pool, o, timeout);
}

static apr_status_t post(ce_http_t *h, const char *url, ce_http_response_t *rs, const char **perr)
{
    ce_http_request_t rq = {.method = "POST",
                            .url = url,
                            .content_type = "application/x-www-form-urlencoded",
                            .body = "grant_type=refresh_token&refresh_token=R",
                            .accept = "application/json"};

    rq.body_len = strlen(rq.body);
    return ce_http_perform(h, pool, &rq, rs, perr);
}

#define OK_REPLY                                                                                   \
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n"                  \
    "Connection: close\r\n\r\n{\"access_token\":\"A\"}"

START_TEST(post_and_answer)
{
    server_t *sv = server_start(OK_REPLY, strlen(OK_REPLY), 0);
    ce_http_response_t rs;
    const char *err = NULL;
    apr_status_t rv = post(transport("127.0.0.1", apr_time_from_sec(5)),
                           apr_psprintf(pool, "http://127.0.0.1:%d/token", sv->port), &rs, &err);

    server_stop(sv);
    ck_assert_msg(rv == APR_SUCCESS, "%s", err ? err : "");
    ck_assert_int_eq(rs.status, 200);
    ck_assert_str_eq(rs.body, "{\"access_token\":\"A\"}");
    ck_assert_uint_eq(rs.len, 20);
    ck_assert_str_eq(rs.content_type, "application/json");
    ck_assert_ptr_nonnull(strstr(sv->got, "POST /token HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(sv->got, "Content-Type: application/x-www-form-urlencoded\r\n"));
    ck_assert_ptr_nonnull(strstr(sv->got, "Accept: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(sv->got, "\r\n\r\ngrant_type=refresh_token&refresh_token=R"));
}
END_TEST

/* Without CEInstancesOutboundAllow, loopback is refused before a byte is
 * sent: by address for http and for https, by name too (localhost). */
START_TEST(guard_refuses)
{
    server_t *sv = server_start(OK_REPLY, strlen(OK_REPLY), 0);
    ce_http_t *h = transport(NULL, apr_time_from_sec(5));
    const char *const urls[] = {"http://127.0.0.1", "https://127.0.0.1", "https://localhost", NULL};
    const char *const *u;

    for (u = urls; *u; u++) {
        ce_http_response_t rs;
        const char *err = NULL;
        apr_status_t rv = post(h, apr_psprintf(pool, "%s:%d/token", *u, sv->port), &rs, &err);

        ck_assert_msg(rv == CE_HTTP_REFUSED, "%s: %d %s", *u, rv, err ? err : "");
        ck_assert_ptr_nonnull(strstr(err, "refused"));
        ck_assert_ptr_null(strstr(err, "refresh_token"));
    }
    ck_assert_int_eq(post(h, "ftp://127.0.0.1/x", &(ce_http_response_t){0}, &(const char *){0}),
                     CE_HTTP_REFUSED);
    server_stop(sv);
    ck_assert_int_eq(sv->accepted, 0);
}
END_TEST

/* A redirect is an answer, never followed. */
START_TEST(redirect_not_followed)
{
    static const char r[] = "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest\r\n"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n";
    server_t *sv = server_start(r, strlen(r), 0);
    ce_http_response_t rs;
    const char *err = NULL;
    apr_status_t rv = post(transport("127.0.0.1/32", apr_time_from_sec(5)),
                           apr_psprintf(pool, "http://127.0.0.1:%d/t", sv->port), &rs, &err);

    server_stop(sv);
    ck_assert_msg(rv == APR_SUCCESS, "%s", err ? err : "");
    ck_assert_int_eq(rs.status, 302);
    ck_assert_uint_eq(rs.len, 0);
}
END_TEST

START_TEST(answer_too_large)
{
    apr_size_t n = CE_HTTP_BODY_MAX + 100;
    char *r = apr_palloc(pool, n + 200);
    int hl = snprintf(r, 200, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", (size_t)n);
    server_t *sv;
    ce_http_response_t rs;
    const char *err = NULL;
    apr_status_t rv;

    memset(r + hl, 'a', n);
    sv = server_start(r, (apr_size_t)hl + n, 0);
    rv = post(transport("127.0.0.1", apr_time_from_sec(5)),
              apr_psprintf(pool, "http://127.0.0.1:%d/t", sv->port), &rs, &err);
    server_stop(sv);
    ck_assert_int_eq(rv, CE_HTTP_UNREACHABLE);
    ck_assert_ptr_nonnull(strstr(err, "larger than"));
}
END_TEST

/* A peer that never answers costs the timeout, not more. */
START_TEST(timeout_bounds)
{
    server_t *sv = server_start(NULL, 0, 3000);
    ce_http_response_t rs;
    const char *err = NULL;
    apr_time_t t0 = apr_time_now();
    apr_status_t rv = post(transport("127.0.0.1", apr_time_from_msec(300)),
                           apr_psprintf(pool, "http://127.0.0.1:%d/t", sv->port), &rs, &err);
    apr_interval_time_t took = apr_time_now() - t0;

    ck_assert_int_eq(rv, CE_HTTP_UNREACHABLE);
    ck_assert_msg(took < apr_time_from_msec(2000), "took %ld ms", (long)apr_time_as_msec(took));
    ck_assert_ptr_nonnull(strstr(err, "127.0.0.1"));
    server_stop(sv);
}
END_TEST

/* Nothing listening: unreachable, saying where. */
START_TEST(connection_refused)
{
    server_t *sv = server_start(OK_REPLY, strlen(OK_REPLY), 0);
    int port = sv->port;
    ce_http_response_t rs;
    const char *err = NULL;

    server_stop(sv);
    ck_assert_int_eq(post(transport("127.0.0.0/8", apr_time_from_sec(5)),
                          apr_psprintf(pool, "http://127.0.0.1:%d/t", port), &rs, &err),
                     CE_HTTP_UNREACHABLE);
    ck_assert_ptr_nonnull(strstr(err, "no answer from 127.0.0.1"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = UNIT_CASE("curl");
    const char *err = NULL;

    if (ce_http_curl_global_init(&err) != APR_SUCCESS)
        return EXIT_FAILURE;
    UNIT_FIXTURE(tc);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, post_and_answer);
    tcase_add_test(tc, guard_refuses);
    tcase_add_test(tc, redirect_not_followed);
    tcase_add_test(tc, answer_too_large);
    tcase_add_test(tc, timeout_bounds);
    tcase_add_test(tc, connection_refused);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
