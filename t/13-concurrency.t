# 13-concurrency: many clients at once against the real server. Every other
# test sends one request at a time, which is how a deadlock between SQLite
# writers in one httpd process (apr-util's sqlite3 driver holds a
# process-wide mutex around sqlite3_step while SQLite's busy handler sleeps)
# went unnoticed: concurrent writes stalled for 10 s and more (under this
# test's load the old code stopped answering altogether). Three phases:
#
#   mixed  $CLIENTS forked clients, each with its own keep-alive user agent,
#          two per tenant, $OPS mixed requests each (POST jira, GET by id,
#          GET list, PUT name/tags, DELETE some of their own), all released
#          at once.
#   held   $HELD POSTs sent with "Expect: 100-continue": httpd answers
#          "100 Continue" only once the handler reads the body, so a 100 on
#          every socket proves $HELD requests sit in handlers at the same
#          time (server-side concurrency, not just client-side overlap); a
#          GET is answered meanwhile; then every body is sent at once, so
#          $HELD writers reach the database together. $HELD_ROUNDS rounds.
#   burst  $BURST forked clients, one POST each on a fresh connection (no
#          keep-alive), released at once.
#
# Each client writes what it got (status, timing, ids) to a file; the parent
# asserts: every answer 200 with the expected content, none slower than
# $SLOW s (the old deadlock: 10 s and more), requests really overlapped, created ids
# unique, and afterwards each tenant's list (paged) and the database hold
# exactly the created-and-not-deleted instances with their last tags.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use CETest;

use File::Path ();
use File::Temp ();
use POSIX ();
use Time::HiRes ();

my $CLIENTS = 8;     # mixed-phase client processes
my $OPS     = 40;    # requests per mixed-phase client
my $TENANTS = 4;     # clients 2k and 2k+1 share tenant k
my $HELD    = 8;     # POSTs held in handlers at once (each holds a mod_dbd
                     # connection: with the probe, 9 <= DBDMax's default 10)
my $HELD_ROUNDS = 5; # ... released together, this many times
my $BURST   = 32;    # one-shot POSTs on fresh connections
my $SLOW    = 5;     # seconds: any slower answer is a failure
my $TIMEOUT = 20;    # seconds: LWP / socket timeout per request
my $BUDGET  = 60;    # seconds: a client stops issuing requests after this
my $GIVE_UP = 3;     # ... or after this many requests the server did not answer

my $TOKEN = 'Elements-Next-Page-Token';
# The clients' records, under t/var (the suite's user may not write $TMPDIR).
my $var = Apache::Test::vars('t_dir') . '/var';
File::Path::make_path($var);
my $dir = File::Temp::tempdir('concurrency-XXXXXX', DIR => $var, CLEANUP => 1);
my @tenants = map { signup() } 1 .. $TENANTS;
# Apache::TestRequest's user agent waits 600 s by default.
Apache::TestRequest::user_agent(reset => 1);
Apache::TestRequest::user_agent()->timeout($TIMEOUT);
my $before = snapshot();

sub now { Time::HiRes::time() }

# ---------------------------------------------------------------- clients

# Forks $n clients running $body->($i, $record) once a common start signal
# comes (a pipe the parent closes). $record->(\%rec) appends one JSON line
# to the client's file. Returns the records of every client, in order.
sub run_clients {
    my($phase, $n, $body) = @_;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my @pids;
    for my $i (0 .. $n - 1) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            close $wr;
            my $rc = 0;
            eval {
                open my $out, '>', "$dir/$phase-$i" or die "open: $!";
                $out->autoflush(1);
                my $record = sub { print {$out} encode_json({ %{ $_[0] }, client => $i }), "\n" };
                # A user agent of its own, created after the fork.
                # (Apache::TestRequest sets its own timeout; ours comes after.)
                Apache::TestRequest::user_agent(reset => 1, keep_alive => $phase eq 'mixed' ? 1 : 0);
                Apache::TestRequest::user_agent()->timeout($TIMEOUT);
                sysread $rd, my $go, 1;    # blocks until the parent closes the pipe
                $body->($i, $record);
                print {$out} encode_json({ done => 1, client => $i }), "\n";
                close $out or die "close: $!";
                1;
            } or do {
                if (open my $out, '>>', "$dir/$phase-$i") {
                    print {$out} encode_json({ died => "$@", client => $i }), "\n";
                    close $out;
                }
                $rc = 2;
            };
            POSIX::_exit($rc);    # no END blocks, no Test::Builder output
        }
        push @pids, $pid;
    }
    close $rd;
    Time::HiRes::sleep(0.5);    # let every client set up its user agent
    my $t0 = now();
    close $wr;                  # go
    my %exit;
    my $deadline = now() + $BUDGET + 2 * $TIMEOUT + 30;
    while (keys %exit < @pids) {
        for my $p (grep { !exists $exit{$_} } @pids) {
            $exit{$p} = $? if waitpid($p, POSIX::WNOHANG()) == $p;
        }
        last if keys %exit == @pids;
        if (now() > $deadline) {
            for my $p (grep { !exists $exit{$_} } @pids) {
                kill 'KILL', $p;
                waitpid $p, 0;
                $exit{$p} = 'killed';
            }
            last;
        }
        Time::HiRes::sleep(0.05);
    }
    my $wall = now() - $t0;
    my @all;
    for my $i (0 .. $n - 1) {
        my @recs;
        if (open my $in, '<', "$dir/$phase-$i") {
            @recs = map { decode_json($_) } grep { /\S/ } <$in>;
        }
        push @all, \@recs;
    }
    my @bad = grep { ($exit{$pids[$_]} // '') ne '0' } 0 .. $#pids;
    is scalar @bad, 0, "$phase: all $n clients exited cleanly"
        or diag join "\n", map { "client $_: exit $exit{$pids[$_]}; " .
                                 join ' ', map { $_->{died} // () } @{ $all[$_] } } @bad;
    is scalar(grep { grep { $_->{done} } @$_ } @all), $n, "$phase: all $n clients finished";
    return(\@all, $wall);
}

# One timed request through CETest::api; the record holds what the parent
# checks. $check->($res) returns a problem (string) or nothing. Counts (per
# client process) the requests made and those the server did not answer.
our($REQUESTS, $UNANSWERED) = (0, 0);
sub timed {
    my($record, $what, $method, $path, %o) = @_;
    my $check = delete $o{check};
    my $t0 = now();
    my $res = api($method => $path, %o);
    my $t1 = now();
    $REQUESTS++;
    # LWP's own answer when the server's never came (e.g. "500 read timeout").
    my $none = ($res->header('Client-Warning') // '') eq 'Internal response';
    my %rec = (what => $what, method => $method, path => $path, status => $res->code,
               t0 => $t0, t1 => $t1, conn_req => $res->header('Client-Response-Num') // 0,
               ($none ? (no_answer => 1) : ()));
    $UNANSWERED++ if $none;
    my $problem = $none ? sprintf('no answer from the server after %.1f s (%s)', $t1 - $t0,
                                  $res->res->message)
        : $res->code == 200 ? ($check ? $check->($res) : undef)
        : 'status ' . $res->code;
    if ($problem) {
        $rec{problem} = $problem;
        $rec{describe} = $res->describe;
    }
    $record->(\%rec);
    return $res;
}

# Problems of an instance answer against what we expect of it.
sub instance_problem {
    my($res, %x) = @_;
    my $j = $res->json;
    return 'not an instance: ' . $res->content unless ref $j eq 'HASH';
    return "id $j->{id}, expected $x{id}" if defined $x{id} and ($j->{id} // '') ne $x{id};
    return 'no id' unless ($j->{id} // '') =~ /^[1-9]\d*$/;
    return "name '$j->{name}', expected '$x{name}'" if ($j->{name} // '') ne $x{name};
    my $tags = encode_json($j->{tags} // []);
    return "tags $tags, expected " . encode_json($x{tags}) if $tags ne encode_json($x{tags});
    return;
}

# The largest number of requests in flight at once, over [t0, t1] windows.
sub max_overlap {
    my @ev = sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] }
             map { ([$_->{t0}, 1], [$_->{t1}, -1]) } @_;
    my($cur, $max) = (0, 0);
    for (@ev) { $cur += $_->[1]; $max = $cur if $cur > $max }
    return $max;
}

sub first5 { @_ > 5 ? @_[0 .. 4] : @_ }

# The assertions on one phase's records: every request made and answered
# 200 with the expected content, none $SLOW s or slower, at least
# $min_overlap in flight at once; a diag line with the numbers.
sub phase_checks {
    my($phase, $all, $wall, $want_requests, $min_overlap) = @_;
    my @reqs = grep { defined $_->{status} } map { @$_ } @$all;
    is scalar @reqs, $want_requests, "$phase: all $want_requests requests made"
        or diag join "\n", map { "client $_->{client} gave up $_->{gave_up}" }
                           grep { $_->{gave_up} } map { @$_ } @$all;

    my @failed = grep { $_->{problem} && $_->{status} != 200 } @reqs;
    my $unanswered = grep { $_->{no_answer} } @failed;
    is scalar @failed, 0, "$phase: every request answered 200 (" . scalar(@reqs) . ' requests)'
        or diag sprintf("%d failed (%d without an answer within %d s, %d with an HTTP error); the first:\n",
                        scalar @failed, $unanswered, $TIMEOUT, @failed - $unanswered),
                join "\n", map { "  client $_->{client} $_->{what}: $_->{problem}\n    $_->{describe}" }
                           first5(@failed);
    my @wrong = grep { $_->{problem} && $_->{status} == 200 } @reqs;
    is scalar @wrong, 0, "$phase: every 200 answer has the expected content"
        or diag join "\n", map { "client $_->{client} $_->{what}: $_->{problem}\n  $_->{describe}" }
                           first5(@wrong);

    my @by_time = sort { $b->{t1} - $b->{t0} <=> $a->{t1} - $a->{t0} } @reqs;
    my $max = @by_time ? $by_time[0]{t1} - $by_time[0]{t0} : 0;
    my @slow = grep { $_->{t1} - $_->{t0} >= $SLOW } @by_time;
    ok $max < $SLOW, sprintf '%s: slowest request %.3f s < %d s', $phase, $max, $SLOW
        or diag sprintf("%d of %d requests took %d s or more; the slowest:\n", scalar @slow,
                        scalar @reqs, $SLOW),
                join "\n", map { sprintf '  client %d %s %s -> %d in %.3f s', $_->{client},
                                     $_->{method}, $_->{path}, $_->{status}, $_->{t1} - $_->{t0} }
                           first5(@slow);

    my $overlap = max_overlap(@reqs);
    ok $overlap >= $min_overlap,
        "$phase: requests overlapped ($overlap in flight at once, want >= $min_overlap)";

    my($busy, $keepalive, %ops) = (0, 0);
    for (@reqs) {
        $busy += $_->{t1} - $_->{t0};
        $ops{ $_->{what} }++;
        $keepalive = $_->{conn_req} if $_->{conn_req} > $keepalive;
    }
    diag sprintf '%s: %d requests (%s) by %d clients in %.2f s; max %d in flight, mean %.1f; '
               . 'slowest %.3f s; most requests on one connection: %d',
        $phase, scalar @reqs, join(', ', map { "$_ $ops{$_}" } sort keys %ops), scalar @$all,
        $wall, $overlap, $wall > 0 ? $busy / $wall : 0, $max, $keepalive;
    return { requests => \@reqs, keepalive => $keepalive };
}

# ---------------------------------------------------------------- mixed

my($mixed, $mixed_wall) = run_clients(mixed => $CLIENTS, sub {
    my($i, $record) = @_;
    my $t = $tenants[$i % $TENANTS];
    srand(1300 + $i);
    my %live;       # id => { name, tags } as this client last wrote it
    my %gone;       # ids this client deleted
    my $n = 0;
    my $stop = now() + $BUDGET;
    my $create = sub {
        my %b = (name => "mix-$i-" . ++$n, tags => ["c$i", "n$n"]);
        my $res = timed($record, 'create', POST => 'instances', auth => $t,
            json => { element => { key => 'jira' }, configuration => valid_config('jira'), %b },
            check => sub { instance_problem($_[0], %b) });
        my $j = $res->json;
        if ($res->code == 200 and ref $j eq 'HASH' and $j->{id}) {
            $live{ $j->{id} } = \%b;
            $record->({ created => $j->{id}, name => $b{name}, tags => $b{tags} });
        }
    };
    $create->();
    for my $op (2 .. $OPS) {
        my $why = $UNANSWERED >= $GIVE_UP ? "$UNANSWERED requests got no answer"
                : now() > $stop ? "$BUDGET s budget spent" : undef;
        if ($why) {
            $record->({ gave_up => "after $REQUESTS requests: $why" });
            last;
        }
        my @ids = sort { $a <=> $b } keys %live;
        my $r = rand;
        if (!@ids or $r < 0.35) {
            $create->();
        }
        elsif ($r < 0.55) {
            my $id = $ids[rand @ids];
            timed($record, 'get', GET => "instances/$id", auth => $t,
                  check => sub { instance_problem($_[0], id => $id, %{ $live{$id} }) });
        }
        elsif ($r < 0.62) {
            # This client's instances are changed by nobody else: every one
            # it holds must be listed, none it deleted.
            timed($record, 'list', GET => 'instances?pageSize=500', auth => $t, check => sub {
                my %got = map { $_ => 1 } @{ ids_of($_[0]->json) };
                my @missing = grep { !$got{$_} } sort keys %live;
                my @back = grep { $got{$_} } sort keys %gone;
                @missing ? "own instances missing from the list: @missing"
                    : @back ? "deleted instances listed: @back" : undef;
            });
        }
        elsif ($r < 0.85) {
            my $id = $ids[rand @ids];
            my %b = (name => "mix-$i-put-" . ++$n, tags => ["c$i", "p$n", 'updated']);
            my $res = timed($record, 'update', PUT => "instances/$id", auth => $t, json => \%b,
                            check => sub { instance_problem($_[0], id => $id, %b) });
            if ($res->code == 200) {
                $live{$id} = \%b;
                $record->({ updated => $id, name => $b{name}, tags => $b{tags} });
            }
        }
        else {
            my $id = $ids[rand @ids];
            my $res = timed($record, 'delete', DELETE => "instances/$id", auth => $t);
            if ($res->code == 200) {
                delete $live{$id};
                $gone{$id} = 1;
                $record->({ deleted => $id });
            }
        }
    }
});

my $m = phase_checks(mixed => $mixed, $mixed_wall, $CLIENTS * $OPS, $CLIENTS / 2);
ok $m->{keepalive} > 1, 'mixed: clients reused their keep-alive connections';

# ---------------------------------------------------------------- held

# Raw HTTP/1.1 on sockets we control (CETest's raw_*): the headers of a
# create that waits for "100 Continue" before its body.
sub raw_post_headers {
    my($t, $len) = @_;
    return raw_bytes(POST => 'instances', auth => $t,
                     headers => ['Content-Type' => 'application/json', 'Content-Length' => $len,
                                 'Expect' => '100-continue', 'Connection' => 'close']);
}

# One round: $HELD POSTs wait in handlers (100 Continue), a GET is sent
# meanwhile, then every body goes at once. Returns what the parent checks.
sub held_round {
    my $round = shift;
    my(@conns, @bodies, @want, %r);
    for my $i (0 .. $HELD - 1) {
        my $t = $tenants[$i % $TENANTS];
        # Several tags: a longer write transaction (one INSERT per tag).
        my %b = (name => "held-$round-$i", tags => ['held', "r$round", map { "h$i-$_" } 1 .. 4]);
        $want[$i] = \%b;
        $bodies[$i] = encode_json({ element => { key => 'jira' },
                                    configuration => valid_config('jira'), %b });
        $conns[$i] = raw_connect(timeout => $TIMEOUT);
        $conns[$i]->send(raw_post_headers($t, length $bodies[$i]));
    }
    # Each socket's first answer: all of its head.
    raw_read(\@conns, until => 'head', timeout => $TIMEOUT);
    my @first = map { $_->bytes } @conns;
    $r{in_handler} = grep { m{^HTTP/1\.1 100 } } @first;
    $r{no_100} = [map { "round $round, POST $_: " . (length $first[$_]
                            ? $first[$_] =~ s/\r\n\r\n.*//sr : "nothing within $TIMEOUT s") }
                  grep { $first[$_] !~ m{^HTTP/1\.1 100 } } 0 .. $#first];

    # With every one of them holding a worker, another request is answered.
    my $t0 = now();
    $r{probe} = api(GET => 'instances?pageSize=1', auth => $tenants[$round % $TENANTS]);
    $r{probe_time} = now() - $t0;

    # Release every body at once: $HELD writers reach the database together.
    my $release = now();
    $conns[$_]->send($bodies[$_]) for 0 .. $#conns;
    raw_read(\@conns, until => 'response', deadline => $release + $TIMEOUT);
    $r{slowest} = 0;
    for my $i (0 .. $#conns) {
        my $resp = $conns[$i]->response;
        (my $raw = $resp->{raw}) =~ s{^HTTP/1\.1 100 [^\r\n]*\r\n\r\n}{};
        my $took = defined $resp->{at} && length $raw ? $resp->{at} - $release : 9e9;
        $r{slowest} = $took if $took > $r{slowest};
        my $j = eval { decode_json($resp->{body}) };
        my $problem = !length $raw ? "no answer within $TIMEOUT s"
            : $resp->{status} != 200 ? "status $resp->{status}"
            : !$resp->{complete} ? "incomplete answer within $TIMEOUT s"
            : ref $j ne 'HASH' ? 'not JSON'
            : ($j->{name} // '') ne $want[$i]{name} ? "name $j->{name}"
            : encode_json($j->{tags} // []) ne encode_json($want[$i]{tags}) ? 'tags ' . encode_json($j->{tags})
            : undef;
        if ($problem) {
            push @{ $r{bad} }, "round $round, POST $i: $problem: " . substr($raw, 0, 400);
            next;
        }
        push @{ $r{created} }, [$j->{id}, $i % $TENANTS, $want[$i]];
    }
    $_->close for @conns;
    return \%r;
}

# Rounds stop at the first that goes wrong (a wedged server would make
# every further round wait $TIMEOUT s per step).
my @held;
for my $round (1 .. $HELD_ROUNDS) {
    my $r = held_round($round);
    push @held, $r;
    last if @{ $r->{no_100} } or $r->{bad} or $r->{probe}->code != 200
        or $r->{probe_time} >= $SLOW or $r->{slowest} >= $SLOW;
}
my @held_created = map { @{ $_->{created} || [] } } @held;
{
    is scalar @held, $HELD_ROUNDS, "held: all $HELD_ROUNDS rounds run";
    my $n = $HELD * @held;
    my @no_100 = map { @{ $_->{no_100} } } @held;
    is scalar @no_100, 0, "held: in each round all $HELD POSTs answered "
                          . '100 Continue, i.e. were in handlers at the same time'
        or diag join "\n", first5(@no_100);
    my @probe_bad = grep { $_->{probe}->code != 200 } @held;
    is scalar @probe_bad, 0, "held: each round, a GET is answered while $HELD requests hold workers"
        or diag $probe_bad[0]{probe}->describe;
    my($probe_max) = sort { $b <=> $a } map { $_->{probe_time} } @held;
    ok $probe_max < $SLOW, sprintf 'held: ... within %d s (slowest %.3f s)', $SLOW, $probe_max;
    my @bad = map { @{ $_->{bad} || [] } } @held;
    is scalar @bad, 0, "held: all $n released POSTs answered 200 with the expected content"
        or diag join "\n", first5(@bad);
    my($max) = sort { $b <=> $a } map { $_->{slowest} } @held;
    my $max_text = $max < 9e9 ? sprintf('%.3f s', $max) : "none within $TIMEOUT s";
    ok $max < $SLOW, "held: slowest answer after a release $max_text < $SLOW s";
    diag sprintf 'held: %d rounds; in handlers at once: %s; GET meanwhile: slowest %.3f s; '
               . 'slowest POST after a release: %s',
        scalar @held, join('/', map { $_->{in_handler} } @held), $probe_max, $max_text;
}

# ---------------------------------------------------------------- burst

my($burst, $burst_wall) = run_clients(burst => $BURST, sub {
    my($i, $record) = @_;
    my $t = $tenants[$i % $TENANTS];
    my %b = (name => "burst-$i", tags => ['burst']);
    my $res = timed($record, 'create', POST => 'instances', auth => $t,
        json => { element => { key => 'jira' }, configuration => valid_config('jira'), %b },
        check => sub { instance_problem($_[0], %b) });
    my $j = $res->json;
    $record->({ created => $j->{id}, name => $b{name}, tags => $b{tags} })
        if $res->code == 200 and ref $j eq 'HASH' and $j->{id};
});

my $bu = phase_checks(burst => $burst, $burst_wall, $BURST, 8);
is $bu->{keepalive}, 1, 'burst: every POST on a fresh connection';

# ---------------------------------------------------------------- checks

# What each tenant must hold: created and not deleted, with the last
# name and tags written (each client changes only its own instances).
my(%expect, @created);
for my $recs (@$mixed, @$burst) {
    for my $r (@$recs) {
        if (defined $r->{created}) {
            push @created, $r->{created};
            $expect{ $r->{client} % $TENANTS }{ $r->{created} } = { name => $r->{name}, tags => $r->{tags} };
        }
        elsif (defined $r->{updated}) {
            $expect{ $r->{client} % $TENANTS }{ $r->{updated} } = { name => $r->{name}, tags => $r->{tags} };
        }
        elsif (defined $r->{deleted}) {
            delete $expect{ $r->{client} % $TENANTS }{ $r->{deleted} };
        }
    }
}
for my $c (@held_created) {
    my($id, $k, $w) = @$c;
    push @created, $id;
    $expect{$k}{$id} = { name => $w->{name}, tags => $w->{tags} };
}
my %seen;
my @dup = grep { $seen{$_}++ } @created;
is scalar @dup, 0, scalar(@created) . ' created ids are unique' or diag "duplicates: @dup";
# At least: every burst and held POST, and each mixed client's first.
my $min_creates = $BURST + $HELD * $HELD_ROUNDS + $CLIENTS;
ok @created >= $min_creates, 'created ' . scalar(@created) . " instances (at least $min_creates)";

# A wedged server (the old deadlock) would make every list request below
# wait $TIMEOUT s: ask once, and if it does not answer, fail the lists at once.
my $alive = api(GET => 'instances?pageSize=1', auth => $tenants[0]);
my $answers = $alive->code == 200;
ok $answers, 'the server answers after the concurrent phases' or diag $alive->describe;

my($live_total, $tag_total) = (0, 0);
for my $k (0 .. $TENANTS - 1) {
    my $t = $tenants[$k];
    my $want = $expect{$k} || {};
    my @want_ids = sort { $b <=> $a } keys %$want;
    $live_total += @want_ids;
    $tag_total += @{ $_->{tags} } for values %$want;

    for my $size (500, 7) {
        if (!$answers) {
            fail "tenant $k: the list (pageSize=$size): the server does not answer";
            next;
        }
        my(@got, $next, $pages, $ok);
        $ok = 1;
        while (1) {
            my $res = api(GET => "instances?pageSize=$size" . (defined $next ? "&nextPage=$next" : ''),
                          auth => $t);
            $ok &&= is $res->code, 200, "tenant $k: list page " . ++$pages . " (pageSize=$size)"
                or diag $res->describe;
            push @got, @{ $res->list };
            $next = $res->header($TOKEN);
            last unless defined $next and $res->code == 200 and $pages < 1000;
        }
        is_deeply ids_of(\@got), \@want_ids,
            "tenant $k: the list (pageSize=$size, $pages pages) is exactly the "
            . scalar(@want_ids) . ' created-and-not-deleted instances, newest first';
        next unless $size == 500;
        is_deeply { map { $_->{id} => { name => $_->{name}, tags => $_->{tags} } } @got }, $want,
            "tenant $k: each listed instance has its last name and tags";
    }
    is_deeply db_instances($t), { map { $_ => [sort @{ $want->{$_}{tags} }] } keys %$want },
        "tenant $k: the database holds exactly those instances and tag rows";
}

# Every acknowledged change has exactly one event, no more (issue 14: it
# is recorded in the change's own transaction, group-committed creates
# included), and the event log pages through them all.
my %want_events; # tenant => { "TYPE id" => count }
for my $recs (@$mixed, @$burst) {
    for my $r (@$recs) {
        my $w = $want_events{ $r->{client} % $TENANTS } ||= {};
        $w->{"CREATED $r->{created}"}++ if defined $r->{created};
        $w->{"UPDATED $r->{updated}"}++ if defined $r->{updated};
        $w->{"DELETED $r->{deleted}"}++ if defined $r->{deleted};
    }
}
$want_events{ $_->[1] }{"CREATED $_->[0]"}++ for @held_created;
for my $k (0 .. $TENANTS - 1) {
    my(%got, $next, $pages);
    while ($answers) {
        my $res = api(GET => 'instances/events?pageSize=97' . (defined $next ? "&nextPage=$next" : ''),
                      auth => $tenants[$k]);
        last unless $res->code == 200;
        $got{"$_->{eventType} $_->{instanceId}"}++ for @{ $res->list };
        $next = $res->header($TOKEN);
        last unless defined $next and ++$pages < 1000;
    }
    is_deeply \%got, $want_events{$k} || {},
        "tenant $k: one event per acknowledged change (" . scalar(keys %{ $want_events{$k} || {} })
        . ' changes), read back a page at a time';
}

my $after = snapshot();
my($rows_before) = $before->{ce_instance} =~ /rows:(\d+)/;
my($rows_after)  = ($after->{ce_instance} // '') =~ /rows:(\d+)/;
is $rows_after - $rows_before, $live_total, "ce_instance: $live_total rows more than before";
my($tags_before) = ($before->{ce_instance_tag} // 'rows:0') =~ /rows:(\d+)/;
my($tags_after)  = ($after->{ce_instance_tag} // '') =~ /rows:(\d+)/;
is $tags_after - $tags_before, $tag_total, "ce_instance_tag: $tag_total rows more than before";
is $after->{$_}, $before->{$_}, "$_: untouched" for qw(ce_organization ce_user);

done_testing;
