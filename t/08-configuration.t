# 08-configuration: GET /instances/{id}/configuration (array of entries
# {id, key, name, description, type, required, defaultValue, propertyValue}),
# GET and PATCH /instances/{id}/configuration/{configId} ({"propertyValue"}),
# secrets masked, unknown ids 404, bad bodies 400, nothing written on errors.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();
my $inst = create_instance($t, 'jira',
    configuration => { 'jira.username' => 'ada', 'jira.password' => 'config-secret',
                       'jira.api.url' => 'https://one.example', 'custom.entry' => 'mine' });
my $id = $inst->{id};
my $spec = catalog_element('jira')->{configuration};

my $res = api(GET => "instances/$id/configuration", auth => $t);
expect_ok($res, 'GET configuration');
my $list = $res->json;
is ref $list, 'ARRAY', 'an array';
is scalar @{ ref $list eq 'ARRAY' ? $list : [] }, 4, 'catalog entries then the extra one';
my @want = (
    (map {
        my $s = $spec->[$_];
        +{ id => $_ + 1, key => $s->{key}, name => $s->{name} // $s->{key}, type => $s->{type},
           description => $s->{description} // '', required => $s->{required} ? json_true() : json_false(),
           defaultValue => exists $s->{defaultValue} ? $s->{defaultValue} : undef }
    } 0 .. $#$spec),
    { id => 4, key => 'custom.entry', name => 'custom.entry', type => 'TEXTFIELD_1000',
      description => '', required => json_false(), defaultValue => undef },
);
my %value = ('jira.username' => 'ada', 'jira.password' => '********',
             'jira.api.url' => 'https://one.example', 'custom.entry' => 'mine');
$_->{propertyValue} = $value{ $_->{key} } for @want;
is_deeply $list, \@want, 'entries: ids 1.., catalog order, specs, values (secret masked)';
ok is_json_number($res, 0, 'id'), 'entry id is a JSON number';
unlike $res->content, qr/config-secret/, 'the secret never appears';

for my $e (@want) {
    my $one = api(GET => "instances/$id/configuration/$e->{id}", auth => $t);
    expect_ok($one, "GET configuration/$e->{id}");
    is_deeply $one->json, $e, "GET configuration/$e->{id}: the entry ($e->{key})";
}

# PATCH one entry.
$res = api(PATCH => "instances/$id/configuration/3", auth => $t,
           json => { propertyValue => 'https://two.example' });
expect_ok($res, 'PATCH configuration/3');
is_deeply $res->json, { %{ $want[2] }, propertyValue => 'https://two.example' }, 'PATCH: the updated entry';
my $now = api(GET => "instances/$id", auth => $t)->json;
is $now->{configuration}{'jira.api.url'}, 'https://two.example', 'the instance shows it';
is $now->{configuration}{'jira.username'}, 'ada', 'other entries kept';
ok(($now->{updatedDate} // '') ge $inst->{updatedDate}, 'updatedDate moved on');

$res = api(PATCH => "instances/$id/configuration/2", auth => $t, json => { propertyValue => 'new-secret' });
expect_ok($res, 'PATCH the secret entry');
is $res->json && $res->json->{propertyValue}, '********', 'PATCH secret: answer masked';
ok stored_holds($id, 'new-secret'), 'PATCH secret: stored';
ok !db_contains('new-secret'), 'PATCH secret: sealed, never in clear';
$res = api(PATCH => "instances/$id/configuration/2", auth => $t, json => { propertyValue => '********' });
expect_ok($res, 'PATCH the secret entry with the mask');
ok stored_holds($id, 'new-secret'), 'PATCH "********": the stored secret is kept';

$res = api(PATCH => "instances/$id/configuration/4", auth => $t, json => { propertyValue => json_true() });
expect_ok($res, 'PATCH the extra entry to a boolean');
ok is_json_true($res->json && $res->json->{propertyValue}), 'boolean value kept as a boolean';
$res = api(PATCH => "instances/$id/configuration/4", auth => $t, json => { propertyValue => undef });
expect_ok($res, 'PATCH an optional entry to null');
ok $res->json && exists $res->json->{propertyValue} && !defined $res->json->{propertyValue}, 'null value';
$res = api(GET => "instances/$id/configuration", auth => $t);
is scalar @{ $res->list }, 4, 'a null entry keeps its place (ids stable)';
is $res->list->[3]{key}, 'custom.entry', 'entry 4 is still custom.entry';

# Defaults filled by the catalog are entries too (epages).
my $ep = create_instance($t, 'epages');
$res = api(GET => "instances/$ep->{id}/configuration", auth => $t);
expect_ok($res, 'GET epages configuration');
my %ep = map { $_->{key} => $_ } @{ $res->list };
is $ep{'pagination.max'} && $ep{'pagination.max'}{propertyValue}, '100', 'epages: default pagination.max';
is $ep{'event.vendor.type'} && $ep{'event.vendor.type'}{defaultValue}, 'webhooks', 'epages: defaultValue shown';

# Errors.
my $other = signup();
my $before = snapshot();
for my $cid (5, 99, 0, -1, 'abc', '99999999999999999999') {
    expect_error(api(GET => "instances/$id/configuration/$cid", auth => $t), 404, "GET configuration/$cid");
    expect_error(api(PATCH => "instances/$id/configuration/$cid", auth => $t, json => { propertyValue => 'x' }),
                 404, "PATCH configuration/$cid");
}
expect_error(api(GET => "instances/999999999/configuration", auth => $t), 404, 'configuration of an unknown instance');
expect_error(api(GET => "instances/$id/configuration", auth => $other), 404, "another tenant's configuration");
expect_error(api(GET => "instances/$id/configuration/1", auth => $other), 404, "another tenant's entry");
expect_error(api(PATCH => "instances/$id/configuration/1", auth => $other, json => { propertyValue => 'x' }),
             404, "PATCH another tenant's entry");
for my $case (['required entry emptied', { propertyValue => '' }, 1],
              ['required entry nulled', { propertyValue => undef }, 1],
              ['no propertyValue', { value => 'x' }, 3],
              ['propertyValue an object', { propertyValue => { a => 1 } }, 3],
              ['propertyValue an array', { propertyValue => [1] }, 3]) {
    my($name, $body, $cid) = @$case;
    expect_error(api(PATCH => "instances/$id/configuration/$cid", auth => $t, json => $body), 400, "PATCH: $name");
}
for my $raw ('', 'x', '[]', '"v"', '{"propertyValue":') {
    expect_error(api(PATCH => "instances/$id/configuration/3", auth => $t, body => $raw,
                     content_type => 'application/json'), 400, "PATCH configuration body '$raw'");
}
expect_error(api(PATCH => "instances/$id/configuration/3", auth => $t, body => '{"propertyValue":"x"}',
                 content_type => 'text/plain'), 415, 'PATCH configuration as text/plain');
for my $m (qw(POST PUT DELETE)) {
    expect_error(api($m => "instances/$id/configuration", auth => $t, json => {}), 405,
                 "$m configuration", allow => ['GET']);
}
for my $m (qw(POST PUT DELETE)) {
    expect_error(api($m => "instances/$id/configuration/1", auth => $t, json => { propertyValue => 'x' }),
                 405, "$m configuration/1", allow => [qw(GET PATCH)]);
}
unchanged($before, 'refused configuration requests');

# Changing an instance's element: the old element's entries (its password)
# are dropped, never shown or stored in clear; the new element's required
# entries are validated again.
{
    my $res = api(POST => 'instances', auth => $t,
                  json => { element => { key => 'jira' }, name => 'moving',
                            configuration => valid_config('jira') });
    expect_ok($res, 'a jira instance');
    my $mid = $res->json->{id};
    my $password = valid_config('jira')->{'jira.password'};
    expect_error(api(PATCH => "instances/$mid", auth => $t,
                     json => { element => { key => 'sfdc' } }), 400,
                 'element change without the new required entries');
    $res = api(PATCH => "instances/$mid", auth => $t,
               json => { element => { key => 'sfdc' }, configuration => valid_config('sfdc') });
    expect_ok($res, 'PATCH the element to sfdc with its configuration');
    my $cfg = $res->json->{configuration} || {};
    ok !exists $cfg->{'jira.password'} && !exists $cfg->{'jira.username'},
        'the jira entries are gone from the answer';
    ok !(grep { ($_ // '') eq $password } values %$cfg), 'the jira password is nowhere in it';
    is $cfg->{'oauth.api.key'}, '********', 'oauth.api.key is masked';
    is $cfg->{'oauth.api.secret'}, '********', 'oauth.api.secret is masked';
    my $list = api(GET => "instances/$mid/configuration", auth => $t)->json || [];
    ok !(grep { $_->{key} =~ /^jira\./ || ($_->{propertyValue} // '') eq $password } @$list),
        'GET configuration: no jira entry, no password';
    ok !db_contains($password), 'the password is not in the database in clear';
    ok !(grep { ($_ // '') eq $password } values %{ stored_config($mid) }),
        'nor in what is stored, opened';
}

# Keys the element does not define are masked when their name says they are
# secret (clients send such keys: "username"/"password" for jira); every
# value is sealed at rest, whatever its key.
{
    my %extra = (password => 'pw-extra-1', 'my.Secret' => 'sec-extra-2',
                 refresh_token => 'tok-extra-3', apiKey => 'key-extra-4',
                 username => 'plain-user-5', region => 'region-extra-6');
    my $res = api(POST => 'instances', auth => $t,
                  json => { element => { key => 'jira' }, name => 'extras',
                            configuration => { %{ valid_config('jira') }, %extra } });
    expect_ok($res, 'a jira instance with extra keys');
    my $cfg = $res->json->{configuration} || {};
    is $cfg->{$_}, '********', "extra key $_ is masked" for qw(password my.Secret refresh_token apiKey);
    is $cfg->{username}, 'plain-user-5', 'username is shown';
    is $cfg->{region}, 'region-extra-6', 'region is shown';
    ok !db_contains($_), "$_ is not in the database in clear" for values %extra;
}

done_testing;
