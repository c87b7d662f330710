#!/bin/sh
# test-run.sh: the operator's side of `make run` (part of `make test`):
# make help lists every target with its line; a second start of the same
# server is refused; make reload restarts it gracefully (same pid, still
# serving); after `ceadmin rotate-org` the printed demo secrets are dead,
# and the next start notices, renews them and prints working ones; make
# stop ends it. On a server of its own: scripts/run.sh with CE_RUN_DIR a
# temporary directory and PORT a free port, stopped on every exit path.
set -eu

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
if [ ! -e build/mod_ceinstances.so ] || [ ! -e build/ceadmin ]; then
    echo "test-run: build first (make all)" >&2
    exit 1
fi
work=$(mktemp -d /tmp/ce-run.XXXXXX)
chmod 0755 "$work"
VAR=$work/var
run_pid=""
cleanup() {
    CE_RUN_DIR=$VAR scripts/run.sh stop >/dev/null 2>&1 || true
    if [ -n "$run_pid" ]; then wait "$run_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

failures=0
check() { # check WHAT COMMAND...: passes when COMMAND succeeds
    what=$1
    shift
    if "$@"; then
        echo "ok   $what"
    else
        echo "FAIL $what"
        failures=$((failures + 1))
    fi
}

PORT=$(perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)
        or die "no free port: $!\n";
    print $s->sockport, "\n";')

# The status of GET /instances with the demo secrets of $VAR/demo.json.
demo_status() {
    perl -MJSON::PP -MHTTP::Tiny -e '
        local $/; my $d = decode_json(<STDIN>);
        print HTTP::Tiny->new(timeout => 10)->get($ARGV[0], { headers => { Authorization =>
            "User $d->{user}{secret}, Organization $d->{organization}{secret}" } })->{status};' \
        "http://127.0.0.1:$PORT/elements/api-v2/instances" <"$VAR/demo.json"
}

# Starts scripts/run.sh in the background, output in $work/run.N; waits
# for its banner (the server answers by then).
n=0
start() {
    n=$((n + 1))
    CE_RUN_DIR=$VAR PORT=$PORT scripts/run.sh >"$work/run.$n" 2>&1 &
    run_pid=$!
    wait_run_server "$work/run.$n" "$run_pid" test-run
}

# Whether the run.sh started last has ended (within 30 s).
ended() {
    i=0
    while kill -0 "$run_pid" 2>/dev/null; do
        [ "$i" -lt 300 ] || return 1
        sleep 0.1
        i=$((i + 1))
    done
    wait "$run_pid"
}

# make help
make -s --no-print-directory help >"$work/help"
check "make help: a line for each target, none undocumented" \
    sh -c "! grep -q '(undocumented)' '$work/help'"
for target in all run stop reload test test-readme help clean; do
    check "make help: $target" grep -q "^make $target " "$work/help"
done

start
check "first start: the demo secrets work" test "$(demo_status)" = 200
check "first start: no renewal" sh -c "! grep -q 'no longer worked' '$work/run.1'"
pid=$(cat "$VAR/run/httpd.pid")

check "a second start of the same server is refused" \
    sh -c "! CE_RUN_DIR='$VAR' PORT=$PORT scripts/run.sh >'$work/second' 2>&1"
check "... saying it runs" grep -q 'already runs' "$work/second"

restarts=$(grep -c 'resuming normal operations' "$VAR/logs/error_log" || true)
CE_RUN_DIR=$VAR make -s --no-print-directory reload >/dev/null
i=0
while [ "$(grep -c 'resuming normal operations' "$VAR/logs/error_log")" -le "$restarts" ] \
    && [ "$i" -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
check "make reload: a graceful restart (error_log)" \
    test "$(grep -c 'resuming normal operations' "$VAR/logs/error_log")" -gt "$restarts"
check "make reload: the same server (pid)" test "$(cat "$VAR/run/httpd.pid")" = "$pid"
check "make reload: still serving" test "$(demo_status)" = 200

org=$(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{organization}{id}' \
    <"$VAR/demo.json")
before=$(cat "$VAR/demo.json")
build/ceadmin --db "sqlite3:$VAR/ceinstances.db" --key "$VAR/ceinstances.key" rotate-org \
    --org-id "$org" >/dev/null
check "after ceadmin rotate-org the printed secrets are dead" test "$(demo_status)" = 401

CE_RUN_DIR=$VAR make -s --no-print-directory stop >/dev/null
check "make stop: make run's script ends" ended
check "make stop: httpd is gone" sh -c "! kill -0 $pid 2>/dev/null"

start
check "next start: says the secrets were dead and renewed" grep -q 'no longer worked' "$work/run.2"
check "next start: new secrets in demo.json" test "$(cat "$VAR/demo.json")" != "$before"
check "next start: the printed secrets work" test "$(demo_status)" = 200
printed=$(sed -n 's/^Authorization: //p' "$work/run.2")
check "next start: it printed demo.json's secrets" perl -MJSON::PP -e '
    local $/; my $d = decode_json(<STDIN>);
    exit !($ARGV[0] eq "User $d->{user}{secret}, Organization $d->{organization}{secret}");' \
    "$printed" <"$VAR/demo.json"
CE_RUN_DIR=$VAR make -s --no-print-directory stop >/dev/null
check "make stop again" ended

if [ "$failures" -ne 0 ]; then
    echo "test-run: FAIL ($failures)" >&2
    exit 1
fi
echo "test-run: PASS"
