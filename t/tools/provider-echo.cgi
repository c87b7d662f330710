#!/usr/bin/perl
# provider-echo.cgi: a provider API for t/39-gateway.t, run by a real httpd
# (mod_cgi, behind its own AuthType Basic where the test wants the
# credentials checked). It answers what arrived, as JSON: method, path
# below the script, query, every request header (CGIPassAuth On gives it
# Authorization), the authenticated user, and the body's length and SHA-256.
# Query words change the answer:
#   status=NNN   answers NNN, with X-Provider-Says and a provider cookie
#   big=N        answers N bytes (streamed in 64 KiB writes) instead of JSON
use strict;
use warnings;
use Digest::SHA ();
use JSON::PP ();

binmode STDIN;
binmode STDOUT;
$| = 1;

my %q = map { my($k, $v) = split /=/, $_, 2; ($k => $v // '') } split /&/, $ENV{QUERY_STRING} // '';

my $sha = Digest::SHA->new(256);
my $len = 0;
while (read(STDIN, my $buf, 65536)) {
    $sha->add($buf);
    $len += length $buf;
}

if (defined $q{big} && $q{big} =~ /^\d+$/) {
    print "Status: 200\r\nContent-Type: application/octet-stream\r\n\r\n";
    my $chunk = join '', map { chr($_ % 251) } 0 .. 65535;
    my $left = $q{big};
    while ($left > 0) {
        my $n = $left < 65536 ? $left : 65536;
        print substr($chunk, 0, $n);
        $left -= $n;
    }
    exit 0;
}

my %h = map { my $k = $_; $k =~ s/^HTTP_//; $k =~ tr/_/-/; (lc $k => $ENV{$_}) }
    grep { /^HTTP_/ } keys %ENV;
$h{'content-type'} = $ENV{CONTENT_TYPE} if defined $ENV{CONTENT_TYPE};
my $status = defined $q{status} && $q{status} =~ /^[1-5]\d\d$/ ? $q{status} : 200;
print "Status: $status\r\n",
    ($status != 200 ? ("X-Provider-Says: status $status\r\n",
                       "Set-Cookie: provider-session=abc123; Path=/\r\n") : ()),
    "Content-Type: application/json\r\n\r\n",
    JSON::PP->new->canonical->encode({
        method => $ENV{REQUEST_METHOD}, path => $ENV{PATH_INFO} // '',
        query => $ENV{QUERY_STRING} // '', headers => \%h, user => $ENV{REMOTE_USER},
        length => $len, sha256 => $sha->hexdigest,
    });
