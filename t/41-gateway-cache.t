# 41-gateway-cache: what a gateway node remembers of Element tokens
# (ce_authcache: the instance a token opened, checked against the database
# by one small read on every call) never outlives a change made anywhere.
# The gateway node (one child, so every call meets the same memory) calls a
# provider that answers what arrived; every change is made through the
# suite's own server, another httpd on the same database, as a second node
# of a deployment would make it. After each change, every call sees it:
# new credentials go to the provider at once; a disabled instance answers
# 403, a deleted one, a rotated secret or another organization's secret
# 401. Hits are seen in the node's log (CE00054), so the memory is proved
# to be in use, not bypassed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path ();
use JSON::PP ();
use MIME::Base64 ();
use Apache::Test qw(-withtestmore);
use CETest;

my $MODS = '/usr/lib/apache2/modules';
my $port = free_port();
my $cgi = Apache::Test::vars('top_dir') . '/t/tools/provider-echo.cgi';

my $provider = start_node(name => 'provider', port => $port,
    dir => Apache::Test::vars('t_dir') . "/provider-$$", extra => [
    map({ "LoadModule ${_}_module $MODS/mod_$_.so" } qw(cgi alias)),
    "ScriptAlias /provider/echo $cgi",
    '<Location /provider>',
    '    CGIPassAuth On',
    '</Location>',
]);
my $node = start_node(name => 'gwcache', procs => 1, threads => 8, extra => [
    map({ "LoadModule ${_}_module $MODS/mod_$_.so" } qw(authn_core proxy proxy_http)),
    'LogLevel trace8 proxy:info proxy_http:info',
    '<Location /hubs>',
    '    AuthType CEInstances',
    '    Require ce-instance',
    '    CEInstancesProxy On',
    '</Location>',
]);
END {
    stop_node($_) for grep { $_ } $node, $provider;
    File::Path::remove_tree($provider->{dir}) if $provider;
}

my $t = signup();
my $url = "http://127.0.0.1:$port/provider/echo";
sub jira {
    my($user, $pw) = @_;
    remember_secrets($pw, MIME::Base64::encode_base64("$user:$pw", ''));
    return { 'jira.username' => $user, 'jira.password' => $pw, 'jira.api.url' => $url };
}
sub basic { 'Basic ' . MIME::Base64::encode_base64("$_[0]:$_[1]", '') }

# A gateway call as tenant $who with $inst's token: (status, the
# Authorization the provider got).
sub call {
    my($who, $inst) = @_;
    my $res = api(GET => '/hubs/x', node => $node, auth => auth($who) . ", Element $inst->{token}");
    my $got = $res->code == 200 ? eval { JSON::PP::decode_json($res->content) } || {} : {};
    return ($res->code, $got->{headers}{authorization} // '');
}
# Three calls in a row: each must give $status (and, for 200, $auth).
sub calls_give {
    my($who, $inst, $status, $auth, $what) = @_;
    my @bad;
    for my $i (1 .. 3) {
        my($code, $sent) = call($who, $inst);
        push @bad, "call $i: $code" . ($code == 200 ? " with '$sent'" : '')
            if $code != $status || ($status == 200 && $sent ne $auth);
    }
    is scalar(@bad), 0, "$what: 3 calls in a row, each $status" or diag("@bad");
}
sub hits {
    open my $fh, '<', $node->{error_log} or die $!;
    my $log = do { local $/; <$fh> };
    return scalar(() = $log =~ /CE00054: instance $_[0] remembered/g);
}

my $a = create_instance($t, 'jira', configuration => jira('alice', 'first-pw-3b7e'));
my $b = create_instance($t, 'jira', configuration => jira('bob', 'bob-pw-90c2'));
calls_give($t, $a, 200, basic('alice', 'first-pw-3b7e'), 'A, its credential');
ok hits($a->{id}) >= 2, 'the node remembered A after its first call (CE00054)'
    or diag('hits: ' . hits($a->{id}));
calls_give($t, $b, 200, basic('bob', 'bob-pw-90c2'), 'B beside it: its own credential');
calls_give($t, $a, 200, basic('alice', 'first-pw-3b7e'), 'A again, not B\'s');

# Changed elsewhere: the configuration (a new password), then only the name.
expect_ok(api(PATCH => "instances/$a->{id}", auth => $t,
              json => { configuration => jira('alice', 'second-pw-c41a') }), 'new password');
calls_give($t, $a, 200, basic('alice', 'second-pw-c41a'), 'A after its password changed');
expect_ok(api(PATCH => "instances/$a->{id}", auth => $t, json => { name => 'renamed' }),
          'renamed');
calls_give($t, $a, 200, basic('alice', 'second-pw-c41a'), 'A after a rename');

# Disabled, enabled again.
api(DELETE => "instances/$a->{id}/enabled", auth => $t);
calls_give($t, $a, 403, undef, 'A disabled');
api(PUT => "instances/$a->{id}/enabled", auth => $t);
calls_give($t, $a, 200, basic('alice', 'second-pw-c41a'), 'A enabled again');

# The secrets: another organization's, then each rotated.
my $other = signup();
calls_give({ %$t, org_secret => $other->{org_secret} }, $a, 401, undef,
           'A\'s token and user secret with another organization\'s secret');
my $old = { %$t };
rotate_user($t);
calls_give($old, $a, 401, undef, 'the old user secret, rotated');
calls_give($t, $a, 200, basic('alice', 'second-pw-c41a'), 'the new user secret');
$old = { %$t };
rotate_org($t);
calls_give($old, $a, 401, undef, 'the old organization secret, rotated');
calls_give($t, $a, 200, basic('alice', 'second-pw-c41a'), 'the new organization secret');

# Deleted.
api(DELETE => "instances/$a->{id}", auth => $t);
calls_give($t, $a, 401, undef, 'A deleted');
calls_give($t, $b, 200, basic('bob', 'bob-pw-90c2'), 'B unaffected');
ok hits($b->{id}) >= 4, 'B was answered from memory too (CE00054)';

done_testing;
