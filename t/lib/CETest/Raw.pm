package CETest::Raw;
# CETest::Raw: raw HTTP/1.1 on sockets the test controls, for what a user
# agent will not send or cannot show: malformed requests, bytes past the
# limits, interim "100 Continue" answers, a body sent only later, many
# requests held open at once. CETest exports every function here.
#
#   raw_bytes(METHOD, PATH, %o)   one request as bytes
#   raw_connect(%o)               a connection (a CETest::Raw object) to the
#                                 suite's server or to a node
#   $conn->send(BYTES)            writes them, stopping early if the server
#                                 has answered or closed
#   raw_read(\@conns, %o)         reads on many connections at once until
#                                 each has what o{until} asks for
#   $conn->response               what it read so far, parsed ($conn->bytes:
#                                 as it came)
#   raw_request(BYTES, %o)        connect, send, read the answer, close
#   raw_parse(BYTES, %o)          a response (or the start of one), parsed
#
# A parsed response is a hash: status (0 until a final status line and head
# arrived), reason, headers { lower-case name => value, repeated ones joined
# with ", " }, header_list [name, value, ...] in order, body (de-chunked),
# interim [statuses of the 1xx answers before it], complete (the whole
# response is there), closed (the server closed the connection), raw (every
# byte read), at (when reading stopped: condition met or closed; undef when
# the time ran out first).
use strict;
use warnings;

use Exporter 'import';
use Carp ();
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes ();

use Apache::TestRequest ();

our @EXPORT = qw(raw_bytes raw_connect raw_read raw_request raw_parse);

my $BASE = '/elements/api-v2';

sub now { Time::HiRes::time() }

# "host:port" of the suite's server, or of $node (a CETest::Node hash).
sub host_port {
    my $node = shift;
    return $node ? "127.0.0.1:$node->{port}" : Apache::TestRequest::hostport();
}

# raw_bytes(METHOD, PATH, %o): the request line (PATH relative to
# /elements/api-v2 unless it starts with '/', sent as given: no escaping, no
# normalising), Host (the suite's server or o{node}'s), "Connection: close"
# unless o{headers} has a Connection, o{headers} (hash, or array of pairs
# kept in order and repeats), "Authorization: o{auth}" (a tenant hash or a
# header string) unless o{headers} has one, Content-Length when o{body} is
# given and o{headers} has neither Content-Length nor Transfer-Encoding;
# then the empty line and o{body} (nothing when undef: send it later).
sub raw_bytes {
    my($method, $path, %o) = @_;
    my @h = ref $o{headers} eq 'HASH' ? %{ $o{headers} } : @{ $o{headers} || [] };
    my %has;
    for (my $i = 0; $i < @h; $i += 2) { $has{ lc $h[$i] } = 1 }
    unshift @h, Connection => 'close' unless $has{connection};
    if (defined $o{auth} && !$has{authorization}) {
        push @h, Authorization => ref $o{auth} ? CETest::auth($o{auth}) : $o{auth};
    }
    push @h, 'Content-Length' => length $o{body}
        if defined $o{body} && !$has{'content-length'} && !$has{'transfer-encoding'};
    my $url = $path =~ m{^/} ? $path : "$BASE/$path";
    my $req = "$method $url HTTP/1.1\r\nHost: " . host_port($o{node}) . "\r\n";
    for (my $i = 0; $i < @h; $i += 2) {
        $req .= "$h[$i]: $h[$i + 1]\r\n";
    }
    return $req . "\r\n" . ($o{body} // '');
}

# raw_connect(%o): a new connection to the suite's server or o{node};
# o{timeout} (default 30 s) for connecting and, later, raw_read's default.
# Dies when it cannot connect, unless o{try}: then undef.
sub raw_connect {
    my %o = @_;
    my $hp = host_port($o{node});
    my $timeout = $o{timeout} // 30;
    my $sock = IO::Socket::INET->new(PeerAddr => $hp, Proto => 'tcp', Timeout => $timeout);
    unless ($sock) {
        return undef if $o{try};
        die "CETest: cannot connect to $hp: $!\n";
    }
    binmode $sock;
    $sock->autoflush(1);
    return bless { sock => $sock, buf => '', closed => 0, at => undef, timeout => $timeout,
                   hostport => $hp }, __PACKAGE__;
}

# $conn->send(BYTES): writes them, in pieces of 64 KiB, until all are sent
# or the server has something to say (an early answer such as 413) or
# closed the connection. Whether everything was sent. (SIGPIPE is ignored
# meanwhile: a server that closed on us must not end the test.)
sub send {
    my($self, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    $self->{head} = 1 if !length $self->{buf} && $bytes =~ /^HEAD /;
    my $sel = IO::Select->new($self->{sock});
    my $off = 0;
    while ($off < length $bytes) {
        return 0 if $sel->can_read(0);
        my $n = syswrite $self->{sock}, $bytes, 65536, $off;
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}

# $conn->bytes: everything read on it so far, as it came.
sub bytes { $_[0]{buf} }

# $conn->response: raw_parse of what was read (see the top).
sub response {
    my $self = shift;
    my $r = raw_parse($self->{buf}, closed => $self->{closed}, head => $self->{head});
    $r->{at} = $self->{at};
    return $r;
}

sub close {
    my $self = shift;
    CORE::close($self->{sock}) if $self->{sock};
    delete $self->{sock};
    return;
}

# Whether $conn has what $until asks for: 'head' (a complete head, an
# interim one counts), 'response' (a complete final response), 'close'
# (only the server closing ends it) or CODE->($conn).
sub has {
    my($conn, $until) = @_;
    return $until->($conn) if ref $until eq 'CODE';
    return index($conn->{buf}, "\r\n\r\n") >= 0 if $until eq 'head';
    return raw_parse($conn->{buf}, head => $conn->{head})->{complete} if $until eq 'response';
    return 0 if $until eq 'close';
    Carp::croak("CETest: raw_read: until => '$until'?");
}

# raw_read(\@conns, %o): reads on every connection at once until each has
# what o{until} asks for (see has(); default 'response'), or the server
# closed it, or the time is up: o{deadline} (an absolute Time::HiRes time)
# or o{timeout} seconds from now (default the first connection's). Sets
# each one's "at" (undef for those the time ran out on). Returns how many
# got there in time.
sub raw_read {
    my($conns, %o) = @_;
    my $until = $o{until} // 'response';
    my $deadline = $o{deadline} // now() + ($o{timeout} // ($conns->[0] ? $conns->[0]{timeout} : 30));
    my(%by_fd, $done);
    my $sel = IO::Select->new;
    for my $c (@$conns) {
        $c->{at} = undef;
        if ($c->{closed} || !$c->{sock} || has($c, $until)) {
            $c->{at} = now();
            $done++;
            next;
        }
        $by_fd{ fileno $c->{sock} } = $c;
        $sel->add($c->{sock});
    }
    while ($sel->count and now() < $deadline) {
        for my $s ($sel->can_read($deadline - now())) {
            my $c = $by_fd{ fileno $s };
            my $got = sysread $s, $c->{buf}, 65536, length $c->{buf};
            $c->{closed} = 1 unless $got;
            if (!$got or has($c, $until)) {
                $c->{at} = now();
                $done++;
                $sel->remove($s);
            }
        }
    }
    return $done // 0;
}

# raw_request(BYTES, %o): a connection of its own (o{node}, o{timeout}
# as raw_connect), BYTES sent (see send: an early answer stops it), the
# answer read (o{until}, default 'response'), the connection closed; the
# parsed response.
sub raw_request {
    my($bytes, %o) = @_;
    my $c = raw_connect(%o);
    $c->send($bytes);
    raw_read([$c], until => $o{until} // 'response');
    $c->close;
    return $c->response;
}

# raw_parse(BYTES, %o): the response in BYTES (see the top), skipping 1xx
# answers; o{closed}: the server closed after them (a body without length
# is then complete); o{head}: the answer to a HEAD (no body).
sub raw_parse {
    my($raw, %o) = @_;
    my %r = (status => 0, reason => '', headers => {}, header_list => [], body => '',
             interim => [], complete => 0, closed => $o{closed} ? 1 : 0, raw => $raw);
    my $rest = $raw;
    my $head;
    while (1) {
        my $end = index $rest, "\r\n\r\n";
        return \%r if $end < 0;
        $head = substr $rest, 0, $end;
        $rest = substr $rest, $end + 4;
        my($status) = $head =~ m{^HTTP/\d\.\d (\d{3})} or return \%r;
        last unless $status =~ /^1/;
        push @{ $r{interim} }, $status;
    }
    my($status_line, @lines) = split /\r\n/, $head;
    @r{qw(status reason)} = $status_line =~ m{^HTTP/\d\.\d (\d{3}) ?(.*)$};
    for (@lines) {
        my($k, $v) = /^([^:]+):[ \t]*(.*?)[ \t]*$/ or next;
        push @{ $r{header_list} }, $k, $v;
        $r{headers}{ lc $k } = exists $r{headers}{ lc $k } ? "$r{headers}{ lc $k }, $v" : $v;
    }
    my $h = $r{headers};
    if ($o{head} or $r{status} == 204 or $r{status} == 304) {
        $r{complete} = 1;
    }
    elsif (($h->{'transfer-encoding'} // '') =~ /chunked/i) {
        @r{qw(body complete)} = dechunk($rest);
    }
    elsif (defined $h->{'content-length'} && $h->{'content-length'} =~ /^\d+$/) {
        $r{body} = substr $rest, 0, $h->{'content-length'};
        $r{complete} = length $rest >= $h->{'content-length'} ? 1 : 0;
    }
    else {
        $r{body} = $rest;
        $r{complete} = $r{closed};
    }
    return \%r;
}

# A chunked body: (the data, whether the last chunk and trailer are there).
sub dechunk {
    my $rest = shift;
    my($out, $pos) = ('', 0);
    while ((my $eol = index $rest, "\r\n", $pos) >= 0) {
        my($len) = substr($rest, $pos, $eol - $pos) =~ /^([0-9a-fA-F]+)/ or last;
        $len = hex $len;
        $pos = $eol + 2;
        return ($out, substr($rest, $pos) =~ /^(?:[^\r\n]+\r\n)*\r\n/ ? 1 : 0) if $len == 0;
        last if length $rest < $pos + $len + 2;
        $out .= substr $rest, $pos, $len;
        $pos += $len + 2;
    }
    return ($out, 0);
}

1;
