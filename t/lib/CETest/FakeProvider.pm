package CETest::FakeProvider;
# CETest::FakeProvider: a scripted OAuth 2 token endpoint, for failure
# injection only (the suite's real authorization server is oidc-provider,
# CETest::OAuth). A forked process on a loopback port answers POST /token
# and POST /revoke as its mode file says, and appends one line per request
# to its log ("<epoch ms> <path> <grant_type> <refresh_token or code>").
#
#   my $fp = fake_provider();        starts it: { port, url, dir, pid }
#   fake_mode($fp, $mode)            what it does from now on:
#       ok          tokens (access "A<n>", refresh "R<n>", expires_in 2),
#                   rotating: only the last refresh token issued is good
#       noexpiry    as ok, without expires_in
#       500         HTTP 500, {"error":"server_error"}
#       garbage     200 text/html
#       slow        answers ok after 4 s
#       close       closes the connection without an answer
#       rotate-drop rotates (the old refresh token is no longer good) and
#                   closes the connection without an answer
#       refuse      400 {"error":"invalid_grant"}
#   fake_log($fp)                    the requests so far: [ [ms, path, grant, token], ... ]
#   fake_stop($fp)
#   fake_catalog($fp, @keys)         a copy of the suite's catalog with the
#                                    elements @keys pointed at it; its path
use strict;
use warnings;

use Exporter 'import';
use File::Path ();
use File::Spec ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

use Apache::Test ();
use CETest::Node ();

our @EXPORT = qw(fake_provider fake_mode fake_log fake_stop fake_catalog);

# Whatever happens to the test, its providers end with it.
our @STARTED;
END { fake_stop($_) for @STARTED }

sub fake_provider {
    my $dir = File::Spec->catdir(Apache::Test::vars('t_dir'), 'var', "fake-$$-" . int rand 1e6);
    File::Path::make_path($dir);
    my $sock;
    for (1 .. 50) {
        $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => CETest::Node::free_port(),
                                      Listen => 64, ReuseAddr => 1) and last;
    }
    die "CETest::FakeProvider: no port\n" unless $sock;
    my $fp = { port => $sock->sockport, dir => $dir, url => 'http://127.0.0.1:' . $sock->sockport };
    fake_mode($fp, 'ok');
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # Not the test's output: the harness reads it until every holder closes it.
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        serve($sock, $fp);
        POSIX::_exit(0);
    }
    close $sock;
    $fp->{pid} = $pid;
    push @STARTED, $fp;
    return $fp;
}

sub fake_mode {
    my($fp, $mode) = @_;
    open my $fh, '>', "$fp->{dir}/mode.tmp" or die $!;
    print $fh $mode;
    close $fh;
    rename "$fp->{dir}/mode.tmp", "$fp->{dir}/mode" or die $!;
}

sub fake_log {
    my $fp = shift;
    open my $fh, '<', "$fp->{dir}/log" or return [];
    return [ map { chomp; [ split / /, $_, 4 ] } <$fh> ];
}

sub fake_stop {
    my $fp = shift;
    kill 'KILL', $fp->{pid} if $fp->{pid};
    waitpid $fp->{pid}, 0 if $fp->{pid};
    $fp->{pid} = undef;
}

sub fake_catalog {
    my($fp, @keys) = @_;
    my %k = map { $_ => 1 } @keys;
    open my $in, '<', Apache::Test::vars('ce_catalog') or die $!;
    my $cat = JSON::PP->new->decode(do { local $/; <$in> });
    my %to = ('oauth.authorization.url' => "$fp->{url}/auth", 'oauth.token.url' => "$fp->{url}/token",
              'oauth.token.refresh_url' => "$fp->{url}/token",
              'oauth.token.revoke_url' => "$fp->{url}/revoke");
    for my $e (grep { $k{ $_->{key} } } @{ $cat->{elements} }) {
        for my $c (@{ $e->{configuration} }) {
            $c->{defaultValue} = $to{ $c->{key} } if exists $to{ $c->{key} };
        }
    }
    my $path = "$fp->{dir}/elements.json";
    open my $out, '>', $path or die $!;
    print $out JSON::PP->new->encode($cat);
    close $out;
    return $path;
}

# ---- the server (the forked child)

sub mode_of { open my $fh, '<', "$_[0]{dir}/mode" or return 'ok'; local $/; <$fh> }

sub form {
    my %f;
    for (split /&/, shift // '') {
        my($k, $v) = map { s/\+/ /gr =~ s/%([0-9a-fA-F]{2})/chr hex $1/ger } split /=/, $_, 2;
        $f{$k} = $v // '';
    }
    return \%f;
}

sub respond {
    my($c, $status, $type, $body) = @_;
    print $c "HTTP/1.1 $status X\r\nContent-Type: $type\r\nContent-Length: " . length($body)
        . "\r\nConnection: close\r\n\r\n$body";
}

sub serve {
    my($sock, $fp) = @_;
    my($n, $good) = (0, undef);    # tokens issued; the refresh token that works
    while (my $c = $sock->accept) {
        local $/ = "\r\n";
        my $line = <$c> // next;
        my($path) = $line =~ m{^\S+ (\S+)};
        my $len = 0;
        while (defined(my $h = <$c>)) {
            last if $h eq "\r\n";
            $len = $1 if $h =~ /^Content-Length:\s*(\d+)/i;
        }
        my $body = '';
        read $c, $body, $len if $len;
        my $f = form($body);
        my $mode = mode_of($fp);
        open my $log, '>>', "$fp->{dir}/log";
        printf $log "%d %s %s %s\n", Time::HiRes::time() * 1000, $path,
            $f->{grant_type} // ($f->{token} ? 'revoke' : '-'),
            $f->{refresh_token} // $f->{code} // $f->{token} // '-';
        close $log;
        if ($path eq '/revoke') {
            $mode eq 'ok' ? respond($c, 200, 'application/json', '{}')
                          : respond($c, 500, 'application/json', '{"error":"server_error"}');
            close $c;
            next;
        }
        my $refresh = ($f->{grant_type} // '') eq 'refresh_token';
        if ($mode eq 'refuse' || ($refresh && $mode =~ /^(ok|noexpiry|slow)$/
                                  && (!defined $good || $f->{refresh_token} ne $good))) {
            respond($c, 400, 'application/json',
                    '{"error":"invalid_grant","error_description":"refresh token unknown or used"}');
        }
        elsif ($mode eq '500') { respond($c, 500, 'application/json', '{"error":"server_error"}') }
        elsif ($mode eq 'garbage') { respond($c, 200, 'text/html', '<html>maintenance</html>') }
        elsif ($mode eq 'close') { }
        elsif ($mode eq 'rotate-drop') { $good = 'R' . ++$n }
        else {
            sleep 4 if $mode eq 'slow';
            $good = 'R' . ++$n;
            respond($c, 200, 'application/json',
                    JSON::PP->new->canonical->encode({ access_token => "A$n", refresh_token => $good,
                        token_type => 'Bearer', ($mode eq 'noexpiry' ? () : (expires_in => 2)) }));
        }
        close $c;
    }
}

1;
