#!/usr/bin/perl
# event-receiver.cgi: a webhook receiver for t/43-event-delivery.t, run by a
# real httpd (mod_cgi). It checks each delivery's signature with Perl's
# Digest::SHA (not the module's code): Elements-Webhook-Signature must be
# "sha256=" + base64 of HMAC-SHA256(HOOK_KEY, raw body). It appends one JSON
# line per delivery to HOOK_DIR/received (the webhook id, whether the
# signature held, the event's id, type and instance, the instance's name,
# when it began and
# ended), holding each delivery HOOK_HOLD seconds. While HOOK_DIR/down
# exists it answers 503 and records nothing; while HOOK_DIR/slow exists it
# takes 3 s more (and creates HOOK_DIR/began).
use strict;
use warnings;
use Digest::SHA ();
use Fcntl qw(:flock);
use JSON::PP ();
use Time::HiRes ();

binmode STDIN;
binmode STDOUT;
my $began = Time::HiRes::time();
my $dir = $ENV{HOOK_DIR} or die "no HOOK_DIR";
my $body = '';
while (read(STDIN, my $buf, 65536)) { $body .= $buf }
if (-e "$dir/down") {
    print "Status: 503\r\nContent-Type: text/plain\r\n\r\ndown\n";
    exit 0;
}
if (-e "$dir/slow") { # a slow receiver: 3 s a delivery (HOOK_DIR/began says one is under way)
    if (open my $began_fh, '>', "$dir/began") { close $began_fh }
    Time::HiRes::sleep(3);
}
my $b64 = Digest::SHA::hmac_sha256_base64($body, $ENV{HOOK_KEY} // '');
$b64 .= '=' x ((4 - length($b64) % 4) % 4);
my $sig = $ENV{HTTP_ELEMENTS_WEBHOOK_SIGNATURE} // '';
my $ev = eval { JSON::PP::decode_json($body) } || {};
Time::HiRes::sleep($ENV{HOOK_HOLD}) if $ENV{HOOK_HOLD};
my $line = JSON::PP->new->canonical->encode({
    id => $ENV{HTTP_ELEMENTS_WEBHOOK_ID} // '', signed => $sig ne '' ? 1 : 0,
    sig_ok => $sig eq "sha256=$b64" ? 1 : 0, event_id => $ev->{eventId} // '',
    type => $ev->{eventType} // '', instance => $ev->{instanceId} // 0,
    name => ref $ev->{instance} eq 'HASH' ? $ev->{instance}{name} // '' : '',
    content_type => $ENV{CONTENT_TYPE} // '', began => $began, ended => Time::HiRes::time(),
});
open my $fh, '>>', "$dir/received" or die "$dir/received: $!";
flock $fh, LOCK_EX;
print {$fh} "$line\n";
close $fh;
print "Status: 200\r\nContent-Type: application/json\r\n\r\n{}";
