# 09-enabled: PUT /instances/{id}/enabled clears the disabled flag, DELETE
# sets it; both answer the instance; both are idempotent; other users get
# 404 and nothing changes; only PUT and DELETE are allowed there.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();
my $inst = create_instance($t, 'jira', name => 'switch');
my $id = $inst->{id};
ok is_json_false($inst->{disabled}), 'a new instance is enabled';

for my $round (1, 2) {
    my $res = api(DELETE => "instances/$id/enabled", auth => $t);
    expect_ok($res, "disable ($round)");
    expect_instance($res->json, "disable ($round)", element => 'jira', name => 'switch', disabled => 1, user => $t);
    is $res->json && $res->json->{token}, $inst->{token}, "disable ($round): same instance";
    is_deeply api(GET => "instances/$id", auth => $t)->json, $res->json, "disable ($round): GET agrees";
}
my $res = api(GET => 'instances', auth => $t);
ok is_json_true($res->list->[0]{disabled}), 'the list shows it disabled';
# A disabled instance is still the caller's: readable, updatable; its token
# is refused (403, below).
expect_error(api(GET => 'instances', auth => auth($t, element => $inst->{token})), 403,
             'token of a disabled instance');
$res = api(PATCH => "instances/$id", auth => $t, json => { name => 'switch 2' });
expect_ok($res, 'PATCH a disabled instance');
ok is_json_true($res->json && $res->json->{disabled}), 'PATCH keeps disabled';

for my $round (1, 2) {
    $res = api(PUT => "instances/$id/enabled", auth => $t);
    expect_ok($res, "enable ($round)");
    expect_instance($res->json, "enable ($round)", disabled => 0, name => 'switch 2');
    is_deeply api(GET => "instances/$id", auth => $t)->json, $res->json, "enable ($round): GET agrees";
}

# A body on PUT/DELETE enabled is not needed; an empty JSON object is fine.
$res = api(DELETE => "instances/$id/enabled", auth => $t, json => {});
expect_ok($res, 'disable with {}');
ok is_json_true($res->json && $res->json->{disabled}), 'disable with {}: disabled';

# Other users, unknown instances, wrong methods.
my $mate = add_user($t);
my $stranger = signup();
my $before = snapshot();
for my $who ([$mate, 'same organization, other user'], [$stranger, 'other organization']) {
    for my $m (qw(PUT DELETE)) {
        expect_error(api($m => "instances/$id/enabled", auth => $who->[0]), 404, "$m enabled: $who->[1]");
    }
}
for my $m (qw(PUT DELETE)) {
    expect_error(api($m => 'instances/999999999/enabled', auth => $t), 404, "$m enabled: unknown instance");
    expect_error(api($m => "instances/$id/enabled"), 401, "$m enabled: no Authorization");
}
for my $m (qw(GET POST PATCH)) {
    expect_error(api($m => "instances/$id/enabled", auth => $t, $m eq 'GET' ? () : (json => {})), 405,
                 "$m enabled", allow => [qw(PUT DELETE)]);
}
unchanged($before, 'refused enable/disable');
ok is_json_true(api(GET => "instances/$id", auth => $t)->json->{disabled}), 'still disabled';

# A disabled instance's token is known but refused as Element: 403 (as
# Cloud Elements answers), with the JSON error; enabled again, it works.
my $with_token = auth($t, element => $inst->{token});
$res = api(GET => "instances/$id", auth => $with_token);
expect_error($res, 403, 'Element token of a disabled instance');
is $res->json->{message}, 'The instance of this Element token is disabled', 'and says why';
expect_ok(api(GET => "instances/$id", auth => $t), 'without the token: served');
expect_ok(api(PUT => "instances/$id/enabled", auth => $t), 'enable it again');
expect_ok(api(GET => "instances/$id", auth => $with_token), 'its token is accepted again');
expect_ok(api(DELETE => "instances/$id/enabled", auth => $t), 'and disable it again');
expect_error(api(GET => 'instances', auth => $with_token), 403, 'refused again, on any path');

done_testing;
