# 18-load: 64 concurrent clients, 20,000 creates mixed with reads, updates,
# deletes and lists (build/ceload, libcurl). PostgreSQL: two nodes; SQLite:
# one node with several children. Afterwards the database holds exactly the
# instances that were answered 200 and not deleted, each as last answered,
# with unique ids and tokens; no request got a 5xx or went unanswered.
# CE_LOAD_CREATES overrides the number of creates (for a quick run).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp ();
use POSIX ();
use Time::HiRes ();
use Apache::Test qw(-withtestmore);
use CETest;

my $driver = Apache::Test::vars('ce_dbd_driver');
my $ceload = Apache::Test::vars('top_dir') . '/build/ceload';
plan skip_all => 'build/ceload is missing' unless -x $ceload;

my $creates = $ENV{CE_LOAD_CREATES} || 20000;
# A database of its own: the 20,000 rows would otherwise weigh on every
# later test that reads the suite's database whole (snapshot()).
my $dir = File::Temp::tempdir('18-load-XXXXXX', DIR => Apache::Test::vars('t_dir') . '/var',
                              CLEANUP => !$ENV{CE_TEST_KEEP});
my $params = $driver eq 'sqlite3' ? "$dir/load.db" : pg_createdb("ce_load_$$");
my $t = signup(node => { driver => $driver, params => $params });
my @nodes = $driver eq 'pgsql'
    ? map { start_node(name => "load$_", params => $params, procs => 2, threads => 32) } 1 .. 2
    : (start_node(name => 'load', params => $params, procs => 4, threads => 16));
END { stop_node($_) for @nodes }

# SQLite: the log beside the database (load.db-wal) must stay bounded
# while the load writes. Checkpoints run beside the writers; now and then
# one ends inside the write lock, so that the log can start over
# (src/ce_store_wal.c). Without that it only grows (hundreds of MB here).
# Sampled by a child process every 20 ms: its largest size.
my $wal_most = "$dir/wal-most";
my $sampler = $driver eq 'sqlite3' ? fork : undef;
die "fork: $!" if $driver eq 'sqlite3' && !defined $sampler;
if (defined $sampler && $sampler == 0) {
    my($most, $stop) = (0, 0);
    local $SIG{TERM} = sub { $stop = 1 };
    while (!$stop) {
        my $size = -s "$params-wal" // 0;
        $most = $size if $size > $most;
        Time::HiRes::sleep(0.02);
    }
    open my $o, '>', $wal_most or POSIX::_exit(1);
    print $o $most;
    close $o;
    POSIX::_exit(0);    # not the parent's END blocks
}

my $log = "$nodes[0]{dir}/ceload.out";
my @cmd = ($ceload, (map { ('--url', "http://127.0.0.1:$_->{port}$BASE") } @nodes),
           '--auth', auth($t), '--clients', 64, '--creates', $creates,
           '--mix', '1,0.5,0.25', '--timeout', 120, '--seconds', 600, '--out', $log);
my $t0 = Time::HiRes::time();
open my $fh, '-|', @cmd or die "cannot run $ceload: $!";
my $out = do { local $/; <$fh> };
close $fh;
my $secs = Time::HiRes::time() - $t0;
is $?, 0, 'ceload ran to the end';
if ($sampler) {
    kill 'TERM', $sampler;
    waitpid $sampler, 0;
    open my $w, '<', $wal_most or die "$wal_most: $!";
    my $most = <$w> // 0;
    # 10,000 pages of 4 KB (SQLite frames: 4,120 bytes) start the log
    # over; the bound leaves room for what comes meanwhile
    cmp_ok $most, '<=', 25_000 * 4120, "the SQLite log stayed bounded: at most $most bytes";
}
my $s = eval { decode_json($out) } || {};

# what the clients were told, replayed
my(%live, %token, %names, $acked);
open my $lf, '<', $log or die "$log: $!";
while (<$lf>) {
    chomp;
    my($op, $id, @rest) = split / /, $_, 4;
    if ($op eq 'create') {
        $acked++;
        $live{$id} = 1;
        $token{$id} = $rest[0];
        $names{$id} = { $rest[1] => 1 };
    }
    elsif ($op eq 'update') { $names{$id}{ $rest[0] } = 1 }
    elsif ($op eq 'delete') { delete $live{$id} }
}
close $lf;

my($rows, $all_rows, $distinct_ids, $distinct_tokens, $tagless) = with_db(sub {
    my $dbh = shift;
    my $rows = $dbh->selectall_arrayref(
        'SELECT id, token_digest, name FROM ce_instance WHERE user_id = ?', undef, $t->{user_id});
    my($all, $ids, $tokens) = $dbh->selectrow_array(
        'SELECT COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT token_digest) FROM ce_instance');
    my($tagless) = $dbh->selectrow_array(
        'SELECT COUNT(*) FROM ce_instance i WHERE i.user_id = ? AND '
        . '(SELECT COUNT(*) FROM ce_instance_tag t WHERE t.instance_id = i.id) <> 2',
        undef, $t->{user_id});
    ($rows, $all, $ids, $tokens, $tagless);
}, $driver, $params);

my $status = join ', ', map { "$_: $s->{status}{$_}" } sort keys %{ $s->{status} || {} };
diag sprintf '%s, %d node(s): %d requests (%s) by 64 clients in %.1f s; creates answered 200: %d, '
    . 'deletes: %d, updates: %d; rows now: %d; 5xx: %d; unanswered: %d; duplicate ids/tokens: %d/%d',
    $driver, scalar @nodes, $s->{requests} // 0, $status, $secs, $acked // 0,
    $s->{deletes_ok} // 0, $s->{updates_ok} // 0, scalar @$rows, $s->{errors5xx} // -1,
    $s->{transport_errors} // -1, $s->{duplicate_ids} // -1, $s->{duplicate_tokens} // -1;

is $s->{creates_ok}, $creates, "all $creates creates answered 200";
is $acked, $creates, 'and each one logged';
is $s->{errors5xx}, 0, 'no 5xx';
is $s->{transport_errors}, 0, 'no request went unanswered';
is $s->{duplicate_ids}, 0, 'no id returned twice';
is $s->{duplicate_tokens}, 0, 'no token returned twice';
is $s->{bad_answers}, 0, 'every create answer carried an id and a token';
is $s->{unexpected_404}, 0, 'no 404 for an instance that was never deleted';
ok $s->{deletes_ok} > 0 && $s->{updates_ok} > 0 && $s->{reads_ok} > 0, 'the mix ran';

my %stored = map { $_->[0] => $_ } @$rows;
is scalar(keys %stored), scalar(keys %live), 'as many rows as live instances';
my @missing = grep { !$stored{$_} } sort { $a <=> $b } keys %live;
my @extra = grep { !$live{$_} } sort { $a <=> $b } keys %stored;
is "@missing", '', 'every instance answered 200 and not deleted is stored';
is "@extra", '', 'nothing else is stored (deleted ones are gone, no phantom rows)';
my @bad = grep { $stored{$_}[1] ne token_digest($token{$_}) || !$names{$_}{ $stored{$_}[2] } }
    keys %live;
is scalar(@bad), 0, 'each stored as answered (token; name as created or last updated)';
is $tagless, 0, 'each with its two tag rows';
is $distinct_ids, $all_rows, 'ids unique in the whole table';
is $distinct_tokens, $all_rows, 'tokens unique in the whole table';

done_testing;
