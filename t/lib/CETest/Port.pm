package CETest::Port;
# CETest::Port: TCP ports that two test runs on one machine cannot both
# take. Finding a free port and binding it later (httpd, PostgreSQL) leaves
# a window in which another run finds the same port free; so a port is
# claimed first: an exclusive flock on /tmp/ceinstances-ports/<n>.lock,
# held until the claiming process exits (programs it execs do not inherit
# it: Perl opens files close-on-exec). Only a port both claimed and free is
# handed out.
#
#   claim_port(@candidates)   the first candidate claimed and free; undef
#                             when none is
#   keep_across_exec($port)   the claim survives exec: Apache::TestRun
#                             re-executes t/TEST (to raise the core size
#                             limit) and starts httpd, which then hold it
use strict;
use warnings;

use Exporter 'import';
use Fcntl qw(:flock F_GETFD F_SETFD FD_CLOEXEC);
use IO::Socket::INET ();

our @EXPORT_OK = qw(claim_port keep_across_exec);

my $DIR = '/tmp/ceinstances-ports';

my %held;    # port => the lock's file handle, for the life of the process

# Whether nothing listens on (or holds) $port on any local address.
sub bindable {
    my $port = shift;
    my $sock = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port,
                                     Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or return 0;
    close $sock;
    return 1;
}

# Takes the lock of $port for this process: whether it could. Another
# user's lock file opens for reading, which flock needs no more than.
sub lock_port {
    my $port = shift;
    return 1 if $held{$port};
    unless (-d $DIR) {
        mkdir $DIR;
        chmod 01777, $DIR;    # shared by every user's runs, as /tmp is
    }
    my $path = "$DIR/$port.lock";
    my $fh;
    unless (open $fh, '<', $path) {
        my $mask = umask 0;
        my $ok = open $fh, '>>', $path;
        umask $mask;
        $ok or return 0;
    }
    flock($fh, LOCK_EX | LOCK_NB) or return 0;
    $held{$port} = $fh;
    return 1;
}

sub claim_port {
    for my $port (@_) {
        next unless lock_port($port);
        return $port if bindable($port);
        close delete $held{$port};
    }
    return undef;
}

sub keep_across_exec {
    my $fh = $held{ $_[0] } or return 0;
    my $flags = fcntl($fh, F_GETFD, 0) or return 0;
    return fcntl($fh, F_SETFD, $flags & ~FD_CLOEXEC) ? 1 : 0;
}

1;
