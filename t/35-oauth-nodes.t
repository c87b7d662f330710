# 35-oauth-nodes: token refresh on two nodes sharing one database, several
# children each (issue 12), against the suite's real authorization server:
#
# 1. ce-node instances (4-second access tokens, refresh tokens rotated on
#    every use) watched for 60 s on PostgreSQL (20 s on SQLite) while
#    clients rename them through both nodes: the provider counts one
#    refresh per expiry per grant, none late, none twice (a rotated
#    refresh token used twice is refused, and counted), and every instance
#    keeps its tokens.
# 2. `ceadmin oauth-refresh` (the core's one way to a fresh token), run many
#    times at once beside both nodes' refresh jobs: one lease for all, so
#    still no refresh token used twice.
# 3. ce-static instances (2-second tokens, no rotation), one node killed
#    with SIGKILL while refreshing and started again: no token lost, every
#    instance refreshed again (one held by the dead node once its lease,
#    2 x CEInstancesOutboundTimeout + 5 s, has run out). With a provider
#    that rotates, a node killed after the provider answered and before
#    its commit loses the new pair, whatever the server does (the rotated
#    refresh token is spent); t/34 shows that case.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp ();
use POSIX ();
use Time::HiRes ();
use LWP::UserAgent ();
use URI ();
use Apache::Test qw(-withtestmore);
use CETest;

plan skip_all => 'no OAuth 2 server (scripts/test.sh starts one)' unless oauth_url();

my $driver = Apache::Test::vars('ce_dbd_driver');
my $ceadmin = Apache::Test::vars('ce_ceadmin');
my $catalog = Apache::Test::vars('ce_catalog');
my $key = Apache::Test::vars('ce_key_file');
my $TTL = 2;                                 # ce-static access tokens (s)
# ce-node's (phase 1): refreshed a quarter of their lifetime early, so a
# loaded machine has 1 s to get each refresh done (2-second tokens left it
# 0.5 s, and two make test runs plus benchmarks beside the suite made a
# few late).
my $NODE_TTL = 4;
my $WATCH = $driver eq 'pgsql' ? 60 : 20;    # phase 1 (s)
my $LEASE = 2 * 5 + 5;                       # the nodes' CEInstancesOutboundTimeout is 5

my $dir = File::Temp::tempdir('35-oauth-XXXXXX', DIR => Apache::Test::vars('t_dir') . '/var',
                              CLEANUP => !$ENV{CE_TEST_KEEP});
my $params = $driver eq 'sqlite3' ? "$dir/oauth.db" : pg_createdb("ce_oauth_nodes_$$");
my $spec = "$driver:$params";
my $t = signup(node => { driver => $driver, params => $params });
my @nodes = map { start_node(name => "oauth$_", params => $params, procs => 3, threads => 4,
                             extra => ['LogLevel info ceinstances:debug']) } 1 .. 2;
END { stop_node($_) for @nodes }

sub stored {
    my $id = shift;
    return CETest::ceadmin_on($spec, $key, 'instance-config', '--instance-id', $id)->{instance}{configuration};
}
sub create {
    my($client, $name, $node) = @_;
    my $c = oauth_client($client);
    my $code = oauth_code_for($t, client => $client, node => $node);
    my $res = api(POST => 'instances', auth => $t, node => $node,
                  json => { element => { key => 'dropbox' }, name => $name,
                            providerData => { code => $code }, configuration => $c });
    expect_ok($res, "$name: created through $node->{name}");
    return $res->json->{id};
}
sub refreshes_since {
    my($client, $since) = @_;
    my %by;
    push @{ $by{ $_->{grantId} } }, $_->{at} / 1000
        for grep { $_->{client} eq $client && $_->{at} / 1000 >= $since } @{ oauth_stats()->{refreshes} };
    return \%by;
}
sub log_count {
    my($node, $re) = @_;
    open my $fh, '<', $node->{error_log} or return 0;
    return scalar grep { /$re/ } <$fh>;
}
sub errors_now { scalar @{ oauth_stats()->{errors} } }

# Renames instances through both nodes until $secs have passed, in a
# child of its own (never the harness's stdout); its tally in $out.
sub rename_load {
    my($secs, $out, @ids) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    open STDOUT, '>', '/dev/null';
    open STDERR, '>', '/dev/null';
    my($ok, $bad, $i) = (0, 0, 0);
    my $end = Time::HiRes::time() + $secs;
    while (Time::HiRes::time() < $end) {
        my $id = $ids[ $i % @ids ];
        my $res = api(PATCH => "instances/$id", auth => $t, node => $nodes[ $i++ % 2 ],
                      json => { name => "renamed $i" });
        $res->code == 200 ? $ok++ : $bad++;
        Time::HiRes::sleep(0.05);
    }
    if (open my $fh, '>', $out) { print $fh "$ok $bad\n"; close $fh }
    POSIX::_exit(0);
}

# --------------------------- 0. what a code exchange costs the answering request
# Ten creates with a code (ce-client), ten without (jira), one node; and ten
# exchanges sent to the provider's token endpoint directly, for its share.
sub median { my @s = sort { $a <=> $b } @_; return $s[ int(@s / 2) ] }
sub timed { my $t0 = Time::HiRes::time(); my $r = $_[0]->(); return (Time::HiRes::time() - $t0, $r) }
{
    my $c = oauth_client('ce-client');
    my(@with, @without, @direct, @made);
    for my $i (1 .. 10) {
        my $code = oauth_code_for($t, node => $nodes[0]);
        my($secs, $res) = timed(sub {
            api(POST => 'instances', auth => $t, node => $nodes[0],
                json => { element => { key => 'dropbox' }, name => "cost $i",
                          providerData => { code => $code }, configuration => $c });
        });
        push @with, $secs;
        push @made, $res->json->{id} if $res->code == 200;
        ($secs, $res) = timed(sub {
            api(POST => 'instances', auth => $t, node => $nodes[0],
                json => { element => { key => 'jira' }, name => "plain $i",
                          configuration => valid_config('jira') });
        });
        push @without, $secs;
        push @made, $res->json->{id} if $res->code == 200;
        $code = oauth_code_for($t, node => $nodes[0]);
        ($secs, $res) = timed(sub {
            LWP::UserAgent->new(timeout => 10)->post(oauth_url() . '/token', {
                grant_type => 'authorization_code', code => $code,
                redirect_uri => $c->{'oauth.callback.url'}, client_id => 'ce-client',
                client_secret => $c->{'oauth.api.secret'} });
        });
        push @direct, $secs if $res->is_success;
    }
    is scalar(@made), 20, 'twenty creates, ten with a code, answered 200';
    is scalar(@direct), 10, 'ten exchanges at the token endpoint directly';
    diag sprintf '%s: create with a code: median %.1f ms (the provider\'s token endpoint alone: '
        . '%.1f ms); without: %.1f ms', $driver, 1000 * median(@with), 1000 * median(@direct),
        1000 * median(@without);
    api(DELETE => "instances/$_", auth => $t, node => $nodes[0]) for @made;
}

# ------------------------------------------------- 1. rotation, two nodes
my $errors0 = errors_now();
my @fast = map { create('ce-node', "fast $_", $nodes[ $_ % 2 ]) } 1 .. 6;
my %first = map { $_ => stored($_) } @fast;
my @logged0 = map { log_count($_, qr/CE00041/) } @nodes;
my $t0 = Time::HiRes::time();
my $load = rename_load($WATCH, "$dir/load.out", @fast);
sleep $WATCH;
waitpid $load, 0;
my $by = refreshes_since('ce-node', $t0 - 1);
my $expected = int($WATCH / ($NODE_TTL * 0.75));
is scalar(keys %$by), scalar(@fast), 'the provider saw refreshes of every grant';
my($total, $late, $twice) = (0, 0, 0);
for my $g (sort keys %$by) {
    my @at = sort { $a <=> $b } @{ $by->{$g} };
    my @gaps = map { $at[$_] - $at[$_ - 1] } 1 .. $#at;
    $total += @at;
    $late += grep { $_ >= $NODE_TTL } @gaps;
    $twice += grep { $_ <= $NODE_TTL * 0.5 } @gaps;
    # at least one per lifetime, at most one per refresh point (3/4 of it)
    my($least, $most) = (int($WATCH / $NODE_TTL) - 1, $expected + 2);
    ok @at >= $least && @at <= $most,
        sprintf 'grant %.8s: one refresh per expiry (%d, from %d to %d)', $g, scalar @at, $least, $most;
}
is $late, 0, 'no access token expired before its refresh';
is $twice, 0, 'no token refreshed twice';
is errors_now() - $errors0, 0, 'the provider refused nothing (no rotated refresh token used twice)';
my @logged = map { log_count($nodes[$_], qr/CE00041/) - $logged0[$_] } 0 .. 1;
my($renamed, $rename_failed) = split ' ', do { open my $fh, '<', "$dir/load.out"; ($fh && <$fh>) // '0 0' };
diag sprintf '%s: %d instances, %d s: %d refreshes seen by the provider (~%d expected), by node 1: %d, '
    . 'node 2: %d; late: %d, twice: %d; %d renames meanwhile (%d failed)',
    $driver, scalar @fast, $WATCH, $total, $expected * @fast, @logged, $late, $twice,
    $renamed, $rename_failed;
# (both go on refreshing while they are counted: one each at most in between)
ok abs($logged[0] + $logged[1] - $total) <= @fast,
    "the nodes logged as many refreshes as the provider saw ($logged[0] + $logged[1] vs $total)";
ok $renamed > 0 && !$rename_failed, 'every rename meanwhile answered 200';
for my $id (@fast) {
    my $i = api(GET => "instances/$id", auth => $t, node => $nodes[0])->json;
    ok is_json_true($i->{valid}), "instance $id: valid";
    my $now = stored($id);
    ok length($now->{'oauth.user.refresh_token'} // ''), "instance $id: has its refresh token";
    isnt $now->{'oauth.user.refresh_token'}, $first{$id}{'oauth.user.refresh_token'},
        "instance $id: the rotated one";
    like $now->{'oauth.user.token'} // '', qr/\S/, "instance $id: has an access token";
}

# ------------------------------------- 2. ceadmin oauth-refresh, many at once
my @admin = ('--db', $spec, '--key', $key, 'oauth-refresh', '--catalog', $catalog,
             '--outbound-allow', '127.0.0.1/32,::1/128', '--timeout', 5);
my $errors1 = errors_now();
my $before = stored($fast[0]);
my @runs = map {
    open my $fh, '-|', "'$ceadmin' @{[ map { qq{'$_'} } @admin, '--instance-id', $fast[0] ]} 2>&1"
        or die "ceadmin: $!";
    $fh;
} 1 .. 6;
my @said = map { my $fh = $_; my $o = do { local $/; <$fh> }; close $fh; [$? >> 8, $o] } @runs;
is_deeply [map { $_->[0] } @said], [(0) x 6], 'six ceadmin oauth-refresh at once: all exit 0'
    or diag explain \@said;
my @j = map { eval { decode_json($_->[1]) } || {} } @said;
ok scalar(grep { is_json_true($_->{instance}{refreshed}) } @j) >= 1, 'at least one of them refreshed';
ok !(grep { ($_->{instance}{expiresAt} // 0) / 1000 <= time } @j), 'each says when the token expires';
unlike join('', map { $_->[1] } @said), qr/\Q$before->{'oauth.user.refresh_token'}\E/,
    'no token printed';
sleep 2;    # the background refreshes carry on from the new pair
is errors_now() - $errors1, 0, 'still no refresh token used twice';
ok is_json_true(api(GET => "instances/$fast[0]", auth => $t, node => $nodes[1])->json->{valid}),
    'the instance is valid';
my($rc, $out) = CETest::Node::run_cmd(30, "$dir/admin.out", $ceadmin, @admin, '--instance-id', 999999999);
is $rc, 1, 'oauth-refresh of a missing instance: exit 1';
like $out, qr/no instance with id 999999999/, '... saying so';
my $jira = api(POST => 'instances', auth => $t, node => $nodes[0],
               json => { element => { key => 'jira' }, name => 'not oauth',
                         configuration => valid_config('jira') })->json->{id};
($rc, $out) = CETest::Node::run_cmd(30, "$dir/admin.out", $ceadmin, @admin, '--instance-id', $jira);
is $rc, 1, 'oauth-refresh of a jira instance: exit 1';
like $out, qr/not an OAuth instance/, '... saying so';
expect_ok(api(DELETE => "instances/$_", auth => $t, node => $nodes[0]), "delete $_", empty => 1)
    for @fast;

# ------------------------------------------------- 3. SIGKILL, no rotation
my $errors2 = errors_now();
my @static = map { create('ce-static', "static $_", $nodes[ $_ % 2 ]) } 1 .. 4;
my %kept = map { $_ => stored($_)->{'oauth.user.refresh_token'} } @static;
Time::HiRes::sleep(3 + rand 1);    # refreshing, at some point of their cycle
crash_node($nodes[0]);
my $killed = Time::HiRes::time();
sleep 1;
$nodes[0] = start_node(%{ $nodes[0] }, tries => 40);
sleep $LEASE + 3;
my $after = refreshes_since('ce-static', $killed + $LEASE);
is scalar(keys %$after), scalar(@static),
    "every grant refreshed again within the lease (${LEASE} s) after the kill";
is errors_now() - $errors2, 0, 'the provider refused nothing';
for my $id (@static) {
    my $now = stored($id);
    is $now->{'oauth.user.refresh_token'}, $kept{$id}, "instance $id: its refresh token kept";
    cmp_ok $now->{'oauth.user.refresh_time'} / 1000, '>', time - 2 * $TTL, "instance $id: refreshed lately";
    ok is_json_true(api(GET => "instances/$id", auth => $t, node => $nodes[1])->json->{valid}),
        "instance $id: valid";
}
expect_ok(api(DELETE => "instances/$_", auth => $t, node => $nodes[1]), "delete $_", empty => 1)
    for @static, $jira;

done_testing;
