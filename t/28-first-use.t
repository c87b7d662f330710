# 28-first-use: a new database opened by many at once (issue 17).
#
# Whoever opens a database first sets it up (journal mode, schema, the key
# check). On a new database that is often several at once: the children of
# an httpd that has just started, beside an operator's `ceadmin signup`, or
# several ceadmin commands. The losers used to fail ("database schema has
# changed", "database is locked"), a child that lost skipped the key check
# silently, and a request meeting the race got a 503. Each part below
# repeats its race on a fresh database, on the suite's driver:
#
#   1. a crowd of ceadmin commands at once: every one succeeds, nothing is
#      lost;
#   2. httpd started and, at once, ceadmin signup while requests arrive:
#      the signup succeeds, no request gets a 503, every child says it has
#      checked the key file (CE00035) and none logs a failed setup, and
#      the new tenant is served;
#   3. the same with httpd given another key file than ceadmin: one of the
#      two refuses (CE00025 or ceadmin's key error), never both serve, and
#      the server never answers a request with the wrong key.
#
# CE_TEST_FIRST_USE_ROUNDS (default 12) sets the rounds of parts 2 and 3
# each; part 1 runs twice as many. A race lost once in ten rounds is caught
# by part 2 or 3 alone with a probability of 1 - 0.9^12 = 72%, by the two
# together 94%. (Failures are explained with note(), on the TAP stream:
# Apache::Test's harness drops a test's stderr.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;
sub vars { Apache::Test::vars(@_) }
use File::Temp ();
use POSIX ();
use Time::HiRes ();

my $ROUNDS = $ENV{CE_TEST_FIRST_USE_ROUNDS} || 12;
my $DRIVER = vars('ce_dbd_driver');
my $CEADMIN = vars('ce_ceadmin');
my $DIR = File::Temp::tempdir('28-first-use-XXXXXX', DIR => vars('t_dir') . '/var',
                              CLEANUP => !$ENV{CE_TEST_KEEP});
my $OTHER_KEY = "$DIR/other.key";
system("'$CEADMIN' keygen '$OTHER_KEY' >/dev/null") == 0 or die "ceadmin keygen failed\n";
my @STARTED;
END { stop_node($_) for @STARTED }

sub slurp {
    my $f = shift;
    open my $fh, '<:raw', $f or return '';
    local $/;
    return scalar <$fh>;
}

# A new database nobody has opened: (DBDParams, its "driver:params").
# SQLite: a path where nothing is yet, or an empty file when $empty.
my $fresh = 0;
sub fresh_db {
    my $empty = shift;
    my $params;
    $fresh++;
    if ($DRIVER eq 'sqlite3') {
        $params = "$DIR/fresh-$fresh.db";
        if ($empty) { open my $fh, '>', $params or die "$params: $!"; close $fh }
    }
    else {
        $params = pg_createdb("ce_first_use_$fresh");
    }
    return ($params, "$DRIVER:$params");
}

# Starts ceadmin with @args on $spec in the background: its pid; its
# output goes to $out. A first arg \SECS delays the start.
sub spawn_ceadmin {
    my($spec, $key, $out, @args) = @_;
    my $delay = ref $args[0] ? ${ shift @args } : 0;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    Time::HiRes::sleep($delay) if $delay;
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', $out or POSIX::_exit(126);
    open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
    { no warnings 'exec'; exec $CEADMIN, '--db', $spec, '--key', $key, @args; }
    POSIX::_exit(127);
}

# Waits for $pid: its exit status.
sub reap {
    my $pid = shift;
    waitpid $pid, 0;
    return $? >> 8;
}

# In the background until $stop exists: GETs the instance list on $node
# with credentials nobody has, one connection each, and writes every
# status it is answered with to $log (nothing while nothing listens).
sub spawn_prober {
    my($node, $stop, $log) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    open my $fh, '>', $log or POSIX::_exit(126);
    $fh->autoflush(1);
    my $deadline = Time::HiRes::time() + 30;
    while (!-e $stop && Time::HiRes::time() < $deadline) {
        my $c = raw_connect(node => $node, try => 1, timeout => 5);
        unless ($c) { Time::HiRes::sleep(0.005); next }
        $c->send(raw_bytes(GET => 'instances', node => $node,
                           auth => 'User nobody-has-this, Organization nor-this'));
        raw_read([$c], until => 'head', timeout => 10);
        my $status = $c->response->{status};
        $c->close;
        print $fh "$status\n" if $status;
    }
    POSIX::_exit(0);
}

# ================================================================ 1. ceadmin crowd

{
    my(@failed, $lost);
    for my $round (1 .. 2 * $ROUNDS) {
        # Odd rounds: nothing there yet, signups only (only signup creates
        # a database); even rounds: an empty database, read and written.
        my $empty = $round % 2 == 0 || $DRIVER ne 'sqlite3';
        my(undef, $spec) = fresh_db($empty);
        my @cmds = map {
            $empty && $_ % 2 ? ['list-orgs']
                             : ['signup', '--org', "Crowd $round-$_", '--email', "c$_\@example.com"]
        } 1 .. 8;
        my @runs = map {
            my $out = "$DIR/crowd-$round-$_.out";
            [spawn_ceadmin($spec, vars('ce_key_file'), $out, @{ $cmds[$_] }), $out, $cmds[$_][0]]
        } 0 .. $#cmds;
        my $signups = grep { $_->[2] eq 'signup' } @runs;
        for my $run (@runs) {
            my $rc = reap($run->[0]);
            my $out = slurp($run->[1]);
            push @failed, "round $round, $run->[2] (exit $rc): $out" if $rc;
            remember_secrets($1) while $out =~ /"secret":\s*"([^"]+)"/g;
        }
        my $orgs = eval { CETest::ceadmin_on($spec, vars('ce_key_file'), 'list-orgs') };
        my $n = ref $orgs eq 'HASH' && ref $orgs->{organizations} eq 'ARRAY'
              ? scalar @{ $orgs->{organizations} } : -1;
        $lost .= "round $round: $n organizations of $signups\n" if $n != $signups;
    }
    is scalar(@failed), 0, 2 * $ROUNDS . ' rounds of 8 ceadmin commands at once on a new database: '
                           . 'none fails' or note(join '', @failed[0 .. ($#failed > 9 ? 9 : $#failed)]);
    ok !$lost, 'and every signup is there afterwards' or note($lost);
}

# ================================================================ 2. httpd start + ceadmin

# One round: a fresh database, a node started on it (not waited for), at
# once ceadmin signup with $key while a prober sends requests. A hash:
# node, signup (exit, output), statuses (the prober's), answers (whether
# the node answers HTTP afterwards), log (its error_log).
sub start_race {
    my($name, $key) = @_;
    my($params, $spec) = fresh_db(0);
    my $node = make_node(name => $name, dir => "$DIR/$name", params => $params,
                         procs => 4, threads => 4);
    my($stop, $probes) = ("$node->{dir}/stop-probing", "$node->{dir}/probes");
    push @STARTED, $node;
    my $prober = spawn_prober($node, $stop, $probes);
    # ceadmin and httpd's start, each after a random pause of up to 0.1 s
    # (httpd's parent takes about as long to read its configuration and
    # fork the children), so either can be first.
    my $out = "$node->{dir}/signup.out";
    my $delay = rand 0.1;
    my $admin = spawn_ceadmin($spec, $key, $out, \$delay, 'signup', '--org', "Race $name",
                              '--email', "$name\@example.com");
    my $starter = fork // die "fork: $!";
    unless ($starter) {
        Time::HiRes::sleep(rand 0.1);
        node_ctl($node, '-k', 'start');
        POSIX::_exit(0);
    }
    my $rc = reap($admin);
    waitpid $starter, 0;
    my $signup = slurp($out);
    remember_secrets($1) while $signup =~ /"secret":\s*"([^"]+)"/g;
    # Every child has started (or given up) once it answers, or the whole
    # server has stopped.
    my $answers = wait_until(15, sub { node_answers($node) || !node_pids($node) }) && node_answers($node);
    Time::HiRes::sleep(0.3);
    if (open my $fh, '>', $stop) { close $fh }
    waitpid $prober, 0;
    my @statuses = split /\n/, slurp($probes);
    return { node => $node, rc => $rc, signup => $signup, answers => $answers,
             statuses => \@statuses, log => slurp($node->{error_log}) };
}

{
    my(@bad, $probes);
    for my $round (1 .. $ROUNDS) {
        my $r = start_race("start-$round", vars('ce_key_file'));
        my @why;
        push @why, "signup exit $r->{rc}: $r->{signup}" if $r->{rc};
        push @why, 'the server does not answer' unless $r->{answers};
        my @odd = grep { $_ != 401 } @{ $r->{statuses} };
        push @why, "requests answered @odd" if @odd;
        my $checked = () = $r->{log} =~ /CE00035/g;
        push @why, "$checked of 4 children checked the key file (CE00035)" if $checked < 4;
        push @why, "error_log: $1" if $r->{log} =~ /^(.*(?:CE000(?:01|25|34)|schema has changed|is locked).*)$/m;
        if (!$r->{rc} && $r->{answers}) {
            my $j = eval { decode_json($r->{signup}) } || {};
            my $auth = 'User ' . ($j->{user}{secret} // '') . ', Organization '
                     . ($j->{organization}{secret} // '');
            my $res = api(GET => 'instances', auth => $auth, node => $r->{node});
            push @why, 'the new tenant gets ' . $res->code unless $res->code == 200;
        }
        $probes += @{ $r->{statuses} };
        push @bad, "round $round: " . join('; ', @why) . "\n" if @why;
        stop_node($r->{node});
    }
    is scalar(@bad), 0, "$ROUNDS httpd starts on a new database with ceadmin signup at once: "
                       . 'all well' or diag(@bad);
    note("$probes requests sent during the starts");
}

# ================================================================ 3. the key check

{
    my(@bad, %won);
    for my $round (1 .. $ROUNDS) {
        # httpd has the suite's key file, ceadmin another one.
        my $r = start_race("keys-$round", $OTHER_KEY);
        note("ceadmin: $r->{signup}") if $r->{rc};
        my $node = $r->{node};
        my $refused = $r->{log} =~ /CE00025/;
        my @why;
        if ($r->{rc} == 0) {
            # ceadmin set the database up with its key: httpd must refuse it.
            $won{ceadmin}++;
            push @why, 'ceadmin signed up and httpd did not log CE00025' unless $refused;
            push @why, 'ceadmin signed up and httpd keeps running'
                unless wait_until(15, sub { !node_pids($node) });
        }
        else {
            $won{httpd}++;
            push @why, "ceadmin failed otherwise than on its key: $r->{signup}"
                unless $r->{signup} =~ /key file/i;
            push @why, 'httpd refused its key (CE00025) though it set the database up' if $refused;
        }
        # While ceadmin's key is the database's, no request may be answered
        # at all (a child checks the key before it serves: a 401 was looked
        # up with the wrong key, a 503 means a child serves unchecked);
        # while httpd's is, every one is an unknown user's 401.
        my @odd = grep { $r->{rc} == 0 || $_ != 401 } @{ $r->{statuses} };
        push @why, "requests answered @odd" if @odd;
        push @bad, "round $round: " . join('; ', @why) . "\n" if @why;
        stop_node($node);
    }
    is scalar(@bad), 0, "$ROUNDS httpd starts with another key than ceadmin's: exactly one refuses"
        or note(@bad);
    note('first to set the database up: ' . join ', ', map { "$_ $won{$_}" } sort keys %won);
}

done_testing;
