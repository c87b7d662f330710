# 43-event-delivery: events sent to the instance's callback URL (issue 14).
# Two nodes share a database of this test's own, each running the
# background job (CEInstancesEventRetry 1 3: waits of about 1 and 3 s, given
# up after 3 attempts); a receiver (another real httpd, a CGI) checks every
# signature with Perl's Digest::SHA and records what arrived, holding each
# delivery 0.2 s so that two senders of one event would overlap.
#
#   - with the receiver up, every change's event arrives once, signed, with
#     Elements-Webhook-Id = eventId, and the log says DELIVERED;
#   - with the receiver down for a while, the log says RETRYING with the
#     reason, and every event arrives once it is back;
#   - a destination the outbound guard refuses, or nothing listening: the
#     reason in lastError; FAILED after 3 attempts; sent again on request;
#   - a wrong key shows (the receiver's check can fail), no key: unsigned;
#   - a burst of changes: each one's event arrives once, several at a time
#     (each node sends several events at once);
#   - no event is ever being sent by two nodes at once;
#   - a node stopped while deliveries are under way exits cleanly, and the
#     other node delivers the rest.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Fcntl qw(:flock);
use File::Path ();
use File::Temp ();
use Time::HiRes ();
use Apache::Test qw(-withtestmore);
use CETest;

my $MODS = '/usr/lib/apache2/modules';
my $KEY = 'hook-signing-key-5d0e9a';
remember_secrets($KEY, 'other-key-77b1');
my $driver = Apache::Test::vars('ce_dbd_driver');
my $tdir = Apache::Test::vars('t_dir');
my $dir = File::Temp::tempdir('43-events-XXXXXX', DIR => "$tdir/var",
                              CLEANUP => !$ENV{CE_TEST_KEEP});
my $hooks = "$dir/hooks";
mkdir $hooks or die $!;
chmod 0777, $hooks; # the receiver's CGI runs as the node's user
my $params = $driver eq 'sqlite3' ? "$dir/events.db" : pg_createdb("ce_events_$$");

my $rport = free_port();
my $receiver = start_node(name => 'receiver', port => $rport,
    dir => "$tdir/receiver-$$", extra => [
    map({ "LoadModule ${_}_module $MODS/mod_$_.so" } qw(cgi alias env)),
    'ScriptAlias /hook ' . Apache::Test::vars('top_dir') . '/t/tools/event-receiver.cgi',
    "SetEnv HOOK_DIR $hooks",
    "SetEnv HOOK_KEY $KEY",
    'SetEnv HOOK_HOLD 0.2',
]);
my @nodes = map { start_node(name => "events$_", params => $params, procs => 2, threads => 8,
                             # the most verbose level, for t/99-logs.t's scan
                             extra => ['CEInstancesEventRetry 1 3', 'LogLevel trace8']) } 1 .. 2;
END {
    stop_node($_) for grep { $_ } @nodes, $receiver;
    File::Path::remove_tree($receiver->{dir}) if $receiver;
}
my $t = signup(node => { driver => $driver, params => $params, key => Apache::Test::vars('ce_key_file') });
my $hook = "http://127.0.0.1:$rport/hook";

sub received {
    open my $fh, '<', "$hooks/received" or return [];
    flock $fh, LOCK_SH; # (the receiver appends under LOCK_EX: no half line)
    return [map { decode_json($_) } grep { /\S/ } <$fh>];
}
sub wait_received {
    my($n, $secs) = @_;
    wait_until($secs, sub { @{ received() } >= $n });
    return received();
}
sub on { my $n = shift; api(@_, node => $nodes[$n]) }
sub events_of { [reverse @{ on(0, GET => "instances/$_[0]/events", auth => $t)->list }] }
sub notified {
    my(%o) = @_;
    my $res = on(0, POST => 'instances', auth => $t, json => {
        element => { key => 'jira' }, name => uniq_name('hooked'),
        configuration => { %{ valid_config('jira') }, 'event.notification.enabled' => 'true',
                           'event.notification.callback.url' => $o{url} // $hook,
                           (exists $o{key} ? (defined $o{key} ? ('event.notification.signature.key' => $o{key}) : ())
                                           : ('event.notification.signature.key' => $KEY)) } });
    is $res->code, 200, 'create an instance asking for its events' or diag $res->describe;
    return ($res->json, Time::HiRes::time());
}

# ---------------------------------------------------------------- receiver up
my(%answered, @lat);
my($x, $at) = notified();
$answered{CREATED} = $at;
for my $change (['UPDATED', PATCH => "instances/$x->{id}", json => { name => 'renamed' }],
                ['DISABLED', DELETE => "instances/$x->{id}/enabled"],
                ['ENABLED', PUT => "instances/$x->{id}/enabled"],
                ['DELETED', DELETE => "instances/$x->{id}"]) {
    my($type, @req) = @$change;
    my $res = on(1, @req, auth => $t); # the other node: one database
    ok $res->code == 200, "$type: answered" or diag $res->describe;
    $answered{$type} = Time::HiRes::time();
    Time::HiRes::sleep(0.05);
}
my $got = wait_received(5, 20);
my @mine = grep { $_->{instance} == $x->{id} } @$got;
# (in any order: two nodes send at once, and nothing orders deliveries)
is_deeply [sort map { $_->{type} } @mine], [sort qw(CREATED UPDATED DISABLED ENABLED DELETED)],
    'receiver up: every change\'s event arrived, once';
is scalar(grep { $_->{sig_ok} } @mine), 5, 'every signature checks (Digest::SHA)';
is scalar(grep { $_->{id} eq $_->{event_id} && $_->{id} ne '' } @mine), 5,
    'Elements-Webhook-Id is the eventId';
is scalar(grep { $_->{content_type} =~ m{^application/json} } @mine), 5, 'sent as JSON';
push @lat, map { $_->{began} - ($answered{ $_->{type} } // $_->{began}) } @mine;
# The receiver has each event before its sender records DELIVERED (after
# the answer): wait for the records (an ASan run is slow enough to see it).
my $log;
wait_until(10, sub { $log = events_of($x->{id});
                     @$log == 5 && !grep { $_->{status} ne 'DELIVERED' } @$log });
is_deeply [map { "$_->{eventType} $_->{status} $_->{attempts}" } @$log],
    [map { "$_ DELIVERED 1" } qw(CREATED UPDATED DISABLED ENABLED DELETED)],
    'the log says DELIVERED, at the first attempt';
is_deeply [sort map { $_->{eventId} } @$log], [sort map { $_->{id} } @mine], 'the same events';

# ---------------------------------------------------------------- receiver down a while
open my $down, '>', "$hooks/down" or die $!;
close $down;
my($y) = notified();
on(0, PATCH => "instances/$y->{id}", auth => $t, json => { name => "y$_" }) for 1 .. 3;
ok wait_until(5, sub { grep { $_->{status} eq 'RETRYING' } @{ events_of($y->{id}) } }),
    'receiver down: events RETRYING';
my($retrying) = grep { $_->{status} eq 'RETRYING' } @{ events_of($y->{id}) };
is $retrying->{lastError}, 'the receiver answered 503', 'with the reason' if $retrying;
unlink "$hooks/down";
ok wait_until(20, sub { !grep { $_->{status} ne 'DELIVERED' } @{ events_of($y->{id}) } }),
    'receiver back: every event DELIVERED';
my @ys = grep { $_->{instance} == $y->{id} } @{ received() };
is_deeply [sort map { $_->{id} } @ys], [sort map { $_->{eventId} } @{ events_of($y->{id}) }],
    'each arrived once';
ok scalar(grep { $_->{attempts} >= 2 } @{ events_of($y->{id}) }), 'delivered at a later attempt';

# ---------------------------------------------------------------- failures
my($refused) = notified(url => 'http://10.255.255.1/hook');
my($nobody) = notified(url => 'http://127.0.0.1:' . free_port() . '/hook');
ok wait_until(25, sub { !grep { $_->{status} ne 'FAILED' }
                            map { @{ events_of($_->{id}) } } $refused, $nobody }),
    'nowhere to deliver: FAILED after the attempts';
my $ev = events_of($refused->{id})->[0];
is $ev->{attempts}, 3, '3 attempts';
like $ev->{lastError}, qr/not allowed|refused|outbound/i, 'a refused destination: the guard\'s reason';
$ev = events_of($nobody->{id})->[0];
like $ev->{lastError}, qr/\S/, 'nothing listening: a reason (' . $ev->{lastError} . ')';
# Sent again on request, once there is someone to receive it: the refused
# one fails again, the other is still nowhere; a FAILED event redelivered
# goes back to PENDING.
my $res = on(0, PUT => "instances/events/$ev->{eventId}/redeliver", auth => $t);
is $res->code, 200, 'redeliver a FAILED event' or diag $res->describe;
is $res->json->{status}, 'PENDING', 'PENDING again';

# ---------------------------------------------------------------- keys
my($wrong) = notified(key => 'other-key-77b1');
my($plain) = notified(key => undef);
wait_until(10, sub { my %i = map { $_->{instance} => 1 } @{ received() };
                     $i{ $wrong->{id} } && $i{ $plain->{id} } });
my %by = map { $_->{instance} => $_ } @{ received() };
is $by{ $wrong->{id} }{sig_ok}, 0, 'another key: the receiver\'s check fails';
is $by{ $plain->{id} }{signed}, 0, 'no key: no signature header';

# ---------------------------------------------------------------- a burst
# Changes as fast as one client makes them, on both nodes: each one's event
# arrives once; a node sends several at once (more deliveries overlap than
# two nodes sending one at a time could make).
my($z) = notified();
my %burst;
for my $i (1 .. 60) {
    my $name = "burst-$i";
    my $res = on($i % 2, PATCH => "instances/$z->{id}", auth => $t, json => { name => $name });
    $burst{$name} = Time::HiRes::time() if $res->code == 200;
}
is scalar(keys %burst), 60, 'burst: 60 changes acknowledged';
ok wait_until(60, sub { scalar(grep { $_->{instance} == $z->{id} && $burst{ $_->{name} } }
                                    @{ received() }) >= 60 }),
    'burst: every change\'s event arrived';
my @zs = grep { $_->{instance} == $z->{id} && $burst{ $_->{name} } } @{ received() };
my @zlog = grep { $_->{eventType} eq 'UPDATED' } @{ events_of($z->{id}) };
is scalar(@zlog), 60, 'burst: 60 events recorded';
is_deeply [sort map { $_->{id} } @zs], [sort map { $_->{eventId} } @zlog],
    'burst: the recorded events arrived, each once';
my($most, @open) = (0);
for my $r (sort { $a->{began} <=> $b->{began} } @zs) {
    @open = grep { $_ > $r->{began} } @open;
    push @open, $r->{ended};
    $most = @open if @open > $most;
}
cmp_ok $most, '>', 2, "burst: $most deliveries at once (two nodes, each sending several)";
my @zlat = sort { $a <=> $b } map { $_->{began} - $burst{ $_->{name} } } @zs;
my @zend = sort { $a <=> $b } map { $_->{ended} } @zs;
my @zstart = sort { $a <=> $b } values %burst;
diag sprintf '%s: burst of %d changes: %d recorded, %d delivered, %d duplicates; change to '
    . 'delivery median %.0f ms, p99 %.0f ms; %.1f events/s delivered (receiver holds each 0.2 s)',
    $driver, scalar(keys %burst), scalar(@zlog), scalar(@zs),
    scalar(@zs) - scalar(keys %{ { map { $_->{id} => 1 } @zs } }),
    1000 * $zlat[@zlat / 2], 1000 * $zlat[int(@zlat * 0.99)], @zs / ($zend[-1] - $zstart[0])
    if @zlat;

# ---------------------------------------------------------------- never twice at once
my @all = @{ received() };
my(%seen, $dups, $overlaps);
for my $r (sort { $a->{began} <=> $b->{began} } @all) {
    if (my $prev = $seen{ $r->{id} }) {
        $dups++;
        $overlaps++ if $r->{began} < $prev->{ended};
    }
    $seen{ $r->{id} } = $r;
}
is $overlaps // 0, 0, 'no event was being sent by two nodes at once (' . scalar(@all)
    . ' deliveries, ' . ($dups // 0) . ' duplicates)';
# ---------------------------------------------------------------- directives
for my $bad (['CEInstancesEventRetry 0 3', qr/not a wait of 1 to 86400 seconds/],
             ['CEInstancesEventRetry 5 0', qr/and 1 to 100 attempts/],
             ['CEInstancesEventRetry 5', qr/takes two arguments/],
             ['CEInstancesEventRetention 0', qr/not a number of days/],
             ['CEInstancesEventRetention 30d', qr/not a number of days/]) {
    my $n = start_node(name => 'evbad', fails => 1, extra => [$bad->[0]]);
    isnt $n->{start_exit}, 0, "refused at start: $bad->[0]";
    like $n->{start_output} // '', $bad->[1], "... saying why";
    stop_node($n);
}

# ---------------------------------------------------------------- no connection held while sending
# One database connection per process (DBDMax 1), its own database (so
# that it alone sends): while a delivery waits on the slow receiver, the
# API on that node is answered at once. The sender gives its connection
# back for the wait and takes one again for the outcome; held, every
# request would wait for the receiver.
{
    my $p1 = $driver eq 'sqlite3' ? "$dir/one-connection.db" : pg_createdb("ce_events_one_$$");
    my $one = start_node(name => 'oneconn', params => $p1, procs => 1, threads => 8,
                         extra => ['DBDMin 0', 'DBDKeep 1', 'DBDMax 1',
                                   'CEInstancesEventRetry 1 3']);
    my $t1 = signup(node => { driver => $driver, params => $p1,
                              key => Apache::Test::vars('ce_key_file') });
    unlink "$hooks/began";
    open my $slow1, '>', "$hooks/slow" or die $!;
    close $slow1;
    my $made = api(POST => 'instances', auth => $t1, node => $one, json => {
        element => { key => 'jira' }, name => uniq_name('one-connection'),
        configuration => { %{ valid_config('jira') }, 'event.notification.enabled' => 'true',
                           'event.notification.callback.url' => $hook } });
    is $made->code, 200, 'one connection: an instance asking for its events' or diag $made->describe;
    ok wait_until(10, sub { -e "$hooks/began" }), 'one connection: its delivery under way';
    my $id = ($made->json // {})->{id} // 'none';
    my($worst, $codes) = (0, '');
    for (1 .. 5) {
        my $t0 = Time::HiRes::time();
        my $res = api(GET => "instances/$id", auth => $t1, node => $one);
        diag $res->describe if $res->code != 200;
        my $took = Time::HiRes::time() - $t0;
        $worst = $took if $took > $worst;
        $codes .= $res->code . ' ';
        Time::HiRes::sleep(0.1);
    }
    is $codes, '200 ' x 5, 'one connection: the API answers while the receiver waits';
    cmp_ok $worst, '<', 1.5, sprintf('... at once (slowest %.2f s; a delivery takes 3 s)', $worst);
    unlink "$hooks/slow";
    ok wait_until(30, sub { my $l = api(GET => "instances/$id/events", auth => $t1,
                                        node => $one)->list;
                            @$l && !grep { $_->{status} ne 'DELIVERED' } @$l }),
        'one connection: the event is delivered, its outcome kept';
    stop_node($one);
}

# ---------------------------------------------------------------- stopped while sending
# A node stopped while its senders wait on a slow receiver: the child's exit
# waits for them (mod_dbd's connections must all be back before its pool
# goes; a held one aborted the child), and nothing is lost (each event is
# sent again, by the other node or on the next start).
open my $slow, '>', "$hooks/slow" or die $!;
close $slow;
my($w) = notified();
on(0, PATCH => "instances/$w->{id}", auth => $t, json => { name => "w$_" }) for 1 .. 6;
ok wait_until(10, sub { -e "$hooks/began" }), 'a delivery to the slow receiver under way';
my $log0 = -s "$nodes[0]{dir}/error_log";
ok stop_node($nodes[0], ctl => 1, secs => 30), 'the node stops, deliveries under way';
open my $elog, '<', "$nodes[0]{dir}/error_log" or die $!;
seek $elog, $log0, 0;
my @fatal = grep { /exit signal (Abort|Segm)|Assertion|dumped core/ } <$elog>;
close $elog;
is_deeply \@fatal, [], 'no child died on its way out' or diag @fatal;
ok !-e "$nodes[0]{dir}/core", 'no core';
unlink "$hooks/slow";
ok wait_until(30, sub { !grep { $_->{status} ne 'DELIVERED' }
                            @{ api(GET => "instances/$w->{id}/events", auth => $t,
                                   node => $nodes[1])->list } }),
    'the other node delivers what was left';

@lat = sort { $a <=> $b } @lat;
diag sprintf '%s: change to delivery, receiver up: median %.0f ms, max %.0f ms (%d events)',
    $driver, 1000 * $lat[@lat / 2], 1000 * $lat[-1], scalar @lat if @lat;

done_testing;
