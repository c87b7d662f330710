# 19-crash: kill -9 the httpd parent and all its children in the middle of a
# create load, then start it again: every create that was answered 200 is
# stored, intact; SQLite's integrity_check says ok; the restarted server
# serves at once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX ();
use Time::HiRes ();
use Apache::Test qw(-withtestmore);
use CETest;

my $driver = Apache::Test::vars('ce_dbd_driver');
my $ceload = Apache::Test::vars('top_dir') . '/build/ceload';
plan skip_all => 'build/ceload is missing' unless -x $ceload;

my $node = start_node(name => 'crash', procs => 2, threads => 16);
END { stop_node($node) if $node }
my $t = signup();
my $log = "$node->{dir}/ceload.out";

my $pid = fork // die "fork: $!";
if (!$pid) {
    open STDOUT, '>', "$node->{dir}/ceload.json" or POSIX::_exit(1);
    exec { $ceload } $ceload, '--url', "http://127.0.0.1:$node->{port}$BASE", '--auth', auth($t),
        '--clients', 32, '--creates', 1_000_000, '--mix', '0,0,0', '--seconds', 6,
        '--timeout', 5, '--out', $log;
    POSIX::_exit(127);
}
# wait until creates are being answered, then crash the server mid-load
my $before = 0;
for (1 .. 100) {
    Time::HiRes::sleep(0.1);
    $before = (-s $log) // 0;
    last if $before > 20_000;
}
ok $before > 0, 'creates were being answered when the server was killed';
my @pids = node_pids($node);
crash_node($node);
diag sprintf 'killed %d httpd processes (parent and children) with SIGKILL', scalar @pids;
# ceload stops at its 6 s deadline; never wait on it for ever
my $ended = 0;
for (1 .. 600) {
    if (waitpid($pid, POSIX::WNOHANG()) == $pid) { $ended = 1; last }
    Time::HiRes::sleep(0.1);
}
unless ($ended) {
    kill KILL => $pid;
    waitpid $pid, 0;
}
ok $ended && ($? >> 8) == 0, 'ceload ended by itself';

my(%token, %name);
open my $lf, '<', $log or die "$log: $!";
while (<$lf>) {
    chomp;
    my($op, $id, $tok, $nm) = split / /, $_, 4;
    next unless $op eq 'create';
    ($token{$id}, $name{$id}) = ($tok, $nm);
}
close $lf;
my $acked = keys %token;
ok $acked > 0, "$acked creates were answered 200 before the crash";

$node = start_node(%$node, tries => 40);
pass 'the server starts again after SIGKILL';

my($rows, $check, $events) = with_db(sub {
    my $dbh = shift;
    my $rows = $dbh->selectall_hashref(
        'SELECT id, token_digest, name FROM ce_instance WHERE user_id = ?', 'id', undef,
        $t->{user_id});
    my $check = $driver eq 'sqlite3'
        ? join(',', @{ $dbh->selectcol_arrayref('PRAGMA integrity_check') }) : 'ok';
    # issue 14: each create's CREATED event, recorded in its transaction
    my $events = $dbh->selectall_hashref(
        q{SELECT instance_id, COUNT(*) AS n FROM ce_event WHERE user_id = ? }
        . q{AND event_type = 'CREATED' GROUP BY instance_id}, 'instance_id', undef, $t->{user_id});
    ($rows, $check, $events);
});
my @missing = grep { !$rows->{$_} } keys %token;
my @changed = grep { $rows->{$_} && ($rows->{$_}{token_digest} ne token_digest($token{$_})
                                     || $rows->{$_}{name} ne $name{$_}) } keys %token;
diag sprintf '%s: %d creates answered 200 before the kill, %d rows after the restart '
    . '(%d created but unanswered), %d missing, %d changed',
    $driver, $acked, scalar keys %$rows, scalar(keys %$rows) - $acked + @missing,
    scalar @missing, scalar @changed;
is scalar @missing, 0, 'every create answered 200 is stored';
is scalar @changed, 0, 'each intact (token and name as answered)';
is $check, 'ok', 'integrity_check';
my @no_event = grep { ($events->{$_}{n} // 0) != 1 } keys %token;
is scalar @no_event, 0, 'every create answered 200 has its one CREATED event';
is_deeply [sort { $a <=> $b } keys %$events], [sort { $a <=> $b } keys %$rows],
    'and every stored instance, no event without its instance';

my($last) = sort { $b <=> $a } keys %token;
my $res = api(GET => "instances/$last", auth => $t, node => $node);
expect_ok($res, 'the restarted server reads the last acknowledged create');
is $res->json->{token}, $token{$last}, 'with its token';
ok create_instance_on($node, $t), 'and creates again';

sub create_instance_on {
    my($n, $tenant) = @_;
    my $r = api(POST => 'instances', auth => $tenant, node => $n,
                json => { element => { key => 'jira' }, name => 'after the crash',
                          configuration => valid_config('jira') });
    return $r->code == 200;
}

done_testing;
