# 07-scoped: /elements/{key}/instances and /elements/{elementId}/instances —
# the same CRUD, limited to that element: lists show only its instances,
# another element's instance is 404, POST needs no body element (one that is
# given must be that element, else 400), unknown elements are 404.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();
my $j1 = create_instance($t, 'jira', name => 'j1', tags => ['t']);
my $s1 = create_instance($t, 'sfdc', name => 's1', tags => ['t']);
my $j2 = create_instance($t, 'jira', name => 'j2');

for my $scope ('jira', '1') {
    my $p = "elements/$scope/instances";
    my $res = api(GET => $p, auth => $t);
    expect_ok($res, "GET /$p");
    is_deeply ids_of($res->json), [$j2->{id}, $j1->{id}], "GET /$p: only jira instances, newest first";
    $res = api(GET => "$p?tags[]=t", auth => $t);
    expect_ok($res, "GET /$p?tags[]=t");
    is_deeply ids_of($res->json), [$j1->{id}], "GET /$p?tags[]=t";
    $res = api(GET => "$p?pageSize=1", auth => $t);
    is_deeply ids_of($res->json), [$j2->{id}], "GET /$p?pageSize=1";
    my $next = $res->header('Elements-Next-Page-Token');
    ok defined $next, "GET /$p?pageSize=1: next page token";
    $res = api(GET => "$p?pageSize=1&nextPage=" . ($next // ''), auth => $t);
    is_deeply ids_of($res->json), [$j1->{id}], "GET /$p page 2";
    ok !defined $res->header('Elements-Next-Page-Token'), "GET /$p page 2: last";

    $res = api(GET => "$p/$j1->{id}", auth => $t);
    expect_ok($res, "GET /$p/{jira id}");
    is_deeply $res->json, api(GET => "instances/$j1->{id}", auth => $t)->json, 'same as unscoped GET';
    expect_ok(api(GET => "$p/$j1->{id}/configuration", auth => $t), "GET /$p/{id}/configuration");
    expect_ok(api(GET => "$p/$j1->{id}/configuration/1", auth => $t), "GET /$p/{id}/configuration/1");

    # Another element's instance is not there.
    my $before = snapshot();
    expect_error(api(GET => "$p/$s1->{id}", auth => $t), 404, "GET /$p/{sfdc id}");
    expect_error(api(PUT => "$p/$s1->{id}", auth => $t, json => { name => 'x' }), 404, "PUT /$p/{sfdc id}");
    expect_error(api(PATCH => "$p/$s1->{id}", auth => $t, json => { name => 'x' }), 404, "PATCH /$p/{sfdc id}");
    expect_error(api(DELETE => "$p/$s1->{id}", auth => $t), 404, "DELETE /$p/{sfdc id}");
    expect_error(api(GET => "$p/$s1->{id}/configuration", auth => $t), 404, "GET /$p/{sfdc id}/configuration");
    expect_error(api(PATCH => "$p/$s1->{id}/configuration/1", auth => $t, json => { propertyValue => 'x' }),
                 404, "PATCH /$p/{sfdc id}/configuration/1");
    expect_error(api(PUT => "$p/$s1->{id}/enabled", auth => $t), 404, "PUT /$p/{sfdc id}/enabled");
    expect_error(api(DELETE => "$p/$s1->{id}/enabled", auth => $t), 404, "DELETE /$p/{sfdc id}/enabled");
    unchanged($before, "/$p with another element's instance");
}

# Create in scope: no body element needed; a matching one is fine.
my $res = api(POST => 'elements/jira/instances', auth => $t,
              json => { name => 'scoped', configuration => valid_config('jira') });
expect_ok($res, 'POST /elements/jira/instances without element');
expect_instance($res->json, 'scoped create', element => 'jira', name => 'scoped', user => $t);
my $j3 = $res->json;
$res = api(POST => 'elements/1/instances', auth => $t,
           json => { name => 'scoped by id', element => { key => 'jira' }, configuration => valid_config('jira') });
expect_ok($res, 'POST /elements/1/instances with a matching element');
expect_instance($res->json, 'scoped create by id', element => 'jira');
$res = api(POST => 'elements/amazons3/instances', auth => $t,
           json => { name => 'scoped s3', element => { id => 16 }, configuration => valid_config('amazons3') });
expect_ok($res, 'POST /elements/amazons3/instances with element id 16');

my $before = snapshot();
expect_error(api(POST => 'elements/jira/instances', auth => $t,
                 json => { name => 'x', element => { key => 'sfdc' }, configuration => valid_config('sfdc') }),
             400, 'POST /elements/jira/instances with element sfdc');
expect_error(api(POST => 'elements/16/instances', auth => $t,
                 json => { name => 'x', element => { id => 1 }, configuration => valid_config('jira') }),
             400, 'POST /elements/16/instances with element id 1');
expect_error(api(POST => 'elements/jira/instances', auth => $t,
                 json => { name => 'x', configuration => { 'jira.api.url' => 'https://x' } }),
             400, 'POST /elements/jira/instances missing configuration',
             message => 'Missing required configuration entries: jira.username, jira.password');
expect_error(api(PUT => "elements/jira/instances/$j1->{id}", auth => $t,
                 json => { element => { key => 'sfdc' }, configuration => valid_config('sfdc') }),
             400, 'PUT in scope jira changing the element to sfdc');
for my $unknown ('nosuchelement', '424242') {
    expect_error(api(GET => "elements/$unknown/instances", auth => $t), 404, "GET /elements/$unknown/instances");
    expect_error(api(POST => "elements/$unknown/instances", auth => $t,
                     json => { name => 'x', configuration => valid_config('jira') }),
                 404, "POST /elements/$unknown/instances");
    expect_error(api(GET => "elements/$unknown/instances/$j1->{id}", auth => $t), 404,
                 "GET /elements/$unknown/instances/{id}");
}
expect_error(api(GET => 'elements/jira/instances'), 401, 'scoped list without Authorization');
expect_error(api(DELETE => 'elements/jira/instances', auth => $t), 400,
             'DELETE /elements/jira/instances without an Element token', message => qr/Element token/);
unchanged($before, 'refused scoped requests');

# Update, enable/disable, configuration, delete in scope.
$res = api(PUT => "elements/jira/instances/$j1->{id}", auth => $t, json => { name => 'j1 renamed' });
expect_ok($res, 'scoped PUT');
is $res->json && $res->json->{name}, 'j1 renamed', 'scoped PUT: renamed';
$res = api(PATCH => "elements/1/instances/$j1->{id}", auth => $t,
           json => { element => { key => 'jira' }, tags => ['u'] });
expect_ok($res, 'scoped PATCH with the scope element');
is_deeply $res->json && $res->json->{tags}, ['u'], 'scoped PATCH: tags';
$res = api(DELETE => "elements/jira/instances/$j1->{id}/enabled", auth => $t);
expect_ok($res, 'scoped disable');
ok is_json_true($res->json && $res->json->{disabled}), 'scoped disable: disabled';
$res = api(PUT => "elements/jira/instances/$j1->{id}/enabled", auth => $t);
expect_ok($res, 'scoped enable');
ok is_json_false($res->json && $res->json->{disabled}), 'scoped enable: enabled';
$res = api(PATCH => "elements/jira/instances/$j1->{id}/configuration/3", auth => $t,
           json => { propertyValue => 'https://scoped.example' });
expect_ok($res, 'scoped configuration PATCH');
is $res->json && $res->json->{propertyValue}, 'https://scoped.example', 'scoped configuration PATCH: value';
expect_ok(api(DELETE => "elements/1/instances/$j3->{id}", auth => $t), 'scoped DELETE', empty => 1);
expect_error(api(GET => "instances/$j3->{id}", auth => $t), 404, 'gone after scoped DELETE');

# The unscoped list still has everything left.
$res = api(GET => 'instances', auth => $t);
ok((grep { $_ == $s1->{id} } @{ ids_of($res->json) }), 'unscoped list has the sfdc instance');

done_testing;
