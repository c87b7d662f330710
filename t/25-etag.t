# 25-etag: optimistic concurrency for clients (issue 11, item 1). Every
# answer that shows an instance (or its configuration) carries its ETag,
# which every write changes; PUT, PATCH, DELETE (and the configuration
# entry and enabled endpoints) with If-Match are done only when it names the
# stored version: 412 with the JSON error body otherwise, nothing written.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();

sub etag_of { my $r = shift; return $r->header('ETag') // '' }

my $res = api(POST => 'instances', auth => $t,
              json => { element => { key => 'jira' }, name => 'tagged',
                        configuration => valid_config('jira') });
expect_ok($res, 'create');
my $id = $res->json->{id};
my $e1 = etag_of($res);
like $e1, qr/^"[^"]+"$/, 'the create answer has a strong ETag';

$res = api(GET => "instances/$id", auth => $t);
is etag_of($res), $e1, 'GET answers the same ETag';
is etag_of(api(GET => "instances/$id/configuration", auth => $t)), $e1,
    'so does its configuration list';
is etag_of(api(GET => "instances/$id/configuration/1", auth => $t)), $e1,
    'and a configuration entry';

# a write without If-Match changes it
$res = api(PATCH => "instances/$id", auth => $t, json => { name => 'renamed' });
expect_ok($res, 'PATCH without If-Match');
my $e2 = etag_of($res);
isnt $e2, $e1, 'a write changes the ETag';
is etag_of(api(GET => "instances/$id", auth => $t)), $e2, 'GET agrees';

# stale If-Match: 412, nothing written
my $before = api(GET => "instances/$id", auth => $t)->json;
for my $case (
    [PATCH => "instances/$id", json => { name => 'lost' }],
    [PUT => "instances/$id", json => { name => 'lost' }],
    [PATCH => "instances/$id/configuration/1", json => { propertyValue => 'lost' }],
    [DELETE => "instances/$id/enabled"],
    [PUT => "instances/$id/enabled"],
    [DELETE => "instances/$id"],
) {
    my($method, $path, @body) = @$case;
    for my $stale ($e1, "W/$e2", '"nonsense"', "$e1, \"other\"") {
        $res = api($method => $path, auth => $t, @body, headers => { 'If-Match' => $stale });
        expect_error($res, 412, "$method $path with If-Match: $stale");
    }
}
is_deeply api(GET => "instances/$id", auth => $t)->json, $before, 'nothing was written';
is etag_of(api(GET => "instances/$id", auth => $t)), $e2, 'the ETag is unchanged';

# matching If-Match: done
$res = api(PATCH => "instances/$id", auth => $t, json => { name => 'mine' },
           headers => { 'If-Match' => "\"other\", $e2" });
expect_ok($res, 'PATCH with If-Match naming the current ETag among others');
is $res->json->{name}, 'mine', 'written';
my $e3 = etag_of($res);
isnt $e3, $e2, 'and the ETag moved on';
$res = api(PATCH => "instances/$id/configuration/1", auth => $t,
           json => { propertyValue => 'ada2' }, headers => { 'If-Match' => $e3 });
expect_ok($res, 'configuration entry PATCH with the current ETag');
my $e4 = etag_of($res);
isnt $e4, $e3, 'its answer carries the new ETag';
$res = api(DELETE => "instances/$id/enabled", auth => $t, headers => { 'If-Match' => '*' });
expect_ok($res, 'disable with If-Match: *');
ok is_json_true($res->json->{disabled}), 'disabled';
my $e5 = etag_of($res);

# another client's write makes this one's copy stale
api(PATCH => "instances/$id", auth => $t, json => { name => 'someone else' });
$res = api(PUT => "instances/$id", auth => $t, json => { name => 'mine again' },
           headers => { 'If-Match' => $e5 });
expect_error($res, 412, 'PUT after another client wrote');
is api(GET => "instances/$id", auth => $t)->json->{name}, 'someone else',
    'the other write stands';

# DELETE: stale refused above; current done
my $cur = etag_of(api(GET => "instances/$id", auth => $t));
$res = api(DELETE => "instances/$id", auth => $t, headers => { 'If-Match' => $cur });
expect_ok($res, 'DELETE with the current ETag', empty => 1);
expect_error(api(GET => "instances/$id", auth => $t), 404, 'gone');
expect_error(api(DELETE => "instances/$id", auth => $t, headers => { 'If-Match' => $cur }), 404,
             'DELETE with If-Match of a gone instance: 404');

# another tenant: 404 whatever If-Match says
my $u = signup();
my $other = create_instance($u, 'jira');
expect_error(api(PATCH => "instances/$other->{id}", auth => $t, json => { name => 'x' },
                 headers => { 'If-Match' => '*' }), 404, "another tenant's instance: 404");

done_testing;
