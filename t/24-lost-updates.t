# 24-lost-updates: no acknowledged update is lost when updates of one
# instance race (issue 11, item 1). Every update reads, merges and writes
# the instance in one transaction with the row locked, so:
#   - 50 clients each PATCH a different configuration key of one instance
#     at once: every key is there afterwards;
#   - 40 clients each PATCH a different configuration entry
#     (/configuration/{id}) at once: every entry has its new value;
#   - name PATCHes racing one DELETE /enabled: the instance ends disabled
#     every time (a PATCH that read it enabled cannot write that back).
# On PostgreSQL the clients alternate between two nodes (the suite's server
# and a second httpd on the same database).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp ();
use POSIX ();
use Time::HiRes ();
use Apache::Test qw(-withtestmore);
use CETest;

my $pg = Apache::Test::vars('ce_dbd_driver') eq 'pgsql';
my $b = $pg ? start_node(name => 'lostB') : undef;
END { stop_node($b) if $b }
my @nodes = $pg ? (undef, $b) : (undef);
my $dir = File::Temp::tempdir(CLEANUP => 1);

# Runs $n clients at once (forked, released together); client $i runs
# $req->($i, $node) and its status is returned in order.
sub race {
    my($n, $req) = @_;
    pipe(my $rd, my $wr) or die "pipe: $!";
    my @pids;
    for my $i (0 .. $n - 1) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            close $wr;
            my $code = 599;
            eval {
                Apache::TestRequest::user_agent(reset => 1, keep_alive => 0);
                CETest::Node::node_agent(reset => 1, timeout => 60) if $pg;
                Apache::TestRequest::user_agent()->timeout(60);
                sysread $rd, my $go, 1;    # until the parent closes the pipe
                $code = $req->($i, $nodes[$i % @nodes])->code;
                1;
            };
            if (open my $out, '>', "$dir/$i") { print {$out} $code; close $out }
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    close $rd;
    Time::HiRes::sleep(0.3);
    close $wr;
    waitpid $_, 0 for @pids;
    return map { slurp_code("$dir/$_") } 0 .. $n - 1;
}

sub slurp_code {
    open my $in, '<', $_[0] or return 'none';
    return scalar(<$in>) // 'none';
}

sub all_200 { !grep { $_ ne '200' } @_ }

my $t = signup();

# --- 50 keys at once ---------------------------------------------------------

my $inst = create_instance($t, 'jira');
my @keys = map { sprintf 'k%02d', $_ } 1 .. 50;
my @codes = race(scalar @keys, sub {
    my($i, $node) = @_;
    api(PATCH => "instances/$inst->{id}", auth => $t, node => $node,
        json => { configuration => { $keys[$i] => "v$i" } });
});
ok all_200(@codes), '50 concurrent PATCHes of one instance: all answered 200'
    or diag "@codes";
my $res = api(GET => "instances/$inst->{id}", auth => $t);
expect_ok($res, 'read it back');
my $cfg = $res->json->{configuration} || {};
my @lost = grep { ($cfg->{$keys[$_]} // '') ne "v$_" } 0 .. $#keys;
is scalar @lost, 0, 'no key lost (0 of 50)' or diag 'lost: ' . join ' ', map { $keys[$_] } @lost;
is $cfg->{'jira.username'}, valid_config('jira')->{'jira.username'}, 'the created entries kept';

# --- 40 configuration entries at once ---------------------------------------

my %extra = map { (sprintf('c%02d', $_) => '0') } 1 .. 40;
$res = api(POST => 'instances', auth => $t,
           json => { element => { key => 'jira' }, name => 'entries',
                     configuration => { %{ valid_config('jira') }, %extra } });
expect_ok($res, 'create an instance with 40 extra entries');
my $eid = $res->json->{id};
$res = api(GET => "instances/$eid/configuration", auth => $t);
expect_ok($res, 'its configuration entries');
my %entry_id = map { $_->{key} => $_->{id} } @{ $res->json || [] };
my @ekeys = sort keys %extra;
is scalar(grep { $entry_id{$_} } @ekeys), 40, 'every extra entry has an id';
@codes = race(scalar @ekeys, sub {
    my($i, $node) = @_;
    api(PATCH => "instances/$eid/configuration/$entry_id{$ekeys[$i]}", auth => $t,
        node => $node, json => { propertyValue => "set$i" });
});
ok all_200(@codes), '40 concurrent entry PATCHes: all answered 200' or diag "@codes";
$cfg = api(GET => "instances/$eid", auth => $t)->json->{configuration} || {};
@lost = grep { ($cfg->{$ekeys[$_]} // '') ne "set$_" } 0 .. $#ekeys;
is scalar @lost, 0, 'no entry lost (0 of 40)' or diag 'lost: ' . join ' ', map { $ekeys[$_] } @lost;

# --- a disable racing name changes ------------------------------------------

my $undone = 0;
my $trials = 10;
for my $trial (1 .. $trials) {
    my $d = create_instance($t, 'jira');
    @codes = race(11, sub {
        my($i, $node) = @_;
        return api(DELETE => "instances/$d->{id}/enabled", auth => $t, node => $node)
            if $i == 5;
        api(PATCH => "instances/$d->{id}", auth => $t, node => $node,
            json => { name => "trial $trial, rename $i" });
    });
    ok all_200(@codes), "trial $trial: the disable and 10 renames answered 200" or diag "@codes";
    my $now = api(GET => "instances/$d->{id}", auth => $t)->json || {};
    $undone++ unless is_json_true($now->{disabled});
}
is $undone, 0, "the acknowledged disable was never undone (0 of $trials)";

done_testing;
