# 29-rekey-online: the encryption key rotated while two nodes serve a
# create/read/update/delete load (issue 11, item 2), on a database of this
# test's own, on the suite's driver:
#
#   1. ceadmin keygen NEW --rotate OLD --stage STAGED;
#   2. STAGED deployed to both nodes (graceful restarts): OLD's key still
#      seals, NEW's opens too;
#   3. NEW deployed to both nodes: NEW's key seals, OLD's opens;
#   4. ceadmin rekey (batches of 20 rows) re-seals everything, while the
#      load goes on;
#   5. the load ends: no request was answered 5xx or went unanswered;
#      ceadmin verify: every value opens, all under NEW's key; with NEW
#      pruned of OLD's key too; every instance the load was told exists
#      reads back 200 through both nodes; the old key file no longer opens
#      the database.
#
# And what used to lose data: rekey run while the servers still have only
# the old key makes them fail to read, but loses nothing: once they have
# the new file, everything reads, and verify says so.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Copy ();
use File::Temp ();
use Time::HiRes ();
use Apache::Test qw(-withtestmore);
use CETest;

my $driver = Apache::Test::vars('ce_dbd_driver');
my $ceadmin = Apache::Test::vars('ce_ceadmin');
my $ceload = Apache::Test::vars('top_dir') . '/build/ceload';
plan skip_all => 'build/ceload is missing' unless -x $ceload;

my $dir = File::Temp::tempdir('29-rekey-XXXXXX', DIR => Apache::Test::vars('t_dir') . '/var',
                              CLEANUP => !$ENV{CE_TEST_KEEP});
my $params = $driver eq 'sqlite3' ? "$dir/rekey.db" : pg_createdb("ce_rekey_$$");
my $spec = "$driver:$params";

# The key file both nodes read (CEInstancesKeyFile): replaced in place by
# each deployment, as an operator's configuration management would.
my $live = "$dir/live.key";
sub keygen {
    my($path, @opt) = @_;
    my $out = `'$ceadmin' keygen '$path' @{[ map { "'$_'" } @opt ]} 2>&1`;
    die "keygen $path: $out" if $?;
    return decode_json($out)->{keyFile};
}
sub deploy {
    my($key, @nodes) = @_;
    File::Copy::copy($key, "$live.new") or die "copy: $!";
    chmod 0600, "$live.new";
    rename "$live.new", $live or die "rename: $!";
    for my $n (@nodes) {
        my($rc, $out) = node_ctl($n, '-k', 'graceful');
        is $rc, 0, "graceful restart of $n->{name} with " . ($key =~ s{.*/}{}r) or diag($out);
    }
    Time::HiRes::sleep(0.5);
}
# ceadmin on this database: (exit status, decoded JSON or undef, output).
sub admin {
    my($key, @args) = @_;
    my $out = `'$ceadmin' --db '$spec' --key '$key' @{[ map { "'$_'" } @args ]} 2>&1`;
    return ($? >> 8, (eval { decode_json($out) }), $out);
}

keygen("$dir/old.key");
File::Copy::copy("$dir/old.key", $live);
chmod 0600, $live;
my $t = signup(node => { driver => $driver, params => $params, key => $live });
my @nodes = map { start_node(name => "rekey$_", params => $params, key => $live, procs => 2,
                             threads => 8) } 1 .. 2;
END { stop_node($_) for @nodes }

# The load, in the background for the whole rotation.
my $log = "$dir/ceload.out";
my $load_pid = open my $load, '-|', $ceload, (map { ('--url', "http://127.0.0.1:$_->{port}$BASE") }
                                                   @nodes),
    '--auth', auth($t), '--clients', 16, '--creates', 1000000, '--mix', '2,1,0.2',
    '--timeout', 60, '--seconds', 14, '--out', $log
    or die "cannot run $ceload: $!";
Time::HiRes::sleep(2);

my $new = keygen("$dir/new.key", '--rotate', "$dir/old.key", '--stage', "$dir/staged.key");
deploy("$dir/staged.key", @nodes);
Time::HiRes::sleep(2);
deploy("$dir/new.key", @nodes);
Time::HiRes::sleep(1);
my $t0 = Time::HiRes::time();
my($rc, $rekey, $out) = admin("$dir/new.key", 'rekey', '--batch', 20);
is $rc, 0, 'ceadmin rekey while both nodes serve' or diag($out);
ok kill(0, $load_pid), sprintf('the load was still running when it ended (rekey took %.1f s)',
                               Time::HiRes::time() - $t0);
my $r = $rekey && $rekey->{rekey} || {};
ok $r->{resealed} > 0, "it re-sealed values ($r->{resealed} in $r->{passes} passes)";
is_deeply [keys %{ $r->{byKey} || {} }], [$new->{key}], 'all under the new key afterwards';

# The load ends by itself.
my $counts = do { local $/; <$load> };
close $load;
my $s = eval { decode_json($counts) } || {};
is $s->{errors5xx}, 0, 'no request was answered 5xx during the rotation' or diag($counts);
is $s->{transport_errors}, 0, 'none went unanswered';
ok $s->{creates_ok} > 0 && $s->{updates_ok} > 0, "creates ($s->{creates_ok}) and updates "
    . "($s->{updates_ok}) were answered 200 throughout";

# What the database holds now.
my($vrc, $verify, $vout) = admin("$dir/new.key", 'verify');
is $vrc, 0, 'ceadmin verify: every value opens' or diag($vout);
my $v = $verify && $verify->{verify} || {};
is_deeply $v->{unreadable}, [], 'none is unreadable';
is_deeply [keys %{ $v->{byKey} || {} }], [$new->{key}], 'every value is under the new key';
keygen("$dir/pruned.key", '--prune', "$dir/new.key");
($vrc, undef, $vout) = admin("$dir/pruned.key", 'verify');
is $vrc, 0, 'and opens with the new key alone (the old one can be dropped)' or diag($vout);
($vrc, undef, $vout) = admin("$dir/old.key", 'list-orgs');
isnt $vrc, 0, 'the old key file alone no longer opens the database';

my(%live);
open my $lf, '<', $log or die "$log: $!";
while (<$lf>) {
    chomp;
    my($op, $id) = split / /;
    $live{$id} = 1 if $op eq 'create';
    delete $live{$id} if $op eq 'delete';
}
close $lf;
my @ids = sort { $a <=> $b } keys %live;
# Every value opens (verify above); these reads check the API serves them:
# 400 of them, spread over the whole run, through both nodes.
my $step = @ids > 400 ? int(@ids / 400) : 1;
my @sample = @ids[grep { $_ % $step == 0 } 0 .. $#ids];
my @bad;
for my $i (0 .. $#sample) {
    my $res = api(GET => "instances/$sample[$i]", auth => $t, node => $nodes[$i % 2]);
    push @bad, "$sample[$i]: " . $res->code unless $res->code == 200
        && ($res->json || {})->{configuration}{'jira.username'};
}
is scalar(@bad), 0, scalar(@sample) . ' of the ' . scalar(@ids) . ' instances the load created '
    . 'and did not delete read back 200 with their configuration'
    or diag("@bad[0 .. ($#bad > 9 ? 9 : $#bad)]");

# Rekey before the servers have the new key: they cannot read what it
# re-sealed (500, logged; a connection opened now refuses the database:
# 503), but nothing is lost.
my $newer = keygen("$dir/newer.key", '--rotate', "$dir/new.key");
($rc, undef, $out) = admin("$dir/newer.key", 'rekey');
is $rc, 0, 'rekey with a key file the servers do not have yet' or diag($out);
my $res = api(GET => "instances/$ids[0]", auth => $t, node => $nodes[0]);
like $res->code, qr/^50[03]$/,
     'a server with the older file cannot open what it re-sealed (500, or 503 on a new connection)';
deploy("$dir/newer.key", @nodes);
$res = api(GET => "instances/$ids[0]", auth => $t, node => $nodes[1]);
is $res->code, 200, 'once it has the newer file, it reads it';
($vrc, undef, $vout) = admin("$dir/newer.key", 'verify');
is $vrc, 0, 'and every value opens' or diag($vout);

done_testing;
