#!/bin/sh
# test.sh: run the Apache::Test suite (t/) against build/mod_ceinstances.so.
#
# Usage: scripts/test.sh [t/TEST arguments, e.g. t/03-create.t -v]
#
# Apache::Test refuses to run as root and then exits 0 having run nothing,
# so this script never trusts an exit code alone: it passes only when the
# harness exited 0 AND printed "Result: PASS" AND no httpd child crashed.
#
# - As a normal user it runs the suite in place.
# - As root it creates (once) the system user $CE_TEST_USER (default cetest),
#   copies the tree (with build/ output, without .git and generated test
#   files) into a fresh mktemp directory that user owns (the checkout may live
#   under /root, which that user cannot read), and runs the suite there as
#   that user.
# Either way the harness output is kept in build/test-apache.log and the
# server's error_log in build/test-apache-error_log; on exit (pass, fail or
# signal) the server is stopped and the temporary copy removed.
#
# The suite runs once per database driver: CE_TEST_DRIVERS (default
# "sqlite3 pgsql"). For pgsql a throwaway PostgreSQL cluster is started as
# the unprivileged user (scripts/pg.sh: initdb in a temp dir, loopback, a
# free port) and stopped on every exit path. Each run keeps its log in
# build/test-apache-<driver>.log and its error_log in
# build/test-apache-error_log-<driver>. APACHE_TEST_* and CE_TEST_*
# variables are passed through to the unprivileged run; CE_TEST_KEEP=1
# keeps the root run's copy; CE_TEST_FAIL_PATTERN adds to the error_log scan
# (a sanitizer run adds its own pattern there); CE_TEST_LOG_DIR puts the logs
# elsewhere than build/.
#
# Hooks for another build of the module (scripts/asan.sh, `make test-asan`):
# CE_TEST_MODULE and CE_TEST_CEADMIN (paths, relative to the top of the tree
# or absolute) replace build/mod_ceinstances.so and build/ceadmin, which the
# suite loads and runs, in a temporary copy of the tree (made then also when
# not root; the checkout's build/ is left alone). CE_TEST_PRELOAD is set as
# LD_PRELOAD for the harness and everything it starts (httpd, ceadmin), not
# for this script.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
RUN_USER=${CE_TEST_USER:-cetest}
# Where the logs go (several runs at once each need their own).
LOGDIR=${CE_TEST_LOG_DIR:-$TOP/build}
LOG=$LOGDIR/test-apache.log
ERRLOG_COPY=$LOGDIR/test-apache-error_log
# httpd's own record of a crashed child, plus anything a sanitizer adds.
FAIL_PATTERN='exit signal|AddressSanitizer|LeakSanitizer|runtime error:'
[ -n "${CE_TEST_FAIL_PATTERN:-}" ] && FAIL_PATTERN="$FAIL_PATTERN|$CE_TEST_FAIL_PATTERN"

die() { echo "test.sh: $*" >&2; exit 1; }

for f in build/mod_ceinstances.so build/ceadmin conf/elements.json t/TEST.PL; do
    [ -e "$f" ] || die "$f is missing (run 'make all' first)"
done
mkdir -p "$TOP/build" "$LOGDIR"

WORK=""      # the temporary copy (root only)
SUITE=$TOP   # where t/TEST runs
AS=""        # command prefix running as the unprivileged user
STATE=""     # the running harness's process group id and exit code
PGDIR=""     # the throwaway PostgreSQL cluster, if one was started
OAUTHDIR=""  # the OAuth 2 authorization server's directory, once started

if [ "$(id -u)" -eq 0 ]; then
    if ! id -u "$RUN_USER" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin "$RUN_USER" 2>/dev/null \
            || id -u "$RUN_USER" >/dev/null 2>&1 \
            || die "cannot create user $RUN_USER"
    fi
    AS="runuser -u $RUN_USER --"
fi

# Stop whatever the suite left running, then drop the copy. Runs on every
# exit path, including a failed run and Ctrl-C.
cleanup() {
    rc=$?
    trap - EXIT INT TERM HUP
    # Interrupted: end the harness's own process group first.
    if [ -n "$STATE" ] && [ -s "$STATE/pgid" ]; then
        kill -TERM -- "-$(cat "$STATE/pgid")" 2>/dev/null || true
        sleep 1
        kill -KILL -- "-$(cat "$STATE/pgid")" 2>/dev/null || true
    fi
    [ -n "$STATE" ] && rm -rf "$STATE"
    if [ -x "$SUITE/t/TEST" ]; then
        ( cd "$SUITE" && $AS ./t/TEST -stop-httpd ) >/dev/null 2>&1 || true
        pidfile=$SUITE/t/logs/httpd.pid
        # Still there? Then end that one httpd (checked by name), nothing else.
        if [ -s "$pidfile" ]; then
            pid=$(cat "$pidfile")
            if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = apache2 ]; then
                kill "$pid" 2>/dev/null && sleep 2
                kill -9 "$pid" 2>/dev/null || true
            fi
        fi
    fi
    [ -f "$SUITE/t/logs/error_log" ] && cp "$SUITE/t/logs/error_log" "$ERRLOG_COPY" 2>/dev/null
    if [ -n "$OAUTHDIR" ]; then
        $AS "$SUITE/scripts/oauth.sh" stop "$OAUTHDIR" || true
        rm -rf "$OAUTHDIR"
    fi
    if [ -n "$PGDIR" ]; then
        $AS "$SUITE/scripts/pg.sh" stop "$PGDIR" || true
        rm -rf "$PGDIR"
    fi
    if [ -n "$WORK" ]; then
        if [ -n "${CE_TEST_KEEP:-}" ]; then
            echo "test.sh: kept $WORK (CE_TEST_KEEP)" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# The build under test, when it is not build/ (see the hooks above).
abs() { case "$1" in /*) echo "$1" ;; *) echo "$TOP/$1" ;; esac; }
SWAP=""
for f in ${CE_TEST_MODULE:+"$CE_TEST_MODULE"} ${CE_TEST_CEADMIN:+"$CE_TEST_CEADMIN"}; do
    [ -e "$(abs "$f")" ] || die "$f is missing"
    SWAP=1
done
PRELOAD=""
[ -n "${CE_TEST_PRELOAD:-}" ] && PRELOAD="env LD_PRELOAD=$CE_TEST_PRELOAD"

if [ -n "$AS" ] || [ -n "$SWAP" ]; then
    # /tmp, not $TMPDIR: the copy must be reachable by the unprivileged user.
    WORK=$(mktemp -d /tmp/ceinstances-test.XXXXXX)
    SUITE=$WORK/src
    mkdir "$SUITE"
    # The tree as committed plus build output; generated test state stays out.
    tar -C "$TOP" -cf - \
        --exclude=./.git --exclude=./var --exclude=./t/logs --exclude=./t/var \
        --exclude=./t/TEST --exclude=./t/conf/httpd.conf --exclude=./t/conf/extra.conf \
        --exclude=./t/conf/apache_test_config.pm --exclude=./t/htdocs . \
        | tar -C "$SUITE" -xf -
    [ -n "${CE_TEST_MODULE:-}" ] && cp "$(abs "$CE_TEST_MODULE")" "$SUITE/build/mod_ceinstances.so"
    [ -n "${CE_TEST_CEADMIN:-}" ] && cp "$(abs "$CE_TEST_CEADMIN")" "$SUITE/build/ceadmin"
    [ -n "$AS" ] && chown -R "$RUN_USER:" "$WORK"
    chmod 0755 "$WORK"
fi

cd "$SUITE"
install -m 0755 t/TEST.PL t/TEST
[ -n "$AS" ] && chown "$RUN_USER:" t/TEST

# keep_node_logs DRIVER: after a failed run, the error_logs of the extra
# servers the tests started (t/var/<node>/error_log, gone with the copy of
# the tree) go to $LOGDIR/test-nodes-DRIVER/, and their error lines to
# stderr, which is all a CI log keeps.
keep_node_logs() {
    dest=$LOGDIR/test-nodes-$1
    rm -rf "$dest"
    for f in t/var/*/error_log; do
        [ -f "$f" ] || continue
        mkdir -p "$dest"
        node=$(basename "$(dirname "$f")")
        cp "$f" "$dest/$node.error_log"
        # (mpm_event's advice about MaxRequestWorkers is logged as an error)
        if grep -E '(:error|:crit|:alert|:emerg)\]' "$f" | grep -vq 'AH00484\|AH10159'; then
            echo "---- error lines of node $node ----" >&2
            grep -E '(:error|:crit|:alert|:emerg)\]' "$f" | grep -v 'AH00484\|AH10159' |
                tail -n 20 >&2
        fi
    done
    [ -d "$dest" ] && echo "test.sh: node logs kept in $dest" >&2
    return 0
}

# run_suite DRIVER PARAMS [t/TEST ARGS]: one whole run of the suite against
# that database. Sets $fail (empty when it passed), adds to $total.
run_suite() {
    drv=$1 prm=$2
    shift 2
    log=$LOGDIR/test-apache-$drv.log
    echo "==== Apache::Test suite on $drv"
    rm -f "$ERRLOG_COPY"
    # -clean first: Apache::Test would otherwise reuse a config cached by an
    # earlier run (another port, another database, an older extra.conf).
    $AS ./t/TEST -clean >/dev/null 2>&1 || true
    # The harness runs in a session of its own, in the background, so a
    # signal to this script is handled at once (sh defers traps while a
    # foreground job runs) and cleanup can end exactly that process group.
    STATE=$(mktemp -d)
    ( CE_TEST_DBD_DRIVER=$drv CE_TEST_DBD_PARAMS=$prm \
      setsid sh -c 'echo $$ >"$0/pgid"; "$@" </dev/null 2>&1; { echo $? >"$0/rc"; } 2>/dev/null' \
          "$STATE" $AS $PRELOAD ./t/TEST "$@" ) | tee "$log" &
    wait $! || true
    rc=$(cat "$STATE/rc" 2>/dev/null || echo "none")
    rm -rf "$STATE"; STATE=""
    cp "$log" "$LOG"

    fail=""
    [ "$rc" = 0 ] || fail="the harness exited with status $rc"
    grep -q '^Result: PASS' "$log" || fail="${fail:+$fail; }no 'Result: PASS' in its output"
    if [ -f t/logs/error_log ] && grep -Eq "$FAIL_PATTERN" t/logs/error_log; then
        grep -E "$FAIL_PATTERN" t/logs/error_log | head -20 >&2
        fail="${fail:+$fail; }error_log shows a crash or sanitizer report"
    fi
    [ -f t/logs/error_log ] && cp t/logs/error_log "$LOGDIR/test-apache-error_log-$drv"
    if [ -n "$fail" ]; then
        keep_node_logs "$drv"
        if [ -f t/logs/error_log ]; then
            echo "---- last lines of t/logs/error_log ----" >&2
            tail -n 40 t/logs/error_log >&2
        fi
        # Last, as a CI log shows only its tail: which tests failed, how.
        echo "---- failures in the harness's output ----" >&2
        # (each failed test's comment lines: where, got/expected, its diag)
        awk '/#   Failed test/ { n = 16 } n > 0 && /^#/ { print; n--; next } { n = 0 }' \
            "$log" | head -n 60 >&2
        grep -E -A12 '^Failed Test|^Test Summary Report' "$log" | head -n 20 >&2
        # A digest for the very end of a run (asan.sh prints it again after
        # its sanitizer summary): each failure's name, where (file, line) and
        # first diagnostics, in a few lines.
        awk -v drv="$drv" '
            /#   Failed test/ { n = 5; printf "%s:", drv }
            n > 0 && /^#/ { sub(/^# */, " "); printf "%s", $0; if (--n == 0) print ""; next }
            n > 0 { print ""; n = 0 }' "$log" | head -n 8 >>"$LOGDIR/failed-tests.txt"
        fail="$drv: $fail (log: $log, error_log: $LOGDIR/test-apache-error_log-$drv)"
        return
    fi
    n=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log" | tail -n 1)
    echo "apache-test ($drv): ${n:-0} passed, 0 failed"
    total=$((total + ${n:-0}))
}

# The suite's OAuth 2 authorization server (npm's oidc-provider), for every
# run: t/TEST.PL points the OAuth elements of the suite's catalog at it.
OAUTHDIR=$(mktemp -d /tmp/ceinstances-oauth.XXXXXX)
[ -n "$AS" ] && chown "$RUN_USER:" "$OAUTHDIR"
CE_TEST_OAUTH_URL=$($AS "$SUITE/scripts/oauth.sh" start "$OAUTHDIR") \
    || die "cannot start the OAuth 2 authorization server"
export CE_TEST_OAUTH_URL

total=0
failed=""
rm -f "$LOGDIR/failed-tests.txt"
for driver in ${CE_TEST_DRIVERS:-sqlite3 pgsql}; do
    case "$driver" in
    sqlite3)
        # t/TEST.PL's default: a fresh t/var/test.db
        run_suite sqlite3 "${CE_TEST_SQLITE_PARAMS:-}" "$@"
        ;;
    pgsql)
        # A throwaway cluster of the unprivileged user, stopped in cleanup.
        PGDIR=$(mktemp -d /tmp/ceinstances-pg.XXXXXX)
        [ -n "$AS" ] && chown "$RUN_USER:" "$PGDIR"
        $AS "$SUITE/scripts/pg.sh" start "$PGDIR" >/dev/null || die "cannot start PostgreSQL"
        params=$($AS "$SUITE/scripts/pg.sh" createdb "$PGDIR" ce_test) \
            || die "cannot create the test database"
        export CE_TEST_PG_DIR="$PGDIR"
        run_suite pgsql "$params" "$@"
        ;;
    *) die "unknown driver $driver in CE_TEST_DRIVERS" ;;
    esac
    [ -n "$fail" ] && failed="${failed:+$failed; }$fail"
    # Stop this run's server before the next run configures another.
    $AS ./t/TEST -stop-httpd >/dev/null 2>&1 || true
done

if [ -n "$failed" ]; then
    if [ -s "$LOGDIR/failed-tests.txt" ]; then
        echo "---- failed tests (driver: name, where, diagnostics) ----" >&2
        cut -c1-600 "$LOGDIR/failed-tests.txt" >&2
    fi
    echo "test.sh: FAIL: $failed" >&2
    exit 1
fi
echo "apache-test: $total passed, 0 failed (drivers: ${CE_TEST_DRIVERS:-sqlite3 pgsql})"
