# 36-token-scoped: what Cloud Elements clients call without an id in the
# path (issue 13, item 1): with `Element <token>` in Authorization, PUT,
# PATCH and DELETE /instances, GET /instances/configuration, GET and PATCH
# /instances/configuration/{configId}, PUT and DELETE /instances/enabled act
# on the token's instance, exactly as the {id} paths do; without a token
# they answer 400 saying one is needed. The headers (item 2):
# Elements-Request-Id on every answer (the requestId of error bodies, also
# httpd's own refusals), Elements-Element-Instance-Id when a token
# authenticated, Elements-Returned-Count on lists; and hydrate=false
# (item 3).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();
my $o = signup();
my $mine = create_instance($t, 'jira', name => 'by token', tags => ['a']);
my $other = create_instance($t, 'jira', name => 'the other one');
my $theirs = create_instance($o, 'jira', name => 'theirs');
my $tok = sub { auth($t) . ", Element $_[0]" };
my $A = $tok->($mine->{token});
my $id = $mine->{id};

# --- the same answers as the {id} paths ---------------------------------------
for my $pair (['instances/configuration' => "instances/$id/configuration"],
              ['instances/configuration/1' => "instances/$id/configuration/1"]) {
    my($by, $path) = @$pair;
    my $res = api(GET => $by, auth => $A);
    expect_ok($res, "GET /$by");
    is_deeply $res->json, api(GET => $path, auth => $t)->json, "GET /$by is GET /$path";
    is $res->header('Elements-Element-Instance-Id'), $id, "GET /$by: Elements-Element-Instance-Id";
}
my $res = api(PATCH => 'instances/configuration/1', auth => $A, json => { propertyValue => 'grace' });
expect_ok($res, 'PATCH /instances/configuration/1');
is api(GET => "instances/$id/configuration/1", auth => $t)->json->{propertyValue}, 'grace',
    'the token\'s instance changed';
$res = api(PATCH => 'instances', auth => $A, json => { name => 'renamed by token' });
expect_ok($res, 'PATCH /instances');
is $res->json->{id}, $id, 'PATCH /instances: the token\'s instance';
is api(GET => "instances/$id", auth => $t)->json->{name}, 'renamed by token', 'renamed';
is api(GET => "instances/$other->{id}", auth => $t)->json->{name}, 'the other one', 'the other untouched';
$res = api(PUT => 'instances', auth => $A,
           json => { name => 'put by token', configuration => valid_config('jira'), tags => ['b'] });
expect_ok($res, 'PUT /instances');
is_deeply [$res->json->{name}, $res->json->{tags}], ['put by token', ['b']], 'PUT /instances: replaced';

$res = api(DELETE => 'instances/enabled', auth => $A);
expect_ok($res, 'DELETE /instances/enabled', empty => 1);
ok is_json_true(api(GET => "instances/$id", auth => $t)->json->{disabled}), 'disabled';
expect_error(api(PUT => 'instances/enabled', auth => $A), 403,
             'PUT /instances/enabled with the disabled instance\'s token');
expect_ok(api(PUT => "instances/$id/enabled", auth => $t), 'enabled again by id', empty => 1);
expect_ok(api(PUT => 'instances/enabled', auth => $A), 'PUT /instances/enabled', empty => 1);

# Scoped to an element: the token's instance must be of it.
expect_ok(api(GET => 'elements/jira/instances/configuration', auth => $A),
          'GET /elements/jira/instances/configuration');
expect_error(api(GET => 'elements/sfdc/instances/configuration', auth => $A), 404,
             'GET /elements/sfdc/instances/configuration with a jira token');

# --- without a token, or with someone else's -------------------------------------
my $before = snapshot();
for my $c ([PUT => 'instances'], [PATCH => 'instances'], [DELETE => 'instances'],
           [GET => 'instances/configuration'], [GET => 'instances/configuration/1'],
           [PATCH => 'instances/configuration/1'], [PUT => 'instances/enabled'],
           [DELETE => 'instances/enabled']) {
    my($m, $p) = @$c;
    my %body = $m =~ /^(PUT|PATCH)$/ ? (json => { name => 'x', propertyValue => 'x' }) : ();
    $res = api($m => $p, auth => $t, %body);
    expect_error($res, 400, "$m /$p without an Element token", message => qr/Element token/);
    ok !defined $res->header('Elements-Element-Instance-Id'), "$m /$p: no instance named";
    expect_error(api($m => $p, auth => auth($t) . ", Element $theirs->{token}", %body), 401,
                 "$m /$p with another tenant's token");
    expect_error(api($m => $p, %body), 401, "$m /$p without Authorization");
}
unchanged($before, 'refused token-scoped calls');
ok api(GET => 'instances', auth => $A)->code == 200, 'GET /instances with a token is still the list';

# --- headers ------------------------------------------------------------------------
$res = api(GET => "instances/$id", auth => $t);
like $res->header('Elements-Request-Id') // '', qr/^[0-9a-f]{32}$/, 'Elements-Request-Id on a 200';
ok !defined $res->header('Elements-Element-Instance-Id'), 'no Elements-Element-Instance-Id without a token';
my $r2 = api(GET => "instances/$id", auth => $t);
isnt $r2->header('Elements-Request-Id'), $res->header('Elements-Request-Id'), 'one id per request';
for my $c (['our 404' => GET => 'instances/999999999', auth => $t],
           ['our 401' => GET => 'instances'],
           ['httpd\'s own 413' => POST => 'instances', auth => $t, body => 'x' x (2 * 1024 * 1024),
            content_type => 'application/json']) {
    my($what, $m, $p, %o) = @$c;
    $res = api($m => $p, %o);
    ok $res->code >= 400, "$what: an error (" . $res->code . ')';
    my $rid = $res->header('Elements-Request-Id') // '';
    like $rid, qr/^[0-9a-f]{32}$/, "$what: Elements-Request-Id";
    is(($res->json || {})->{requestId}, $rid, "$what: the body's requestId is the header's");
}
$res = api(GET => 'instances?pageSize=2', auth => $t);
is $res->header('Elements-Returned-Count'), 2, 'Elements-Returned-Count: 2 of a page of 2';
$res = api(GET => 'instances?tags[]=nosuch', auth => $t);
is $res->header('Elements-Returned-Count'), 0, 'Elements-Returned-Count: 0 of an empty list';
is $res->header('Elements-Element-Instance-Id'), undef, 'a list without a token names no instance';
$res = api(DELETE => 'instances/999999999', auth => $A);
is $res->header('Elements-Element-Instance-Id'), $id, 'on an error too, once the token authenticated';

# --- hydrate=false ------------------------------------------------------------------
my $full = api(GET => 'instances', auth => $t)->json;
$res = api(GET => 'instances?hydrate=false', auth => $t);
expect_ok($res, 'GET /instances?hydrate=false');
my %cat = map { $_->{id} => $_ } @{ api(GET => 'elements', auth => $t)->json };
for my $i (@{ $res->json }) {
    my $e = $cat{ $i->{element}{id} };
    is_deeply $i->{element}, { id => $e->{id}, key => $e->{key}, name => $e->{name} },
        "instance $i->{id}: element reduced to id, key and name";
}
is_deeply [map { my %c = %$_; delete $c{element}; \%c } @{ $res->json }],
          [map { my %c = %$_; delete $c{element}; \%c } @$full], 'the rest as hydrated';
is_deeply api(GET => 'instances?hydrate=true', auth => $t)->json, $full, 'hydrate=true: the default';
expect_error(api(GET => 'instances?hydrate=no', auth => $t), 400, 'hydrate=no',
             message => qr/hydrate must be true or false/);

# --- DELETE /instances by token -------------------------------------------------------
expect_ok(api(DELETE => 'instances', auth => $A), 'DELETE /instances', empty => 1);
expect_error(api(GET => "instances/$id", auth => $t), 404, 'the token\'s instance is gone');
expect_error(api(GET => 'instances/configuration', auth => $A), 401, 'its token no longer authenticates');
expect_ok(api(GET => "instances/$other->{id}", auth => $t), 'the other instance is still there');

done_testing;
