#!/bin/sh
# test-readme.sh: the README's API examples, top to bottom, against a
# `make run` server of their own (part of `make test`; `make test-readme`).
#
# What runs: every ```sh block of the README's "## The API" section, in
# order, in one shell (assignments such as API=, AUTH=, ETAG= carry on).
# Every command with curl in it must end with a marker comment:
#
#   # → 200                     the status the last curl of the command gets
#   # → 200 `"disabled":true`   ... and text its output must contain
#   # → skip: REASON            not run (needs what the demo server lacks:
#                               an OAuth provider, a Location, CORS origins);
#                               listed in the output
#
# Placeholders are filled in as the examples go: <USER_SECRET> and
# <ORG_SECRET> (the demo tenant's), <INSTANCE_TOKEN> (the last instance
# token an answer showed), <EVENT_ID> (the first eventId of the last
# answer showing one), <Elements-Next-Page-Token> (the last such header),
# <SIGNING_KEY>; 127.0.0.1:8080 becomes the test server's address.
#
# The server: scripts/run.sh with CE_RUN_DIR a new temporary directory and
# PORT a free port (a developer's own var/ and port 8080 are not touched),
# stopped on every exit path. As root, run.sh runs httpd's children as
# nobody. A last, deliberately wrong example (a canary) must fail, or the
# checking itself is broken. Usage: scripts/test-readme.sh [README]
set -eu

README=$(realpath "${1:-$(dirname "$0")/../README.md}")
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
TOP_DIR=$(pwd)
if [ ! -e build/mod_ceinstances.so ] || [ ! -e build/ceadmin ]; then
    echo "test-readme: build first (make all)" >&2
    exit 1
fi
[ -r "$README" ] || { echo "test-readme: no $README" >&2; exit 1; }

work=$(mktemp -d /tmp/ce-readme.XXXXXX)
chmod 0755 "$work"
T=$work/t
mkdir "$T" "$T/state"
run_pid=""
cleanup() {
    if [ -s "$work/var/run/httpd.pid" ]; then
        CE_RUN_DIR=$work/var "$TOP_DIR/scripts/run.sh" stop >/dev/null 2>&1 || true
    fi
    if [ -n "$run_pid" ]; then
        kill "$run_pid" 2>/dev/null || true
        wait "$run_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
[ -n "${CE_README_KEEP:-}" ] && trap - EXIT
trap 'exit 1' INT TERM HUP

PORT=$(perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)
        or die "no free port: $!\n";
    print $s->sockport, "\n";')

# The examples, as a shell script (perl: markdown in, sh out).
perl -e '
    my($readme) = @ARGV;
    open my $fh, "<", $readme or die "$readme: $!\n";
    my($in, $block, $quote, $n, @cmd) = (0, 0, 0, 0);
    my $q = sub { my $s = shift; $s =~ s/\x27/\x27\\\x27\x27/g; "\x27$s\x27" };
    while (my $l = <$fh>) {
        chomp $l;
        if ($l =~ /^## /) { $in = $l =~ /^## The API\b/; next }
        next unless $in;
        if (!$block) { $block = 1 if $l =~ /^\s*```sh\s*$/; next }
        if (!@cmd && $l =~ /^\s*```\s*$/) { $block = 0; next }
        next if !@cmd && $l =~ /^\s*(#.*)?$/;    # comments and blank lines between commands
        my $ln = 0 + $.;
        push @cmd, [$ln, $l];
        # single quotes open across lines (a JSON body); a trailing \ continues
        my $code = $l;
        $code =~ s/"[^"\x27]*"//g unless $quote;
        $quote ^= 1 for $code =~ /\x27/g;
        next if $quote || $l =~ /\\$/;
        my $text = join "\n", map { $_->[1] } @cmd;
        my $line = $cmd[0][0];
        @cmd = ();
        $n++;
        my($want, $check, $skip) = ("", "", undef);
        if ($text =~ s/\s+#\s*→\s*skip:\s*(.*)$//) {
            $skip = $1;
        } elsif ($text =~ s/\s+#\s*→\s*(\d{3})(?:\s+`([^`]*)`)?[^\n]*$//) {
            ($want, $check) = ($1, $2 // "");
        } elsif ($text =~ /\bcurl\b/) {
            print "unmarked $line\n";
            next;
        }
        if (defined $skip) {
            print "skipped $line ", $q->($skip), "\n";
            next;
        }
        print "example $line ", $q->($want), " ", $q->($check), " <<\x27CE_README_EXAMPLE\x27\n",
              $text, "\nCE_README_EXAMPLE\n";
    }
    die "$readme: a command without its end (an open quote?) at line $cmd[0][0]\n" if @cmd;
    die "$readme: no examples in \"## The API\"\n" unless $n;
' "$README" >"$T/examples.sh"

# The placeholders' values, from the state directory, into stdin's text.
subst() {
    PORT=$PORT STATE=$T/state DEMO=$work/var/demo.json perl -MJSON::PP -e '
        local $/;
        my $text = <STDIN>;
        my $demo = do { open my $fh, "<", $ENV{DEMO} or die "$!\n"; decode_json(<$fh>) };
        my %v = (USER_SECRET => $demo->{user}{secret},
                 ORG_SECRET => $demo->{organization}{secret}, SIGNING_KEY => "readme-signing-key");
        for my $k (qw(INSTANCE_TOKEN EVENT_ID Elements-Next-Page-Token)) {
            open my $fh, "<", "$ENV{STATE}/$k" or next;
            ($v{$k} = <$fh>) =~ s/\s+\z//;
        }
        $text =~ s{<([A-Za-z_-]+)>}{
            defined $v{$1} ? $v{$1} : die "no value for <$1> yet (no answer showed one)\n"
        }ge;
        $text =~ s{127\.0\.0\.1:8080}{127.0.0.1:$ENV{PORT}}g;
        print $text;'
}

# curl as the examples call it, recording the status of each call (also
# from a $(...) subshell: in a file) and what the answer shows for the
# placeholders of the examples after it.
curl() {
    command curl -sS -D "$T/headers" "$@" >"$T/body" || { cat "$T/body"; return 1; }
    cat "$T/body"
    awk '/^HTTP\//{ s = $2 } END { print s }' "$T/headers" >>"$T/calls"
    STATE=$T/state perl -MJSON::PP -e '
        my($h, $b) = @ARGV;
        sub put { open my $fh, ">", "$ENV{STATE}/$_[0]" or die; print $fh "$_[1]\n" }
        open my $fh, "<", $h or exit;
        while (<$fh>) { put("Elements-Next-Page-Token", $1) if /^Elements-Next-Page-Token:\s*(\S+)/i }
        local $/;
        open $fh, "<", $b or exit;
        my $text = <$fh>;
        $text =~ s/\A.*?\r\n\r\n(?=[\[{])//s;      # curl -i: headers first
        my $j = eval { decode_json($text) } or exit;
        put("INSTANCE_TOKEN", $j->{token}) if ref $j eq "HASH" && defined $j->{token};
        my @ev = ref $j eq "ARRAY" ? @$j : ($j);
        for (@ev) { if (ref $_ eq "HASH" && $_->{eventId}) { put("EVENT_ID", $_->{eventId}); last } }
    ' "$T/headers" "$T/body"
}

pass=0
fail=0
skip=0
failed=""

# example LINE WANT CHECK <<text: runs the command (placeholders filled)
# in this shell; with WANT, its last curl must get that status, and its
# output contain CHECK.
example() {
    line=$1 want=$2 check=$3
    cmd=$(cat)
    shown=$(printf '%s\n' "$cmd" | head -n 1)
    : >"$T/calls"
    why=""
    if ! filled=$(printf '%s\n' "$cmd" | subst 2>"$T/subst.err"); then
        why=$(cat "$T/subst.err")
    elif ! eval "$filled" >"$T/out" 2>"$T/err"; then
        why="the command failed: $(head -c 300 "$T/err")"
    elif [ -n "$want" ]; then
        got=$(tail -n 1 "$T/calls")
        if [ -z "$got" ]; then
            why="no HTTP answer"
        elif [ "$got" != "$want" ]; then
            why="status $got, the README says $want"
        elif [ -n "$check" ] && ! grep -qF -- "$check" "$T/out"; then
            why="the answer lacks $check"
        fi
    fi
    if [ -z "$why" ]; then
        pass=$((pass + 1))
        printf 'ok   README line %s: %s%s\n' "$line" "$shown" "${want:+  → $want}"
    else
        fail=$((fail + 1))
        failed="$failed $line"
        printf 'FAIL README line %s: %s\n     %s\n' "$line" "$shown" "$why"
        [ -s "$T/out" ] && printf '     answer: %s\n' "$(head -c 400 "$T/out")"
    fi
    return 0
}

skipped() {
    skip=$((skip + 1))
    echo "skip README line $1: $2"
}

unmarked() {
    fail=$((fail + 1))
    failed="$failed $1"
    echo "FAIL README line $1: a curl command without a '# → STATUS' or '# → skip: why' marker"
}

# The server.
CE_RUN_DIR=$work/var PORT=$PORT scripts/run.sh >"$work/run.out" 2>&1 &
run_pid=$!
wait_run_server "$work/run.out" "$run_pid" test-readme
echo "test-readme: $README's API examples against scripts/run.sh on 127.0.0.1:$PORT ($work/var)"

# In a directory of their own: an example may write a file (curl -o).
cd "$T"
. "$T/examples.sh"
cd "$TOP_DIR"

# The canary: an example the README would get wrong must fail here.
before=$fail
failed_before=$failed
example canary 200 '' <<'CE_README_EXAMPLE' >/dev/null
curl -H "$AUTH" "$API/instances/987654321"
CE_README_EXAMPLE
if [ "$fail" -ne $((before + 1)) ]; then
    echo "test-readme: FAIL: a wrong example (404 expected as 200) passed: the checking is broken"
    exit 1
fi
fail=$before
failed=$failed_before

echo "test-readme: $pass passed, $fail failed, $skip skipped (marked '# → skip:')"
if [ "$fail" -ne 0 ] || [ "$pass" -eq 0 ]; then
    echo "test-readme: FAIL (README lines:$failed)" >&2
    exit 1
fi
