package CETest::Node;
# CETest::Node: more httpd servers with the module ("nodes"), besides the
# suite's own, each in a directory of its own on a free port. CETest exports
# every function here.
#
#   free_port()           a free loopback port below the ephemeral range
#   make_node(%o)         writes a node's configuration; starts nothing
#   start_node(%o)        make_node + `apache2 -k start` + waits until it answers
#   node_ctl($node, ARGS) `apache2 -f <its conf> ARGS` (-t, -k graceful, ...)
#   stop_node($node, %o)  ends it cleanly; crash_node($node) with SIGKILL
#   node_pid, node_pids, node_listening (TCP), node_answers (HTTP),
#   pid_alive, wait_gone, wait_until
#
# A node is a hash: { name, dir, port, conf, pidfile, error_log, driver,
# params } plus the options it was made with, so start_node(%$node, ...)
# starts it again in place (same directory, port and configuration), with
# any option changed. Pass it as api(..., node => $node), raw_connect(node =>
# $node), signup(node => $node).
use strict;
use warnings;

use Exporter 'import';
use File::Path ();
use File::Spec ();
use IO::Socket::INET ();
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes ();

use Apache::Test ();
use CETest::Port ();
use CETest::Raw ();

our @EXPORT = qw(free_port make_node start_node node_ctl stop_node crash_node node_pid node_pids
                 node_listening node_answers pid_alive wait_gone wait_until);

my $HTTPD = '/usr/sbin/apache2';
my $MODS  = '/usr/lib/apache2/modules';

sub vars { Apache::Test::vars(@_) }

# A free port below the kernel's ephemeral range: a client retrying a port
# in that range while nothing listens there can be given the same port as
# its own source (TCP self-connect), and the connection's TIME_WAIT then
# keeps the server from binding it for a minute (seen in 19-crash, where
# ceload retries against the killed server). Never LocalPort => 0 (the
# kernel's choice is in that range).
sub free_port {
    my $low = 32768;
    if (open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range') {
        ($low) = (<$fh> // '') =~ /^\s*(\d+)/ or $low = 32768;
    }
    my $lo = 10000;
    my $span = $low - $lo > 1000 ? $low - $lo : 1000;
    # Claimed (CETest::Port) for the rest of this test file: another suite
    # on the machine cannot take it before the node binds it.
    my $port = CETest::Port::claim_port(map { $lo + int rand $span } 1 .. 200);
    return $port if $port;
    die "CETest: no free port\n";
}

# The user agent api() uses for nodes (keep-alive, 30 s timeout).
my $agent;
sub node_agent {
    my %o = @_;
    # reset: a fresh agent (a forked client must not share the parent's connections)
    undef $agent if $o{reset};
    $agent ||= LWP::UserAgent->new(keep_alive => 8, timeout => $o{timeout} // 30);
    return $agent;
}

# wait_until(SECS, CODE): calls CODE every 0.05 s until it returns true, for
# at most SECS seconds; CODE's last value (true: it happened in time).
sub wait_until {
    my($secs, $cond) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    while (1) {
        my $v = $cond->();
        return $v if $v or Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
}

# make_node(%o): a node's directory and httpd.conf, configured as
# t/conf/extra.conf.in configures the suite's server (a user's
# configuration); nothing is started. %o:
#   name (default 'node'); dir (default t/var/<name>-<pid>-<random>; it is
#     the ServerRoot, so relative paths in the config are relative to it);
#     port (default free_port());
#   driver, params: the database (default the suite's);
#   procs x threads: processes and threads per process (default 2 x 16);
#   key: CEInstancesKeyFile (default the suite's; undef leaves it out);
#   catalog: CEInstancesCatalog (default conf/elements.json; undef leaves it
#     out);
#   dbd => 0: no mod_dbd at all (neither the module nor DBD* lines);
#   outbound => 0: no CEInstancesOutboundAllow 127.0.0.1/32 (loopback
#     providers allowed) nor CEInstancesOutboundTimeout 5;
#   extra: [config lines] (@DIR@ is the node's directory), last but for the
#     API's <Location>, so httpd's "Syntax error on line N" points at them.
sub make_node {
    my %o = @_;
    my $name = $o{name} // 'node';
    my $dir = $o{dir} // File::Spec->catdir(vars('t_dir'), 'var', "$name-$$-" . int rand 1e6);
    File::Path::make_path($dir);
    my $port = $o{port} // free_port();
    my $driver = $o{driver} // vars('ce_dbd_driver');
    my $params = $o{params} // vars('ce_dbd_params');
    my($procs, $threads) = ($o{procs} // 2, $o{threads} // 16);
    my $dbd = $o{dbd} // 1;
    my $key = exists $o{key} ? $o{key} : vars('ce_key_file');
    my $catalog = exists $o{catalog} ? $o{catalog} : vars('ce_catalog');
    my $conf = "$dir/httpd.conf";
    open my $fh, '>', $conf or die "CETest: $conf: $!";
    print $fh join "\n",
        "# CETest node $name",
        qq{ServerRoot "$dir"},
        "ServerName 127.0.0.1",
        "Listen 127.0.0.1:$port",
        qq{PidFile "$dir/httpd.pid"},
        qq{DefaultRuntimeDir "$dir"},
        qq{ErrorLog "$dir/error_log"},
        "LogLevel info",
        "LoadModule mpm_event_module $MODS/mod_mpm_event.so",
        "LoadModule authz_core_module $MODS/mod_authz_core.so",
        ($dbd ? "LoadModule dbd_module $MODS/mod_dbd.so" : ()),
        'LoadModule ceinstances_module "' . vars('top_dir') . '/build/mod_ceinstances.so"',
        "StartServers $procs",
        "ServerLimit $procs",
        "ThreadsPerChild $threads",
        "ThreadLimit $threads",
        'MaxRequestWorkers ' . $procs * $threads,
        qq{DocumentRoot "$dir"},
        ($dbd ? ("DBDriver $driver", qq{DBDParams "$params"}, "DBDKeep $threads", "DBDMax $threads")
              : ()),
        (defined $key ? qq{CEInstancesKeyFile "$key"} : ()),
        'CEInstancesRenderCheck On',
        (defined $catalog ? qq{CEInstancesCatalog "$catalog"} : ()),
        ($o{outbound} // 1 ? ('CEInstancesOutboundAllow 127.0.0.1/32', 'CEInstancesOutboundTimeout 5')
                           : ()),
        (map { s/\@DIR\@/$dir/gr } @{ $o{extra} || [] }),
        '<Location /elements/api-v2>',
        '    SetHandler ceinstances',
        '</Location>',
        '';
    close $fh or die "CETest: $conf: $!";
    return { %o, name => $name, dir => $dir, port => $port, conf => $conf,
             pidfile => "$dir/httpd.pid", error_log => "$dir/error_log",
             driver => $driver, params => $params };
}

# Runs @cmd (no shell, stdin /dev/null) with stdout and stderr in $out,
# killed after $secs seconds: (exit status, 128 + signal, or -1 on the
# timeout; the output).
sub run_cmd {
    my($secs, $out, @cmd) = @_;
    local $?;
    my $pid = fork // die "CETest: fork: $!\n";
    unless ($pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    my $rc = -1;
    my $done = wait_until($secs, sub { waitpid($pid, POSIX::WNOHANG()) == $pid });
    if ($done) {
        $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    }
    else {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    open my $fh, '<:raw', $out or return ($rc, '');
    local $/;
    return ($rc, scalar(<$fh>) // '');
}

# node_ctl($node, ARGS): `apache2 -f <its httpd.conf> ARGS` (e.g. '-t', or
# '-k', 'graceful'), killed after 30 s: (exit status or -1, its stdout and
# stderr together).
my $ctl_runs = 0;
sub node_ctl {
    my($node, @args) = @_;
    my $out = sprintf '%s/ctl-%d-%d.out', $node->{dir}, $$, ++$ctl_runs;
    return run_cmd(30, $out, $HTTPD, '-f', $node->{conf}, @args);
}

# Whether something accepts connections on $node's port.
sub node_listening {
    my $node = shift;
    my $c = CETest::Raw::raw_connect(node => $node, try => 1, timeout => 2) or return 0;
    $c->close;
    return 1;
}

# Whether $node answers HTTP (GET /, any status, within 5 s): a child has
# finished its start-up (the module's child_init prepares the database:
# journal mode, schema, key check), which accepting a connection does not
# prove (the parent listens before its children are ready).
sub node_answers {
    my $node = shift;
    my $c = CETest::Raw::raw_connect(node => $node, try => 1, timeout => 5) or return 0;
    $c->send(CETest::Raw::raw_bytes(GET => '/', node => $node));
    CETest::Raw::raw_read([$c], until => 'head');
    $c->close;
    return $c->response->{status} ? 1 : 0;
}

# start_node(%o): make_node(%o), then `apache2 -k start`; the node, with
# start_exit and start_output (what apache2 -k start said). Then waits (at
# most 20 s) until the pid file is written and it answers HTTP
# (node_answers); dies when it did not start or does not answer. %o,
# besides make_node's:
#   tries: attempts at apache2 -k start, 0.5 s apart (default 1; after a
#     crash the kernel may hold the port a little longer);
#   wait => 0: started (apache2 -k start said so), not waited for: the
#     caller expects it to stop by itself, or polls;
#   fails => 1: start-up is expected to fail: never dies; after an apache2
#     -k start that failed, watches for 1 s that no server comes up anyway
#     (20 s as usual when it said it started); the caller asserts on
#     start_exit, start_output, node_pid, node_listening.
sub start_node {
    my %o = @_;
    my $node = make_node(%o);
    unlink $node->{pidfile};
    my $tries = $o{fails} ? 1 : $o{tries} // 1;
    while (1) {
        @$node{qw(start_exit start_output)} = node_ctl($node, '-k', 'start');
        last if $node->{start_exit} == 0;
        last if $o{fails};
        die "CETest: node $node->{name} did not start (exit $node->{start_exit}: "
            . "$node->{start_output}; see $node->{error_log})\n" if --$tries <= 0;
        Time::HiRes::sleep(0.5);
    }
    return $node if defined $o{wait} && !$o{wait};
    my $up = wait_until($o{fails} && $node->{start_exit} ? 1 : 20,
                        sub { -s $node->{pidfile} && node_answers($node) });
    return $node if $up or $o{fails};
    die "CETest: node $node->{name} is not answering on port $node->{port} "
        . "(see $node->{error_log})\n";
}

# The parent's pid, from the pid file (whether or not it still runs).
sub node_pid {
    my $node = shift;
    open my $fh, '<', $node->{pidfile} or return;
    my $pid = <$fh>;
    return $pid && $pid =~ /^(\d+)/ ? $1 : undef;
}

# The parent's pid and its children's, while the parent runs with this
# node's configuration (checked on its command line: a stale pid file
# never names someone else's process); () when it does not run.
sub node_pids {
    my $node = shift;
    my $parent = node_pid($node) or return ();
    open my $cf, '<:raw', "/proc/$parent/cmdline" or return ();
    my $cmdline = do { local $/; <$cf> } // '';
    return () unless index($cmdline, $node->{conf}) >= 0 && pid_alive($parent);
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @kids, $pid if $ppid == $parent;
    }
    return ($parent, @kids);
}

# Whether process $pid exists and is not a zombie (an exited httpd whose
# parent has not reaped it yet is gone).
sub pid_alive {
    my $pid = shift;
    return 0 unless $pid and kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = do { local $/; <$fh> } // '';
    return $stat =~ /^\d+ \(.*\) Z/s ? 0 : 1;
}

# wait_gone(@pids): whether they are all gone within 15 s.
sub wait_gone {
    my @pids = @_;
    return wait_until(15, sub { !grep { pid_alive($_) } @pids }) ? 1 : 0;
}

# stop_node($node, %o): ends it cleanly: SIGTERM to the parent or, with
# o{ctl}, `apache2 -k stop` (which reads the configuration, as an operator's
# stop does); waits o{secs} (default 15) for the parent and its children to
# exit, then SIGKILLs whatever is left. Whether it was gone in time (true
# too when it was not running).
sub stop_node {
    my($node, %o) = @_;
    my @pids = node_pids($node) or return 1;
    if ($o{ctl}) { node_ctl($node, '-k', 'stop') } else { kill TERM => $pids[0] }
    return 1 if wait_until($o{secs} // 15, sub { !grep { pid_alive($_) } @pids });
    kill KILL => @pids;
    wait_gone(@pids);
    return 0;
}

# crash_node($node): SIGKILL to the parent and every child at once, as a
# machine's crash would end them; the pid file is removed (what a killed
# httpd leaves behind is no reason for its restart to fail).
sub crash_node {
    my $node = shift;
    my @pids = node_pids($node) or return;
    kill KILL => @pids;
    wait_gone(@pids);
    unlink $node->{pidfile};
}

1;
