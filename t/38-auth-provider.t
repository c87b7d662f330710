# 38-auth-provider: other Locations accept Element tokens (issue 13, item 4):
# AuthType CEInstances with Require ce-instance or Require ce-element. The
# caller's own instance gets through (Elements-Element-Instance-Id, the
# instance in environment variables, the Authorization header taken out);
# no token, a bad, deleted or foreign one 401; a disabled instance 403; an
# instance of another element than the Location allows is refused; every
# refusal a JSON body, every 401 a WWW-Authenticate challenge (realm: the
# Location's AuthName, else the API's).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path ();
use Apache::Test qw(-withtestmore);
use CETest;

my $MODS = '/usr/lib/apache2/modules';
my $node = start_node(name => 'authp', extra => [
    "LoadModule authn_core_module $MODS/mod_authn_core.so",
    "LoadModule headers_module $MODS/mod_headers.so",
    '<Location /hubs>',
    '    AuthType CEInstances',
    '    Require ce-instance',
    '    Header always set X-CE-Seen "%{CE_INSTANCE_ID}e %{CE_ELEMENT_KEY}e %{CE_USER_ID}e"',
    '    Header always set X-CE-Auth-Left "expr=[%{req:Authorization}]"',
    '</Location>',
    '<Location /hubs/jira-only>',
    '    AuthType CEInstances',
    '    AuthName "JIRA hubs"',
    '    Require ce-element jira',
    '</Location>',
]);
END { stop_node($node) if $node }
File::Path::make_path("$node->{dir}/hubs/jira-only");
for my $f ('hubs/hello.txt', 'hubs/jira-only/hello.txt') {
    open my $fh, '>', "$node->{dir}/$f" or die "$f: $!";
    print $fh "hello from $f\n";
    close $fh;
}

my $t = signup();
my $o = signup();
my $jira = create_instance($t, 'jira');
my $s3 = create_instance($t, 'amazons3');
my $theirs = create_instance($o, 'jira');
my $el = sub { auth($t) . ", Element $_[0]" };

sub hub {
    my($path, $auth) = @_;
    return api(GET => "/hubs/$path", node => $node, defined $auth ? (auth => $auth) : ());
}

my $res = hub('hello.txt', $el->($jira->{token}));
is $res->code, 200, 'the caller\'s instance: 200';
is $res->content, "hello from hubs/hello.txt\n", 'the file';
is $res->header('Elements-Element-Instance-Id'), $jira->{id}, 'Elements-Element-Instance-Id';
is $res->header('X-CE-Seen'), "$jira->{id} jira $t->{user_id}", 'CE_INSTANCE_ID, CE_ELEMENT_KEY, CE_USER_ID';
is $res->header('X-CE-Auth-Left'), '[]', 'the Authorization header is taken out (mod_headers sees none)';
like hub('hello.txt', $el->('nosuch'))->header('X-CE-Auth-Left') // '', qr/^\[User /,
    '(mod_headers does see it on a refused request: the check can fail)';
is hub('hello.txt', $el->($s3->{token}))->code, 200, 'any element\'s instance under ce-instance';

for my $c (['no Authorization'          => undef, qr/./],
           ['no Element token'          => auth($t), qr/Element token/],
           ['a bad Element token'       => $el->('x' x 43), qr/Element token/],
           ['another tenant\'s token'   => $el->($theirs->{token}), qr/Element token/],
           ['wrong secrets'             => "User x, Organization y, Element $jira->{token}", qr/./]) {
    my($what, $auth, $msg) = @$c;
    $res = hub('hello.txt', $auth);
    expect_error($res, 401, "$what: 401", message => $msg);
    unlike $res->content, qr/hello from/, "$what: not the file";
    ok !defined $res->header('Elements-Element-Instance-Id'), "$what: names no instance";
}

expect_ok(api(DELETE => "instances/$s3->{id}/enabled", auth => $t), 'disable the amazons3 instance');
expect_error(hub('hello.txt', $el->($s3->{token})), 403, 'a disabled instance: 403');
expect_ok(api(PUT => "instances/$s3->{id}/enabled", auth => $t), 'enable it again');

# Require ce-element jira
is hub('jira-only/hello.txt', $el->($jira->{token}))->code, 200, 'ce-element jira: a jira instance';
$res = hub('jira-only/hello.txt', $el->($s3->{token}));
expect_error($res, 401, 'ce-element jira: an amazons3 instance is refused', message => qr/element/,
             realm => 'JIRA hubs');
expect_error(hub('jira-only/hello.txt', $el->('x' x 43)), 401,
             'ce-element jira: a bad Element token, the AuthName as realm',
             realm => 'JIRA hubs');
unlike $res->content, qr/hello from/, '... without the file';

# A deleted instance's token
expect_ok(api(DELETE => "instances/$jira->{id}", auth => $t), 'delete the jira instance', empty => 1);
expect_error(hub('hello.txt', $el->($jira->{token})), 401, 'a deleted instance\'s token: 401');

# The API beside it is unchanged, and a Location without AuthType serves as before.
expect_ok(api(GET => 'instances', auth => $t, node => $node), 'the API on the same server');

done_testing;
