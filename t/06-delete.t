# 06-delete: DELETE /instances/{id} → 200; afterwards the instance is gone
# everywhere (GET, list, configuration, enabled, its token) and a second
# DELETE is 404. Deleting someone else's or a missing instance writes nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();
my $keep = create_instance($t, 'jira', name => 'keep', tags => ['shared']);
my $gone = create_instance($t, 'box', name => 'gone', tags => ['shared', 'mine']);
my $id = $gone->{id};

my $res = api(DELETE => "instances/$id", auth => $t);
expect_ok($res, 'DELETE', empty => 1);

expect_error(api(GET => "instances/$id", auth => $t), 404, 'GET after DELETE');
expect_error(api(GET => "instances/$id/configuration", auth => $t), 404, 'configuration after DELETE');
expect_error(api(GET => "instances/$id/configuration/1", auth => $t), 404, 'configuration entry after DELETE');
my $before = snapshot();
expect_error(api(PUT => "instances/$id", auth => $t, json => { name => 'back' }), 404, 'PUT after DELETE');
expect_error(api(PATCH => "instances/$id", auth => $t, json => { name => 'back' }), 404, 'PATCH after DELETE');
expect_error(api(PUT => "instances/$id/enabled", auth => $t), 404, 'enable after DELETE');
expect_error(api(DELETE => "instances/$id/enabled", auth => $t), 404, 'disable after DELETE');
expect_error(api(DELETE => "instances/$id", auth => $t), 404, 'second DELETE');
expect_error(api(DELETE => "elements/box/instances/$id", auth => $t), 404, 'scoped DELETE after DELETE');
expect_error(api(GET => 'instances', auth => auth($t, element => $gone->{token})), 401,
             'token of the deleted instance');
unchanged($before, 'requests on a deleted instance');

$res = api(GET => 'instances', auth => $t);
expect_ok($res, 'list after DELETE');
is_deeply ids_of($res->json), [$keep->{id}], 'list: only the remaining instance';
$res = api(GET => 'instances?tags[]=mine', auth => $t);
expect_ok($res, 'tag filter after DELETE');
is_deeply $res->json, [], 'tag filter: the deleted instance is not found by its tag';
$res = api(GET => 'instances?tags[]=shared', auth => $t);
is_deeply ids_of($res->json), [$keep->{id}], 'shared tag: only the remaining instance';
expect_ok(api(GET => "instances/$keep->{id}", auth => $t), 'the other instance is untouched');

# Ids are not reused.
my $new = create_instance($t, 'box', name => 'new');
ok $new && $new->{id} > $id, 'a new instance gets a new id';

# Missing, malformed and foreign ids.
my $other = signup();
$before = snapshot();
for my $bad (999999999, 0, -1, 'abc', '99999999999999999999', "$keep->{id}x") {
    my $r = api(DELETE => "instances/$bad", auth => $t);
    expect_error($r, 404, "DELETE /instances/$bad");
}
expect_error(api(DELETE => "instances/$keep->{id}", auth => $other), 404, "DELETE another tenant's instance");
expect_error(api(DELETE => "instances/$keep->{id}"), 401, 'DELETE without Authorization');
unchanged($before, 'refused deletes');
expect_ok(api(GET => "instances/$keep->{id}", auth => $t), 'still there after the refused deletes');

# Delete through a scoped path.
$res = api(DELETE => "elements/jira/instances/$keep->{id}", auth => $t);
expect_ok($res, 'scoped DELETE', empty => 1);
expect_error(api(GET => "instances/$keep->{id}", auth => $t), 404, 'GET after scoped DELETE');

done_testing;
