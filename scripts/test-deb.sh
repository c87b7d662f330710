#!/bin/sh
# test-deb.sh: the Debian package, installed into Debian's apache2 and
# removed again (issue 16). Part of `make test`; needs root (dpkg). Not root:
# skipped with a message, unless CI=true, where that is a failure.
#
#  1. `make deb` (build/deb/), then the state of /etc/apache2: every entry
#     with its type, mode, owner and link target, and every file's sha256;
#  2. dpkg -i: the module and mod_dbd enabled, /var/lib/ceinstances
#     www-data's, the key root's 0600;
#  3. the first tenant made as root with the installed /usr/sbin/ceadmin
#     (a new database): every database file stays www-data's (and again
#     with the server running: a user added as root can create);
#  4. Debian's apache2 (its /etc/apache2 and envvars) started directly (no
#     systemd here) on a free loopback port instead of ports.conf's (a copy
#     of apache2.conf naming that port is the only difference; pid, logs,
#     locks in a temporary directory): POST /instances creates, GET reads it
#     back, through the installed module;
#  5. with the package installed and enabled, t/00-harness.t (one quick
#     Apache::Test file): the suite loads build/'s module, not the installed
#     one (the test checks the generated configuration and the running
#     server's mappings);
#  6. apache2 stopped, dpkg -r (the module and mod_dbd disabled, the data
#     kept), dpkg --purge: /etc/apache2 exactly as before, /var/lib/ceinstances
#     gone.
# Every exit path stops that apache2 and purges the package (trap).
set -eu

cd "$(dirname "$0")/.."
PKG=libapache2-mod-ceinstances
STATEDIR=/var/lib/ceinstances
KEY=/etc/apache2/ceinstances/key
DB=$STATEDIR/ceinstances.db

say() { echo "test-deb: $*"; }
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    [ "${CI:-}" = true ] && fail "must run as root (dpkg -i) in CI"
    say "skipped: not root (dpkg -i needs root; CI=true makes this a failure)"
    exit 0
fi
case "$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || true)" in
    "" | *" not-installed") ;;
    *) fail "$PKG is already on this machine; purge it first (this test installs and purges it)" ;;
esac
[ -e "$STATEDIR" ] && fail "$STATEDIR exists already; this test would remove it"

WORK=$(mktemp -d /tmp/ceinstances-deb.XXXXXX)
chmod 0755 "$WORK" # www-data (httpd's children) reaches the lock directory
mkdir "$WORK/run" "$WORK/lock" "$WORK/log"
PIDFILE=$WORK/run/apache2.pid
INSTALLED=""

stop_apache() {
    if [ -s "$PIDFILE" ]; then
        pid=$(cat "$PIDFILE")
        if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = apache2 ]; then
            kill -TERM "$pid" 2>/dev/null || true
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$PIDFILE"
    fi
}

cleanup() {
    rc=$?
    trap - EXIT INT TERM HUP
    stop_apache
    if [ -n "$INSTALLED" ]; then
        dpkg --purge "$PKG" >"$WORK/purge.log" 2>&1 || cat "$WORK/purge.log" >&2
    fi
    if [ "$rc" -ne 0 ] && [ -f "$WORK/log/error.log" ]; then
        echo "---- apache2's error.log ----" >&2
        tail -n 20 "$WORK/log/error.log" >&2
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# snapshot FILE: /etc/apache2 as it stands (entries with type, mode, owner,
# link target; contents by sha256).
snapshot() {
    {
        find /etc/apache2 -printf '%p %y %m %u:%g %l\n' | LC_ALL=C sort
        find /etc/apache2 -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    } >"$1"
}

# 1. the package
make -s deb >"$WORK/deb.log" 2>&1 || { cat "$WORK/deb.log" >&2; fail "make deb"; }
DEB=$(ls build/deb/${PKG}_*.deb)
say "built $DEB ($(tail -n 1 "$WORK/deb.log"))"
snapshot "$WORK/etc.before"

# 2. installed
INSTALLED=1
dpkg -i "$DEB" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; fail "dpkg -i"; }
for m in ceinstances.load ceinstances.conf dbd.load; do
    [ -L "/etc/apache2/mods-enabled/$m" ] || fail "mods-enabled/$m is not there after dpkg -i"
done
[ "$(stat -c '%U:%G %a' "$STATEDIR")" = "www-data:www-data 750" ] \
    || fail "$STATEDIR is $(stat -c '%U:%G %a' "$STATEDIR"), not www-data:www-data 750"
[ "$(stat -c '%U %a' "$KEY")" = "root 600" ] || fail "$KEY is $(stat -c '%U %a' "$KEY")"
say "installed: module and dbd enabled, $STATEDIR www-data's, key root's 0600"

# 3. the first tenant, as root, on a new database
/usr/sbin/ceadmin --db "sqlite3:$DB" --key "$KEY" signup --org Packaged \
    --email pkg@example.com --first Deb --last Ian >"$WORK/tenant.json"
bad=$(find "$STATEDIR" ! -user www-data)
[ -z "$bad" ] || fail "after ceadmin as root, not www-data's: $bad"
auth=$(perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
    print "User $d->{user}{secret}, Organization $d->{organization}{secret}"' <"$WORK/tenant.json")

# 4. Debian's apache2 on a free port
PORT=$(perl -MIO::Socket::INET -e \
    'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport')
grep -q '^Include ports.conf$' /etc/apache2/apache2.conf || fail "apache2.conf has no 'Include ports.conf'"
sed "s/^Include ports.conf\$/Listen 127.0.0.1:$PORT/" /etc/apache2/apache2.conf >"$WORK/apache2.conf"
apache() {
    # Debian's environment, with pid, logs and locks of this test's own.
    # shellcheck disable=SC2016 # expanded by the inner sh
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c '. /etc/apache2/envvars &&
        export APACHE_PID_FILE="$0/run/apache2.pid" APACHE_RUN_DIR="$0/run" \
            APACHE_LOCK_DIR="$0/lock" APACHE_LOG_DIR="$0/log" &&
        exec apache2 -d /etc/apache2 -f "$0/apache2.conf" "$@"' "$WORK" "$@"
}
apache -t >"$WORK/configtest.log" 2>&1 || { cat "$WORK/configtest.log" >&2; fail "apache2 -t"; }
apache -k start >"$WORK/start.log" 2>&1 || { cat "$WORK/start.log" >&2; fail "apache2 -k start"; }
URL=http://127.0.0.1:$PORT/elements/api-v2
i=0
until curl -s -o /dev/null "$URL/elements"; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "apache2 does not answer on port $PORT"
    sleep 0.1
done
say "Debian's apache2 up on 127.0.0.1:$PORT"

code=$(curl -s -o "$WORK/post.json" -w '%{http_code}' -X POST -H "Authorization: $auth" \
    -H 'Content-Type: application/json' \
    -d '{"element":{"key":"jira"},"name":"Packaged JIRA","configuration":{"jira.username":"me","jira.password":"pw","jira.api.url":"https://example.atlassian.net"}}' \
    "$URL/instances")
[ "$code" = 200 ] || { cat "$WORK/post.json" >&2; fail "POST /instances: $code, not 200"; }
id=$(perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
    die "no id\n" unless ($d->{id} // "") =~ /^\d+\z/;
    die "name is $d->{name}\n" unless $d->{name} eq "Packaged JIRA";
    die "element is $d->{element}{key}\n" unless $d->{element}{key} eq "jira";
    print $d->{id}' <"$WORK/post.json") || fail "POST's answer: $(cat "$WORK/post.json")"
code=$(curl -s -o "$WORK/get.json" -w '%{http_code}' -H "Authorization: $auth" "$URL/instances/$id")
[ "$code" = 200 ] || { cat "$WORK/get.json" >&2; fail "GET /instances/$id: $code, not 200"; }
perl -MJSON::PP -e 'my $j = JSON::PP->new->canonical;
    my @d = map { open my $f, "<", $_ or die; local $/; $j->decode(<$f>) } @ARGV;
    exit($j->encode($d[0]) eq $j->encode($d[1]) ? 0 : 1)' "$WORK/post.json" "$WORK/get.json" \
    || fail "GET /instances/$id differs from the POST answer: $(cat "$WORK/get.json")"
# ceadmin as root again, now with the server's -wal/-shm files there: a
# second user, whose create the server still writes.
/usr/sbin/ceadmin --db "sqlite3:$DB" --key "$KEY" user-add --org-id 1 \
    --email two@example.com >"$WORK/user2.json"
auth2=$(perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
    print "User $d->{user}{secret}, Organization "' <"$WORK/user2.json")${auth##*Organization }
code=$(curl -s -o "$WORK/post2.json" -w '%{http_code}' -X POST -H "Authorization: $auth2" \
    -H 'Content-Type: application/json' \
    -d '{"element":{"key":"jira"},"name":"Second JIRA","configuration":{"jira.username":"me","jira.password":"pw","jira.api.url":"https://example.atlassian.net"}}' \
    "$URL/instances")
[ "$code" = 200 ] || { cat "$WORK/post2.json" >&2; fail "POST /instances after ceadmin user-add: $code"; }
bad=$(find "$STATEDIR" ! -user www-data)
[ -z "$bad" ] || fail "after the server wrote, not www-data's: $bad"
say "POST /instances 200 (id $id), GET /instances/$id 200, the same instance;" \
    "ceadmin user-add as root, then that user's POST 200"

# 5. the suite, with the package installed and enabled, tests build/
if [ -z "${CE_TEST_DEB_NO_SUITE:-}" ]; then
    make -s all >/dev/null
    CE_TEST_DRIVERS=sqlite3 CE_TEST_LOG_DIR="$WORK/suite" scripts/test.sh t/00-harness.t \
        >"$WORK/suite.log" 2>&1 || {
        grep -E '^(not ok|#|Result|t/)' "$WORK/suite/test-apache-sqlite3.log" >&2 || tail "$WORK/suite.log" >&2
        fail "t/00-harness.t with the package enabled"
    }
    grep -q '^Result: PASS' "$WORK/suite.log" || fail "t/00-harness.t: no Result: PASS"
    say "t/00-harness.t with the package enabled: $(grep '^apache-test:' "$WORK/suite.log")"
fi

# 6. removed, then purged
stop_apache
dpkg -r "$PKG" >"$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log" >&2; fail "dpkg -r"; }
for m in ceinstances.load ceinstances.conf dbd.load; do
    [ ! -e "/etc/apache2/mods-enabled/$m" ] || fail "mods-enabled/$m is still there after dpkg -r"
done
{ [ -s "$DB" ] && [ -s "$KEY" ]; } || fail "dpkg -r removed the database or the key (only purge does)"
dpkg --purge "$PKG" >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; fail "dpkg --purge"; }
INSTALLED=""
[ ! -e "$STATEDIR" ] || fail "$STATEDIR is still there after purge"
snapshot "$WORK/etc.after"
if ! cmp -s "$WORK/etc.before" "$WORK/etc.after"; then
    diff "$WORK/etc.before" "$WORK/etc.after" >&2 || true
    fail "/etc/apache2 is not as it was before the package"
fi
say "ok: removed and purged; /etc/apache2 as before ($(wc -l <"$WORK/etc.before") lines), $STATEDIR gone"
