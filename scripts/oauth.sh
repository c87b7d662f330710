#!/bin/sh
# oauth.sh: the suite's OAuth 2 authorization server (t/oauth/provider.mjs,
# npm's oidc-provider), on loopback, owned by whoever runs this.
#
#   scripts/oauth.sh install      npm ci in t/oauth when its node_modules
#                                 is missing or older than the lockfile
#   scripts/oauth.sh start DIR    starts it on a free port (log and pid in
#                                 DIR); prints its base URL once it answers
#   scripts/oauth.sh stop DIR     stops it
#
# Node.js and npm come from scripts/deps.sh.
set -eu

die() { echo "oauth.sh: $*" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$top/scripts/lib.sh"

case "${1:-}" in
install)
    npm_install "$top/t/oauth" oauth.sh
    ;;
start)
    dir=$(cd "${2:?usage: oauth.sh start DIR}" && pwd)
    [ -d "$top/t/oauth/node_modules/oidc-provider" ] || die "run 'scripts/oauth.sh install' first"
    for try in 1 2 3 4 5; do
        port=$(perl -MIO::Socket::INET -MList::Util=shuffle -e '
            for my $p (shuffle 17432 .. 17631) {
                my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $p,
                                              Proto => "tcp", Listen => 1) or next;
                close $s; print $p; exit 0;
            }
            exit 1;') || die "no free port in 17432..17631"
        node "$top/t/oauth/provider.mjs" "$port" >"$dir/provider.log" 2>&1 &
        echo $! >"$dir/provider.pid"
        i=0
        while [ $i -lt 100 ]; do
            if grep -q "listening on" "$dir/provider.log" 2>/dev/null; then
                echo "http://127.0.0.1:$port"
                exit 0
            fi
            kill -0 "$(cat "$dir/provider.pid")" 2>/dev/null || break
            sleep 0.1
            i=$((i + 1))
        done
        kill "$(cat "$dir/provider.pid")" 2>/dev/null || true
    done
    cat "$dir/provider.log" >&2
    die "the provider did not start"
    ;;
stop)
    dir=${2:?usage: oauth.sh stop DIR}
    if [ -s "$dir/provider.pid" ]; then
        kill "$(cat "$dir/provider.pid")" 2>/dev/null || true
        rm -f "$dir/provider.pid"
    fi
    ;;
*) die "usage: oauth.sh install | start DIR | stop DIR" ;;
esac
