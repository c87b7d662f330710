#!/bin/sh
# pg.sh: a throwaway PostgreSQL cluster for the tests, owned by whoever runs
# this (never root: initdb refuses it), listening on loopback only.
#
#   scripts/pg.sh start DIR     initdb in DIR/data (if not there yet), start
#                               on 127.0.0.1 and a free port (a restart
#                               keeps the first one), socket in DIR; prints
#                               the port
#   scripts/pg.sh createdb DIR NAME
#                               (re)creates database NAME, empty; prints the
#                               DBDParams that reach it
#   scripts/pg.sh stop DIR      stops the cluster (fast shutdown, then
#                               immediate); DIR itself is the caller's to remove
#   scripts/pg.sh kill DIR      stops it at once (immediate: as if it crashed)
#
# Nothing is installed here: scripts/deps.sh installs Debian's postgresql.
set -eu

die() { echo "pg.sh: $*" >&2; exit 1; }

bindir() {
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    die "no PostgreSQL server binaries under /usr/lib/postgresql (run scripts/deps.sh)"
}

# A free port in 15432..15631, tried in random order: two suites starting
# clusters at once rarely pick the same one, and `start` tries another when
# it loses the port anyway.
free_port() {
    perl -MIO::Socket::INET -MList::Util=shuffle -e '
        for my $p (shuffle 15432 .. 15631) {
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $p,
                                          Proto => "tcp", Listen => 1) or next;
            close $s; print $p; exit 0;
        }
        exit 1;' || die "no free port in 15432..15631"
}

# pg_start PORT: starts the cluster on PORT; fails as pg_ctl does.
pg_start() {
    # fsync stays on: the crash tests rely on PostgreSQL's durability.
    "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $1 -k $dir -c max_connections=300" \
        start >/dev/null
}

[ $# -ge 2 ] || die "usage: pg.sh start|createdb|stop|kill DIR [NAME]"
cmd=$1
dir=$(cd "$2" && pwd) || die "no directory $2"
bin=$(bindir)
data=$dir/data
user=$(id -un)

case "$cmd" in
start)
    if [ ! -d "$data" ]; then
        "$bin/initdb" -D "$data" -U "$user" --auth=trust --no-sync -E UTF8 --locale=C \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    fi
    # A restart keeps the port: clients (httpd) reconnect to the same place.
    if [ -s "$dir/port" ]; then
        port=$(cat "$dir/port")
        pg_start "$port" || { tail -20 "$dir/server.log" >&2; die "the server did not start"; }
    else
        # A first start: another run may bind the port found free before
        # this one does; then another port.
        tries=0
        until port=$(free_port) && pg_start "$port"; do
            tries=$((tries + 1))
            if [ "$tries" -ge 5 ] || ! grep -q "could not bind\|could not create any TCP/IP sockets" "$dir/server.log"; then
                tail -20 "$dir/server.log" >&2
                die "the server did not start"
            fi
        done
    fi
    echo "$port" >"$dir/port"
    echo "$port"
    ;;
createdb)
    [ $# -ge 3 ] || die "usage: pg.sh createdb DIR NAME"
    port=$(cat "$dir/port")
    PGOPTIONS="-c client_min_messages=warning" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$user" -d postgres \
        -c "DROP DATABASE IF EXISTS \"$3\"" -c "CREATE DATABASE \"$3\"" >/dev/null
    echo "host=127.0.0.1 port=$port dbname=$3 user=$user"
    ;;
stop)
    [ -f "$data/postmaster.pid" ] || exit 0
    "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 \
        || "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
kill)
    [ -f "$data/postmaster.pid" ] || exit 0
    "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    ;;
*)
    die "unknown command $cmd"
    ;;
esac
