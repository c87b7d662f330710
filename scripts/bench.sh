#!/bin/sh
# bench.sh: one run of the module's benchmark (make bench).
#
# Starts httpd (event MPM) with the module on a fresh SQLite database, loads
# data through the API, and measures with wrk, each for BENCH_SECONDS, in
# BENCH_ROUNDS rounds; in every round each measurement runs right after a
# run of the static file, and the table shows medians over the rounds (the
# ratio is the median of the per-round ratios):
#   static   the same httpd serving a static file as large as one instance
#   get      GET /instances/{id}
#   post     POST /instances (creates the big account's instances)
#   list     GET /instances?pageSize=N on a small account and on the big one
#   proxy    the static file through plain mod_proxy (ProxyPass, same httpd)
#   gateway  the same file through the gateway (AuthType CEInstances,
#            CEInstancesProxy On: an instance's Element token, its jira
#            credential put in); also shown as a ratio to proxy
# Prints a Markdown table (also written to build/bench.md): req/s, p99
# latency, ratio to static. Any non-2xx answer fails the run.
# BENCH_ONLY="get post list_small list_big" measures only those;
# BENCH_HOOK="cmd" runs cmd in the background as each measurement starts
# with the measurement name as $1 (e.g. perf record -a -g -o /tmp/$1.data -- sleep 5).
# httpd runs BENCH_PROCS children of BENCH_THREADS threads (default 1 x 50,
# the shape README advises for SQLite; Debian's mpm_event.conf has 2 x 25)
# with DBDMax BENCH_DBDMAX (default: one connection per thread); BENCH_MUTEX sets the ceinstances-db Mutex.
# The static file is served as well as httpd can: AllowOverride None (no
# .htaccess probe up the path on each request), so the ratios are fair
# (BENCH_OVERRIDE=All: httpd's default, the baseline before issue 15).
# BENCH_SWEEP=1 (make bench sets it) then measures throughput against
# concurrency (1, 4, 16, 64 connections, BENCH_SWEEP_SECONDS each) for
# static, GET, a list page and POST, and draws it with gnuplot into
# build/bench-concurrency.svg (the table in build/bench-concurrency.md).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
port=${BENCH_PORT:-8089}
secs=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNECTIONS:-16}
page=${BENCH_PAGE_SIZE:-20}
small=${BENCH_SMALL_ACCOUNT:-100}
work=$(mktemp -d /tmp/ce-bench.XXXXXX)
base="http://127.0.0.1:$port"
api="$base/elements/api-v2"

cleanup() {
    if [ -f "$work/httpd.pid" ]; then
        pid=$(cat "$work/httpd.pid")
        kill "$pid" 2>/dev/null || true
        n=0 # wait for the port to be free for the next run
        while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    fi
    if [ -n "${BENCH_KEEP:-}" ]; then echo "bench: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

for tool in wrk curl perl; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make deps)" >&2; exit 1; }
done

mods=/usr/lib/apache2/modules
mkdir -p "$work/htdocs"
run_as=""
if [ "$(id -u)" = 0 ]; then
    run_as="User nobody
Group nogroup"
    chown nobody:nogroup "$work"
fi
cat > "$work/httpd.conf" <<EOF
ServerRoot $work
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile $work/httpd.pid
ErrorLog $work/error.log
LogLevel warn
$run_as
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule mime_module $mods/mod_mime.so
LoadModule dbd_module $mods/mod_dbd.so
LoadModule authn_core_module $mods/mod_authn_core.so
LoadModule proxy_module $mods/mod_proxy.so
LoadModule proxy_http_module $mods/mod_proxy_http.so
LoadModule ceinstances_module $root/build/mod_ceinstances.so
TypesConfig /etc/mime.types
StartServers ${BENCH_PROCS:-1}
ServerLimit ${BENCH_PROCS:-1}
ThreadsPerChild ${BENCH_THREADS:-50}
ThreadLimit ${BENCH_THREADS:-50}
MaxRequestWorkers $(( ${BENCH_PROCS:-1} * ${BENCH_THREADS:-50} ))
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot $work/htdocs
<Directory />
    AllowOverride ${BENCH_OVERRIDE:-None}
</Directory>
DBDriver sqlite3
${BENCH_MUTEX:+Mutex $BENCH_MUTEX ceinstances-db}
DBDParams $work/bench.db
DBDMin 0
DBDKeep ${BENCH_DBDMAX:-${BENCH_THREADS:-50}}
DBDMax ${BENCH_DBDMAX:-${BENCH_THREADS:-50}}
CEInstancesCatalog $root/conf/elements.json
CEInstancesKeyFile $work/bench.key
CEInstancesOutboundAllow 127.0.0.1
<Location /elements/api-v2>
    SetHandler ceinstances
</Location>
# The provider's worker (connections kept alive and reused), which both
# ProxyPass and the gateway's calls to that URL use: as an operator declares
# the provider hosts the gateway calls.
<Proxy "http://127.0.0.1:$port/backend" ttl=60>
</Proxy>
<Location /plain>
    ProxyPass http://127.0.0.1:$port/backend
</Location>
<Location /gateway>
    AuthType CEInstances
    Require ce-instance
    CEInstancesProxy On
</Location>
EOF

json_field() { # json_field PERL-EXPR: reads JSON on stdin, prints $j->{...}
    perl -MJSON::PP -e 'local $/; my $j = JSON::PP::decode_json(<STDIN>); print '"$1"
}

"$root/build/ceadmin" keygen "$work/bench.key" >/dev/null
[ "$(id -u)" = 0 ] || chmod 600 "$work/bench.key"
ceadmin="$root/build/ceadmin --db sqlite3:$work/bench.db --key $work/bench.key"
signup=$($ceadmin signup --org Bench --email bench@example.com --first Bench --last User)
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$work"/bench.db*
org=$(echo "$signup" | json_field '$j->{organization}{secret}')
org_id=$(echo "$signup" | json_field '$j->{organization}{id}')
big_auth="User $(echo "$signup" | json_field '$j->{user}{secret}'), Organization $org"
small_user=$($ceadmin user-add --org-id "$org_id" --email small@example.com)
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$work"/bench.db*
small_auth="User $(echo "$small_user" | json_field '$j->{user}{secret}'), Organization $org"

if curl -s -o /dev/null "$base/"; then
    echo "bench: something already listens on port $port (BENCH_PORT)" >&2; exit 1
fi
/usr/sbin/apache2 -f "$work/httpd.conf" -k start
i=0
until curl -s -o /dev/null "$base/"; do
    i=$((i + 1)); [ $i -lt 50 ] || { cat "$work/error.log"; exit 1; }; sleep 0.1
done

body='{"element":{"key":"jira"},"name":"bench instance","tags":["bench","jira"],"configuration":{"jira.username":"bench","jira.password":"bench-password","jira.api.url":"https://jira.example.com"}}'
post() { # post AUTH: creates one instance, prints its JSON
    curl -sf -X POST -H "Authorization: $1" -H 'Content-Type: application/json' -d "$body" "$api/instances"
}
id=$(post "$big_auth" | json_field '$j->{id}')
n=0
while [ $n -lt "$small" ]; do post "$small_auth" >/dev/null; n=$((n + 1)); done
# The static twin: the very bytes GET /instances/{id} answers.
curl -sf -H "Authorization: $big_auth" "$api/instances/$id" > "$work/htdocs/instance.json"
size=$(wc -c < "$work/htdocs/instance.json")
# The gateway's provider: the same file, served by the same httpd.
mkdir -p "$work/htdocs/backend"
cp "$work/htdocs/instance.json" "$work/htdocs/backend/instance.json"
gw_token=$(curl -sf -X POST -H "Authorization: $big_auth" -H 'Content-Type: application/json' \
    -d '{"element":{"key":"jira"},"name":"gateway","configuration":{"jira.username":"bench","jira.password":"bench-password","jira.api.url":"'"$base/backend"'"}}' \
    "$api/instances" | json_field '$j->{token}')
gw_auth="$big_auth, Element $gw_token"

cat > "$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = [[$body]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "$big_auth"
EOF

results="$work/results"
: > "$results"
# measure NAME AUTH URL [LUA]: one wrk run, one line "name req/s p99 non2xx"
# httpd's CPU time so far (all its processes), in clock ticks.
httpd_cpu() {
    for p in $(pgrep -f "$work/httpd.conf"); do cat "/proc/$p/stat" 2>/dev/null; done |
        awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}
tick_us=$((1000000 / $(getconf CLK_TCK)))
measure() {
    if [ -n "${BENCH_HOOK:-}" ]; then sh -c "$BENCH_HOOK" hook "$1" & fi
    cpu0=$(httpd_cpu)
    out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency ${4:+-s "$4"} -H "Authorization: $2" "$3")
    cpu1=$(httpd_cpu)
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "$1 $rps $p99 ${bad:-0} $(( (cpu1 - cpu0) * tick_us / (n > 0 ? n : 1) ))" >> "$results"
}
# pair NAME AUTH URL [LUA]: the static file, then NAME right after it, so
# that each ratio compares runs made under the same machine conditions.
pair() {
    case " ${BENCH_ONLY:-$1} " in *" $1 "*) ;; *) return 0 ;; esac
    measure "static_$1" "$big_auth" "$base/instance.json"
    measure "$@"
}
# The httpd children's resident memory (kB, each child's VmRSS summed
# over the children; the parent's left out): at the start of the rounds
# and after each, so that growth under load shows.
children_rss() {
    parent=$(cat "$work/httpd.pid" 2>/dev/null)
    for p in $(pgrep -f "$work/httpd.conf"); do
        [ "$p" = "$parent" ] || awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null
    done | awk '{ t += $1 } END { print t + 0 }'
}
rss_log="$(children_rss)"
round=0
while [ $round -lt "$rounds" ]; do
    pair get "$big_auth" "$api/instances/$id"
    pair post "$big_auth" "$api/instances" "$work/post.lua"
    pair list_small "$small_auth" "$api/instances?pageSize=$page"
    pair list_big "$big_auth" "$api/instances?pageSize=$page"
    # (in turn first and second: a machine getting busier or quieter
    # during a round favours neither)
    if [ $((round % 2)) = 0 ]; then
        pair proxy "$big_auth" "$base/plain/instance.json"
        pair gateway "$gw_auth" "$base/gateway/instance.json"
    else
        pair gateway "$gw_auth" "$base/gateway/instance.json"
        pair proxy "$big_auth" "$base/plain/instance.json"
    fi
    round=$((round + 1))
    rss_log="$rss_log $(children_rss)"
done
big=$(sqlite3 "$work/bench.db" "SELECT count(*) FROM ce_instance WHERE user_id = (SELECT min(id) FROM ce_user)")

mkdir -p "$root/build"
perl -e '
    my ($size, $secs, $conns, $page, $small, $big, $rounds) = @ARGV;
    my %r; open my $f, "<", "'"$results"'" or die;
    while (<$f>) { my ($n, $rps, $p99, $bad, $cpu) = split; push @{$r{$n}}, [$rps, $p99, $bad, $cpu] }
    sub median { my @v = sort { $a <=> $b } @_; return $v[$#v / 2] }
    sub ms { my $t = shift; $t =~ /^([\d.]+)(us|ms|s)$/ or return 0;
             return $1 * {us => 0.001, ms => 1, s => 1000}->{$2} }
    my @rows = (
        [get => "GET /instances/{id}"],
        [post => "POST /instances"],
        [list_small => "GET /instances?pageSize=$page, account of $small"],
        [list_big => "GET /instances?pageSize=$page, account of $big (at the end)"],
        [proxy => "the static file through plain mod_proxy"],
        [gateway => "the static file through the gateway (CEInstancesProxy)"],
    );
    my (@static, %med);
    for (@rows) {
        my ($k) = @$_; next unless $r{$k};
        push @static, map { $_->[0] } @{$r{"static_$k"}};
        $med{$k} = {
            rps => median(map { $_->[0] } @{$r{$k}}),
            p99 => median(map { ms($_->[1]) } @{$r{$k}}),
            ratio => median(map { $r{$k}[$_][0] / $r{"static_$k"}[$_][0] } 0 .. $#{$r{$k}}),
            bad => eval { my $n = 0; $n += $_->[2] for @{$r{$k}}, @{$r{"static_$k"}}; $n },
            cpu => median(map { $_->[3] } @{$r{$k}}),
        };
    }
    print "wrk -t2 -c$conns -d${secs}s, keep-alive, loopback, 2 cores shared by wrk and httpd; ",
          "$rounds rounds, each run right after a run of the static file; medians\n\n";
    print "| request | req/s | p99 | vs static | httpd CPU/request | non-2xx |\n|---|---:|---:|---:|---:|---:|\n";
    printf "| static file, %d bytes (same httpd) | %.0f | %.2fms | 1.00x | %d µs | 0 |\n",
        $size, median(@static), median(map { ms($_->[1]) } map { @{$r{"static_$_->[0]"} || []} } @rows),
        median(map { $_->[3] } map { @{$r{"static_$_->[0]"} || []} } @rows);
    for (@rows) {
        my ($k, $label) = @$_; my $m = $med{$k} or next;
        printf "| %s | %.0f | %.2fms | %.2fx | %d µs | %d |\n", $label, $m->{rps}, $m->{p99}, $m->{ratio}, $m->{cpu}, $m->{bad};
    }
    printf "\nstatic file runs: %s req/s\n", join(", ", map { sprintf "%.0f", $_ } @static);
    printf "list page time, big account vs small: %.2fx\n", $med{list_small}{rps} / $med{list_big}{rps}
        if $med{list_big} && $med{list_small};
    printf "gateway vs plain mod_proxy: %.2fx (median of the rounds: %s)\n",
        median(map { $r{gateway}[$_][0] / $r{proxy}[$_][0] } 0 .. $#{$r{gateway}}),
        join(", ", map { sprintf "%.2f", $r{gateway}[$_][0] / $r{proxy}[$_][0] } 0 .. $#{$r{gateway}})
        if $r{gateway} && $r{proxy};
    printf "gateway vs plain mod_proxy in httpd CPU per request: %.2fx (%d vs %d µs)\n",
        $med{proxy}{cpu} / ($med{gateway}{cpu} || 1), $med{proxy}{cpu}, $med{gateway}{cpu}
        if $med{gateway} && $med{proxy};
' "$size" "$secs" "$conns" "$page" "$small" "$big" "$rounds" | tee "$root/build/bench.md"
echo "httpd children's RSS (kB) at the start and after each round: $rss_log" |
    tee -a "$root/build/bench.md"

if awk '$4 != 0 {bad = 1} END {exit !bad}' "$results"; then
    echo "bench: some requests failed (non-2xx); see the table" >&2
    exit 1
fi

# ---- throughput against concurrency (BENCH_SWEEP=1)
[ "${BENCH_SWEEP:-0}" != 0 ] || exit 0
sweep="$work/sweep"
: > "$sweep"
sweep_secs=${BENCH_SWEEP_SECONDS:-3}
for c in 1 4 16 64; do
    for m in static get list_small post; do
        case $m in
            static) url="$base/instance.json"; auth=$big_auth; lua="" ;;
            get) url="$api/instances/$id"; auth=$big_auth; lua="" ;;
            list_small) url="$api/instances?pageSize=$page"; auth=$small_auth; lua="" ;;
            post) url="$api/instances"; auth=$big_auth; lua="$work/post.lua" ;;
        esac
        out=$(wrk -t"$([ $c -lt 2 ] && echo 1 || echo 2)" -c"$c" -d"${sweep_secs}s" \
              ${lua:+-s "$lua"} -H "Authorization: $auth" "$url")
        echo "$m $c $(echo "$out" | awk '/^Requests\/sec/ {print $2}')" >> "$sweep"
    done
done
perl -e '
    my %r; open my $f, "<", "'"$sweep"'" or die;
    while (<$f>) { my ($m, $c, $rps) = split; $r{$c}{$m} = $rps }
    print "| connections | static | GET /instances/{id} | GET /instances?pageSize='"$page"' | POST /instances |\n";
    print "|---:|---:|---:|---:|---:|\n";
    for my $c (sort { $a <=> $b } keys %r) {
        printf "| %d | %.0f | %.0f | %.0f | %.0f |\n", $c, map { $r{$c}{$_} // 0 } qw(static get list_small post);
    }
' | tee "$root/build/bench-concurrency.md"
if command -v gnuplot >/dev/null; then
    for m in static get list_small post; do
        awk -v m=$m '$1 == m {print $2, $3}' "$sweep" > "$work/sweep-$m.dat"
    done
    gnuplot <<PLOT
set terminal svg size 720,420 dynamic font "sans,12"
set output "$root/build/bench-concurrency.svg"
set title "make bench: throughput against concurrency (wrk, keep-alive, loopback, 2 cores)"
set xlabel "connections"
set ylabel "requests per second"
set logscale x 2
set logscale y 10
set xtics (1, 4, 16, 64)
set key outside right
set grid
plot "$work/sweep-static.dat" with linespoints title "static file", \
     "$work/sweep-get.dat" with linespoints title "GET by id", \
     "$work/sweep-list_small.dat" with linespoints title "list, 20 a page", \
     "$work/sweep-post.dat" with linespoints title "POST"
PLOT
    echo "bench: plot in build/bench-concurrency.svg"
else
    echo "bench: gnuplot is missing (make deps): no plot" >&2
fi
