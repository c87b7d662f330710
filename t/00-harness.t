# 00-harness: the server is up with the freshly built module mounted at
# /elements/api-v2 and mod_dbd configured — the precondition of every
# other test; and the ports of this run are its own (CETest::Port): no
# other suite started on the machine meanwhile can claim them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;
use CETest::Port ();
use Cwd ();
use POSIX ();
use Time::HiRes ();

ok -x Apache::Test::vars('ce_ceadmin'), 'build/ceadmin is there';
like Apache::Test::vars('ce_dbd_driver'), qr/^(sqlite3|pgsql)\z/, 'database driver';
is Apache::Test::vars('ce_dbd_driver'), $ENV{CE_TEST_DBD_DRIVER} || 'sqlite3',
    'the driver the run asked for';

# The module under test is build/'s, whatever the machine has installed
# (t/TEST.PL: a system-wide LoadModule of mod_ceinstances, e.g. the Debian
# package's, is not inherited; scripts/test-deb.sh runs this file with the
# package installed and enabled): every LoadModule of it in the generated
# configuration names build/mod_ceinstances.so, and the running server has
# that file mapped and no other mod_ceinstances.
my $built = Cwd::realpath(Apache::Test::vars('top_dir') . '/build/mod_ceinstances.so');
my @loads;
for my $conf (map { Apache::Test::vars('t_conf') . "/$_" } 'httpd.conf', 'extra.conf') {
    open my $fh, '<', $conf or die "$conf: $!";
    while (<$fh>) {
        push @loads, $1 if /^\s*LoadModule\s+\S*ceinstances\S*\s+"?([^"\s]+)/i
            || /^\s*LoadModule\s+\S+\s+"?([^"\s]*ceinstances[^"\s]*)/i;
    }
}
ok scalar(@loads), 'the configuration loads mod_ceinstances';
is_deeply [map { Cwd::realpath($_) // $_ } @loads], [($built) x @loads],
    "every LoadModule of it names $built" or diag("LoadModule: @loads");
my $pidfile = Apache::Test::vars('t_pid_file');
my($httpd_pid) = do { open my $fh, '<', $pidfile or die "$pidfile: $!"; <$fh> =~ /(\d+)/ };
my %mapped;
if (open my $maps, '<', "/proc/$httpd_pid/maps") {
    while (my $line = <$maps>) {
        # (the file's name: the sanitizer run's preload library lives in a
        # directory named ceinstances-asan.*)
        $mapped{$1} = 1 if $line =~ m{\s(/\S*/mod_ceinstances[^/\s]*\.so)$};
    }
}
is_deeply [sort map { Cwd::realpath($_) // $_ } keys %mapped], [$built],
    "httpd ($httpd_pid) has mapped $built, no other mod_ceinstances";

# Answered by the module (JSON), not by httpd's default handler.
my $res = api(GET => 'instances');
expect_error($res, 401, 'GET /instances without Authorization');

$res = api(GET => 'no/such/path');
expect_error($res, 404, 'unknown path under the Location');

# A tenant made with ceadmin authenticates, and the API's paths are
# relative to the <Location> (GET /elements/api-v2/elements is the catalog).
my $t = signup();
$res = api(GET => 'elements', auth => $t);
expect_ok($res, 'GET /elements with a new tenant');
is ref $res->json, 'ARRAY', 'the catalog is a list';
$res = api(GET => 'instances', auth => $t);
expect_ok($res, 'GET /instances with a new tenant');
is_deeply $res->json, [], 'a new tenant has no instances';

# Outside the Location httpd serves as usual.
$res = api(GET => '/index.html');
is $res->code, 200, 'outside the Location: httpd default handler';

# The suite's port stays claimed while it runs (t/TEST holds its lock,
# across its re-exec): another run could not lock it even in the moment
# before httpd binds it.
my($port) = Apache::TestRequest::hostport() =~ /:(\d+)$/;
ok !CETest::Port::lock_port($port), "the suite's port $port is locked by the run";

# A port claimed by one process cannot be claimed by another until the
# first exits (a node's port in one test file, wanted by another run).
my $ready = "$FindBin::Bin/var/claim-ready-$$";
unlink $ready;
my $pid = fork // die "fork: $!";
unless ($pid) {
    my $p = CETest::Port::claim_port(map { 20000 + int rand 10000 } 1 .. 50);
    if (open my $fh, '>', $ready) { print $fh $p // ''; close $fh }
    Time::HiRes::sleep(0.05) until -e "$ready.done";
    POSIX::_exit(0);
}
my $claimed;
wait_until(10, sub { -s $ready && do { open my $fh, '<', $ready; $claimed = <$fh> } });
ok $claimed, 'a process claims a free port' or diag('none claimed');
is CETest::Port::claim_port($claimed), undef, 'another process cannot claim it meanwhile';
if (open my $fh, '>', "$ready.done") { close $fh }
waitpid $pid, 0;
is CETest::Port::claim_port($claimed), $claimed, 'once the first has exited, it can';
unlink $ready, "$ready.done";

done_testing;
