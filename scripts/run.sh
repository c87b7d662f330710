#!/bin/sh
# run.sh: serve the Instances API from this checkout on 127.0.0.1:${PORT:-8080}
# in the foreground until Ctrl-C or `make stop` (`make run` installs
# packages and builds first).
#
#   scripts/run.sh          start (refused while that server runs)
#   scripts/run.sh stop     stop it (make stop): SIGTERM, waits until it is gone
#   scripts/run.sh reload   graceful restart (make reload): the configuration
#                           test first, then SIGUSR1: re-reads the catalog and
#                           reloads build/mod_ceinstances.so, requests under
#                           way finish
#
# CE_RUN_DIR (default: var/ of the checkout) holds the server's state, so a
# second server (scripts/test-readme.sh) never touches a developer's own.
#
# Everything lives in var/: the SQLite database (var/ceinstances.db), the
# generated httpd config (var/httpd.conf), logs, pid file, and the demo
# organization and user created on the first run (var/demo.json, mode 0600).
# Once the server answers, the demo secrets are tried on it: dead ones
# (ceadmin rotate-user or rotate-org since) are replaced by new ones (the
# demo user and organization rotated; their instances stay), and those are
# printed.
# var/ceinstances.key is the key file sealing secrets at rest (made on the
# first run with ceadmin keygen, mode 0600).
# Run as root, httpd's children run as nobody:nogroup and var/ is made
# writable for them (SQLite writes -wal/-shm files next to the database).
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
VAR=${CE_RUN_DIR:-$TOP/var}
case "$VAR" in /*) ;; *) VAR=$TOP/$VAR ;; esac
PORT=${PORT:-8080}
HTTPD=${HTTPD:-/usr/sbin/apache2}
MODDIR=/usr/lib/apache2/modules
DB=$VAR/ceinstances.db
KEY=$VAR/ceinstances.key
CONF=$VAR/httpd.conf

PIDFILE=$VAR/run/httpd.pid

# Fails with a message; a server started by this script is stopped first.
die() {
    echo "run.sh: $*" >&2
    if [ -n "${httpd_pid:-}" ]; then kill -TERM "$httpd_pid" 2>/dev/null || true; fi
    exit 1
}

# The pid of the server this state directory's pid file names, if it runs
# (an httpd: a pid file left by a crash may name another process by now).
running_pid() {
    [ -s "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE")
    case "$pid" in ''|*[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    case "$(cat /proc/"$pid"/comm 2>/dev/null)" in apache2|httpd) ;; *) return 1 ;; esac
    echo "$pid"
}

case "${1:-start}" in
    start) ;;
    stop)
        pid=$(running_pid) || { echo "run.sh: no server of $VAR runs"; exit 0; }
        kill -TERM "$pid"
        i=0
        while kill -0 "$pid" 2>/dev/null; do
            i=$((i + 1))
            [ "$i" -le 300 ] || die "httpd (pid $pid) still runs 30 s after SIGTERM"
            sleep 0.1
        done
        echo "run.sh: stopped httpd (pid $pid)"
        exit 0 ;;
    reload)
        pid=$(running_pid) || die "no server of $VAR runs (make run starts one)"
        # A broken catalog or configuration would stop the server: refuse
        # instead, it keeps what it has (apache2ctl graceful does the same).
        "$HTTPD" -t -f "$VAR/httpd.conf" >/dev/null 2>&1 \
            || { "$HTTPD" -t -f "$VAR/httpd.conf"; die "configuration test failed: not reloaded"; }
        kill -USR1 "$pid"
        echo "run.sh: graceful restart of httpd (pid $pid) asked"
        exit 0 ;;
    *) die "usage: run.sh [start|stop|reload]" ;;
esac
if pid=$(running_pid); then
    die "a server of $VAR already runs (pid $pid): make stop (or make reload)"
fi

for f in build/mod_ceinstances.so build/ceadmin conf/elements.json; do
    [ -e "$f" ] || die "$f is missing (run 'make all' first)"
done
case "$PORT" in
    ''|*[!0-9]*) die "PORT must be a number, not '$PORT'" ;;
esac

mkdir -p "$VAR" "$VAR/logs" "$VAR/run"
chmod 0750 "$VAR"

user_lines=""
if [ "$(id -u)" -eq 0 ]; then
    RUN_USER=${RUN_USER:-nobody}
    RUN_GROUP=${RUN_GROUP:-nogroup}
    user_lines="User $RUN_USER
Group $RUN_GROUP"
fi

# The key file sealing secrets at rest, once (0600; keep a copy: without
# it the database's secrets are lost).
if [ ! -s "$KEY" ]; then
    build/ceadmin keygen "$KEY" >/dev/null
fi

# The demo tenant, once. ceadmin creates the schema if the database is new.
if [ ! -s "$VAR/demo.json" ] || [ ! -s "$DB" ]; then
    umask 077
    build/ceadmin --db "sqlite3:$DB" --key "$KEY" signup --org Demo --email demo@example.com \
        --first Demo --last User >"$VAR/demo.json.tmp"
    mv "$VAR/demo.json.tmp" "$VAR/demo.json"
    umask 022
fi
chmod 0600 "$VAR/demo.json"

if [ -n "$user_lines" ]; then
    # httpd's children open the database: var/ and the database files are
    # theirs to write (demo.json stays root's, 0600). Done on every run, as
    # ceadmin run as root may have created -wal/-shm files in between.
    chgrp "$RUN_GROUP" "$VAR" && chmod 0770 "$VAR"
    for f in "$DB" "$DB-wal" "$DB-shm"; do
        if [ -e "$f" ]; then chown "$RUN_USER:$RUN_GROUP" "$f"; fi
    done
    runuser -u "$RUN_USER" -- test -w "$VAR" \
        || die "$RUN_USER cannot write $VAR (a parent directory is closed to it, e.g. /root);
move the checkout somewhere world-traversable or set RUN_USER/RUN_GROUP"
fi

cat >"$CONF" <<CONF
# Generated by scripts/run.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ); rewritten on every run.
ServerRoot "$VAR"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
# No version in the Server header; no TRACE (it echoes request headers,
# Authorization included, outside the API).
ServerTokens Prod
TraceEnable off
PidFile "$VAR/run/httpd.pid"
DefaultRuntimeDir "$VAR/run"
Mutex file:$VAR/run default
ErrorLog "$VAR/logs/error_log"
LogLevel warn
$user_lines

LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
# One child (see README, "Processes, threads and SQLite": with SQLite, one
# child's group commit writes twice the creates two children's do) of 256
# threads: a slow client holds a worker until RequestReadTimeout cuts it
# off, so there are more workers than the slow sockets t/30-slow-clients.t
# opens (200). 50 database connections: threads past them wait for one.
StartServers 1
ServerLimit 1
ThreadLimit 256
ThreadsPerChild 256
MaxRequestWorkers 256
DBDKeep 50
DBDMax 50
# httpd 2.4 answers 500 "couldn't check user" without an authz module.
LoadModule authz_core_module $MODDIR/mod_authz_core.so
<IfModule !log_config_module>
    LoadModule log_config_module $MODDIR/mod_log_config.so
</IfModule>
LogFormat "%h %u %t \"%r\" %>s %b %D" ce
CustomLog "$VAR/logs/access_log" ce

# Slow clients: a request's headers and body must arrive at a minimum rate
# (mod_reqtimeout), so a few hundred trickling sockets cannot hold every
# worker.
<IfModule !reqtimeout_module>
    LoadModule reqtimeout_module $MODDIR/mod_reqtimeout.so
</IfModule>
RequestReadTimeout handshake=5 header=10-20,MinRate=500 body=10,MinRate=500
# Threads give memory back after a large request (KiB kept per allocator).
MaxMemFree 2048

LoadModule dbd_module $MODDIR/mod_dbd.so
LoadModule ceinstances_module $TOP/build/mod_ceinstances.so

DBDriver  sqlite3
DBDParams "$DB"

CEInstancesCatalog "$TOP/conf/elements.json"
CEInstancesKeyFile "$KEY"
CEInstancesMaxBodySize 1048576

<Location /elements/api-v2>
    SetHandler ceinstances
</Location>
CONF

"$HTTPD" -t -f "$CONF" >/dev/null 2>&1 || { "$HTTPD" -t -f "$CONF"; die "httpd rejects $CONF"; }

# The demo tenant's secrets, as "USER_SECRET ORG_SECRET" or "USER_ID ORG_ID".
demo() {
    perl -MJSON::PP -e '
        local $/; my $d = decode_json(<STDIN>);
        my $f = shift;
        print "$d->{user}{$f} $d->{organization}{$f}\n";' "$1" <"$VAR/demo.json"
}

# Whether the server takes var/demo.json's secrets: prints the status of
# GET /instances with them (200: yes; 401: dead, e.g. after ceadmin
# rotate-org). The secrets go from the file to the request, never on a
# command line (ps shows those).
demo_status() {
    perl -MJSON::PP -MHTTP::Tiny -e '
        local $/; my $d = decode_json(<STDIN>);
        my $res = HTTP::Tiny->new(timeout => 10)->get($ARGV[0], { headers => { Authorization =>
            "User $d->{user}{secret}, Organization $d->{organization}{secret}" } });
        print "$res->{status}\n";' \
        "http://127.0.0.1:$PORT/elements/api-v2/instances?pageSize=1" <"$VAR/demo.json"
}

# Dead demo secrets: new ones for the demo user and organization (their
# instances stay), or, should that fail, a new demo tenant.
renew_demo() {
    ids=$(demo id)
    umask 077
    if build/ceadmin --db "sqlite3:$DB" --key "$KEY" rotate-user --user-id "${ids% *}" \
            >"$VAR/demo.user.tmp" \
        && build/ceadmin --db "sqlite3:$DB" --key "$KEY" rotate-org --org-id "${ids#* }" \
            >"$VAR/demo.org.tmp"; then
        perl -MJSON::PP -e '
            local $/; my $d = decode_json(<STDIN>);
            for my $k ("user", "organization") {
                open my $fh, "<", shift or die "$!\n";
                $d->{$k}{secret} = decode_json(<$fh>)->{$k}{secret};
            }
            print JSON::PP->new->canonical->encode($d), "\n";' \
            "$VAR/demo.user.tmp" "$VAR/demo.org.tmp" <"$VAR/demo.json" >"$VAR/demo.json.tmp" \
            || return 1
    else
        build/ceadmin --db "sqlite3:$DB" --key "$KEY" signup --org Demo \
            --email demo@example.com --first Demo --last User >"$VAR/demo.json.tmp" || return 1
    fi
    mv "$VAR/demo.json.tmp" "$VAR/demo.json" || return 1
    rm -f "$VAR/demo.user.tmp" "$VAR/demo.org.tmp"
    umask 022
}

# httpd in the foreground, as a child: Ctrl-C reaches it too (same process
# group; httpd sets its own handlers, so the background start's ignored
# SIGINT does not stick); `make stop` sends it SIGTERM. The trap only
# keeps this script alive to look at how it ended.
start=0
[ -f "$VAR/logs/error_log" ] && start=$(wc -c <"$VAR/logs/error_log")
trap 'true' INT TERM
"$HTTPD" -f "$CONF" -DFOREGROUND &
httpd_pid=$!

# When httpd stops by itself (a child's fatal error: the key file is not
# the database's, CE00025), say so here, not only in error_log.
stopped_at_start() {
    if tail -c +$((start + 1)) "$VAR/logs/error_log" 2>/dev/null | grep -q 'AH00050'; then
        tail -c +$((start + 1)) "$VAR/logs/error_log" | grep -E '\[ceinstances:(emerg|alert|crit)\]' \
            | sed 's/.*\(CE[0-9][0-9]*:\)/\1/' | sort -u >&2
        die "httpd stopped at start-up (see above and $VAR/logs/error_log)"
    fi
}

# Up when it answers (at most 15 s); then the demo secrets must work.
status=000
i=0
while [ "$i" -lt 150 ] && kill -0 "$httpd_pid" 2>/dev/null; do
    status=$(demo_status 2>/dev/null) || status=000
    case "$status" in 200|401) break ;; esac
    sleep 0.1
    i=$((i + 1))
done
if ! kill -0 "$httpd_pid" 2>/dev/null; then
    wait "$httpd_pid" || true
    stopped_at_start
    die "httpd stopped at start-up (see $VAR/logs/error_log)"
fi
renewed=""
if [ "$status" = 401 ]; then
    renew_demo || die "could not make new demo secrets (see above)"
    status=$(demo_status 2>/dev/null) || status=000
    renewed="
The secrets $VAR/demo.json held no longer worked (a ceadmin rotate-user or
rotate-org since?): the demo user and organization have new ones, below.
"
fi
if [ "$status" != 200 ]; then
    echo "run.sh: the demo tenant's secrets get $status from the server, not 200;" >&2
    echo "  look in $VAR/logs/error_log; to start afresh: make stop, then remove $VAR/demo.json" >&2
fi

secrets=$(demo secret)
user_secret=${secrets% *}
org_secret=${secrets#* }

cat <<MSG
$renewed
mod_ceinstances on http://127.0.0.1:$PORT/elements/api-v2 (Ctrl-C or make stop stops it;
make reload restarts it gracefully)
database: $DB   logs: $VAR/logs/   demo tenant: $VAR/demo.json

Authorization: User $user_secret, Organization $org_secret

curl -H 'Authorization: User $user_secret, Organization $org_secret' http://127.0.0.1:$PORT/elements/api-v2/elements
curl -X POST -H 'Authorization: User $user_secret, Organization $org_secret' -H 'Content-Type: application/json' \\
     -d '{"element":{"key":"jira"},"name":"My JIRA","configuration":{"jira.username":"me","jira.password":"secret","jira.api.url":"https://example.atlassian.net"}}' \\
     http://127.0.0.1:$PORT/elements/api-v2/instances

MSG

# Until httpd ends (a wait cut short by Ctrl-C's signal is waited again).
rc=0
while :; do
    if wait "$httpd_pid"; then rc=0; else rc=$?; fi
    kill -0 "$httpd_pid" 2>/dev/null || break
done
stopped_at_start
exit "$rc"
