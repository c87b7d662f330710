# 19-crash: kill -9 the httpd parent and all its children in the middle of a
# create, update and delete load, then start it again: every create that
# was answered 200 is stored, intact (or deleted, with its DELETED event);
# every change answered 200 has its event, recorded in its transaction
# (issue 14); SQLite's integrity_check says ok; the restarted server serves
# at once.
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
        '--clients', 32, '--creates', 1_000_000, '--mix', '0,0.5,0.25', '--seconds', 6,
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

my(%token, %name, %updates, %deleted);
open my $lf, '<', $log or die "$log: $!";
while (<$lf>) {
    chomp;
    my($op, $id, @rest) = split / /, $_;
    if ($op eq 'create') {
        ($token{$id}, $name{$id}) = ($rest[0], join ' ', @rest[1 .. $#rest]);
    } elsif ($op eq 'update') {
        $name{$id} = join ' ', @rest; # the last answered (one change at a time each)
        $updates{$id}++;
    } elsif ($op eq 'delete') {
        $deleted{$id} = 1;
    }
}
close $lf;
my $acked = keys %token;
ok $acked > 0, "$acked creates were answered 200 before the crash";
ok scalar(keys %updates) && scalar(keys %deleted), sprintf
    '%d updates and %d deletes answered too', scalar(map { 1 .. $_ } values %updates),
    scalar keys %deleted;

$node = start_node(%$node, tries => 40);
pass 'the server starts again after SIGKILL';

my($rows, $check, $events) = with_db(sub {
    my $dbh = shift;
    my $rows = $dbh->selectall_hashref(
        'SELECT id, token_digest, name FROM ce_instance WHERE user_id = ?', 'id', undef,
        $t->{user_id});
    my $check = $driver eq 'sqlite3'
        ? join(',', @{ $dbh->selectcol_arrayref('PRAGMA integrity_check') }) : 'ok';
    # issue 14: each change's event, recorded in its transaction
    my %events;
    for my $e (@{ $dbh->selectall_arrayref(
        q{SELECT instance_id, event_type, COUNT(*) FROM ce_event WHERE user_id = ? }
        . q{GROUP BY instance_id, event_type}, undef, $t->{user_id}) }) {
        $events{ $e->[1] }{ $e->[0] } = $e->[2];
    }
    ($rows, $check, \%events);
});
my $ev = sub { $events->{ $_[0] }{ $_[1] } // 0 };
# An instance whose delete was not answered may be gone: with its event.
my @missing = grep { !$rows->{$_} && !$ev->('DELETED', $_) } keys %token;
my @undeleted = grep { $rows->{$_} || $ev->('DELETED', $_) != 1 } keys %deleted;
# Its name: the last update answered, or one applied but not answered (then
# there is one UPDATED event more).
my @changed = grep { $rows->{$_} && ($rows->{$_}{token_digest} ne token_digest($token{$_})
                     || ($rows->{$_}{name} ne $name{$_}
                         && $ev->('UPDATED', $_) <= ($updates{$_} // 0))) } keys %token;
diag sprintf '%s: %d creates, %d updates, %d deletes answered 200 before the kill; %d rows '
    . 'after the restart, %d missing, %d changed; events: %d CREATED, %d UPDATED, %d DELETED',
    $driver, $acked, scalar(map { 1 .. $_ } values %updates), scalar keys %deleted,
    scalar keys %$rows, scalar @missing, scalar @changed,
    map { my $n = 0; $n += $_ for values %{ $events->{$_} // {} }; $n } qw(CREATED UPDATED DELETED);
is scalar @missing, 0, 'every create answered 200 is stored, or deleted with its event';
is scalar @changed, 0, 'each intact (token and name as answered)';
is scalar @undeleted, 0, 'every delete answered 200: gone, with its one DELETED event';
is $check, 'ok', 'integrity_check';
my @no_event = grep { $ev->('CREATED', $_) != 1 } keys %token;
is scalar @no_event, 0, 'every create answered 200 has its one CREATED event';
my @few = grep { $ev->('UPDATED', $_) < $updates{$_} || $ev->('UPDATED', $_) > $updates{$_} + 1 }
    keys %updates;
is scalar @few, 0, 'every update answered 200 has its UPDATED event (one more: unanswered)';
my @orphans = grep { !$rows->{$_} && !$ev->('DELETED', $_) } keys %{ $events->{CREATED} // {} };
is scalar @orphans, 0, 'no CREATED event without its instance (stored, or deleted since)';

my($last) = sort { $b <=> $a } grep { !$deleted{$_} && $rows->{$_} } keys %token;
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
