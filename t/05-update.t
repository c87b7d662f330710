# 05-update: PUT and PATCH /instances/{id}. Given fields replace stored ones
# (name, tags, element, settings); configuration entries merge by key;
# required configuration is validated again; a secret sent back as
# "********" keeps its stored value; failures are 400/404 and write nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();

sub update {
    my($method, $id, $body) = @_;
    return api($method => "instances/$id", auth => $t, json => $body);
}

sub get { api(GET => "instances/$_[0]", auth => $t)->json }

# Fields that change on any successful update, and those that never do.
sub same_except {
    my($got, $old, $name, @changed) = @_;
    my %skip = map { $_ => 1 } 'updatedDate', @changed;
    my %g = map { $_ => $got->{$_} } grep { !$skip{$_} } keys %{ $got || {} };
    my %o = map { $_ => $old->{$_} } grep { !$skip{$_} } keys %{ $old || {} };
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is_deeply \%g, \%o, "$name: other fields unchanged";
    ok(($got->{updatedDate} // '') ge ($old->{updatedDate} // ''), "$name: updatedDate not earlier");
}

# --- the seed's sfdc example: PUT name and tags ---------------------------
my $sfdc = create_instance($t, 'sfdc', name => 'SFDC', tags => ['old']);
my $res = update(PUT => $sfdc->{id}, { name => 'SFDC Updated Instance',
                                        tags => ['sandbox', '08/21/2014', 'new-tag'] });
expect_ok($res, 'PUT name and tags');
my $u = $res->json;
expect_instance($u, 'PUT name and tags', element => 'sfdc', name => 'SFDC Updated Instance',
                tags => ['sandbox', '08/21/2014', 'new-tag'], user => $t);
same_except($u, $sfdc, 'PUT name and tags', qw(name tags));
is_deeply get($sfdc->{id}), $u, 'GET shows the update';

# --- PATCH: configuration merged by key -----------------------------------
my $jira = create_instance($t, 'jira', name => 'J', tags => ['x'],
    configuration => { 'jira.username' => 'ada', 'jira.password' => 'first-password',
                       'jira.api.url' => 'https://one.example' });
$res = update(PATCH => $jira->{id}, { configuration => { 'jira.api.url' => 'https://two.example' } });
expect_ok($res, 'PATCH one configuration entry');
$u = $res->json;
is_deeply $u->{configuration}, { 'jira.username' => 'ada', 'jira.password' => '********',
                                 'jira.api.url' => 'https://two.example' },
    'PATCH: the entry replaced, the others kept (secret masked)';
same_except($u, $jira, 'PATCH configuration', 'configuration');
ok stored_holds($jira->{id}, 'first-password'), 'PATCH: the stored secret is untouched';

$res = update(PATCH => $jira->{id}, { configuration => { 'custom.extra' => 'e' } });
expect_ok($res, 'PATCH adds an extra entry');
is $res->json && $res->json->{configuration}{'custom.extra'}, 'e', 'PATCH: extra entry added';
is $res->json && $res->json->{configuration}{'jira.api.url'}, 'https://two.example', 'PATCH: earlier entry kept';

my $cur = get($jira->{id});
$res = update(PATCH => $jira->{id}, {});
expect_ok($res, 'PATCH {}');
same_except($res->json, $cur, 'PATCH {}');

$res = update(PATCH => $jira->{id}, { name => '<a href="#">x</a>' });
expect_ok($res, 'PATCH name with HTML');
is $res->json && $res->json->{name}, 'x', 'PATCH: HTML stripped from name';
$res = update(PATCH => $jira->{id}, { tags => ['<b>t</b>', 't', ' u '] });
expect_ok($res, 'PATCH tags with HTML');
is_deeply $res->json && $res->json->{tags}, ['t', 'u'], 'PATCH: tags stripped, trimmed, deduplicated';
$res = update(PATCH => $jira->{id}, { tags => [] });
expect_ok($res, 'PATCH tags []');
is_deeply $res->json && $res->json->{tags}, [], 'PATCH: tags emptied';

$res = update(PUT => $jira->{id}, { maxCacheSize => 10, cacheTimeToLive => 60,
                                    cachingEnabled => json_true(), traceLoggingEnabled => json_true() });
expect_ok($res, 'PUT settings');
$u = $res->json || {};
is $u->{maxCacheSize}, 10, 'maxCacheSize updated';
is $u->{cacheTimeToLive}, 60, 'cacheTimeToLive updated';
ok is_json_true($u->{cachingEnabled}), 'cachingEnabled updated';
ok is_json_true($u->{traceLoggingEnabled}), 'traceLoggingEnabled updated';
is_deeply get($jira->{id}), $u, 'GET shows the settings';

# --- the secret mask round trip -------------------------------------------
$cur = get($jira->{id});
is $cur->{configuration}{'jira.password'}, '********', 'GET masks the secret';
$res = update(PUT => $jira->{id}, $cur);
expect_ok($res, 'PUT back exactly what GET answered');
same_except($res->json, $cur, 'PUT of the GET answer');
ok stored_holds($jira->{id}, 'first-password'), 'PUT "********": the stored secret is kept';
$res = update(PATCH => $jira->{id}, { configuration => { 'jira.password' => '********' } });
expect_ok($res, 'PATCH the mask alone');
ok stored_holds($jira->{id}, 'first-password'), 'PATCH "********": the stored secret is kept';
ok is_json_true($res->json && $res->json->{valid}), 'still valid';

$res = update(PUT => $jira->{id}, { configuration => { 'jira.password' => 'second-password' } });
expect_ok($res, 'PUT a new secret');
is $res->json && $res->json->{configuration}{'jira.password'}, '********', 'new secret masked';
ok stored_holds($jira->{id}, 'second-password'), 'new secret stored';
ok !stored_holds($jira->{id}, 'first-password'), 'old secret gone';
ok !db_contains('second-password') && !db_contains('first-password'), 'secrets never stored in clear';

# --- changing the element ---------------------------------------------------
my $before = snapshot();
$cur = get($jira->{id});
$res = update(PUT => $jira->{id}, { element => { key => 'sfdc' } });
expect_error($res, 400, 'PUT element sfdc without its configuration',
             message => qr/^Missing required configuration entries: .*oauth\.callback\.url.*oauth\.api\.key.*oauth\.api\.secret/);
unchanged($before, 'element change refused');
is_deeply get($jira->{id}), $cur, 'element change refused: instance as before';

$res = update(PUT => $jira->{id}, { element => { key => 'sfdc' }, configuration => valid_config('sfdc') });
expect_ok($res, 'PUT element sfdc with its configuration');
expect_instance($res->json, 'element changed to sfdc', element => 'sfdc',
    configuration => { 'oauth.callback.url' => 'https://www.cloud-elements.com',
                       'oauth.api.key' => '********', 'oauth.api.secret' => '********' });
is $res->json && $res->json->{id}, $jira->{id}, 'element change keeps the id';
is $res->json && $res->json->{token}, $jira->{token}, 'element change keeps the token';

$res = update(PATCH => $jira->{id}, { element => { id => 1595 }, configuration => valid_config('epages') });
expect_ok($res, 'PATCH element by id (epages)');
expect_instance($res->json, 'element changed to epages', element => 'epages',
    configuration => { 'pagination.max' => '100', 'event.vendor.type' => 'webhooks' });

# --- errors: 400 / 404, nothing written -------------------------------------
my $ok = create_instance($t, 'jira', name => 'target');
$cur = get($ok->{id});
$before = snapshot();
my @bad = (
    ['required entry set to null', { configuration => { 'jira.username' => undef } },
     'Missing required configuration entries: jira.username'],
    ['required entries emptied', { configuration => { 'jira.username' => '', 'jira.api.url' => '' } },
     'Missing required configuration entries: jira.username, jira.api.url'],
    ['unknown element', { element => { key => 'nosuchelement' } }, qr/nosuchelement/],
    ['element key/id disagree', { element => { key => 'jira', id => 16 } }],
    ['element not an object', { element => 'jira' }],
    ['name empty', { name => '' }],
    ['name only HTML', { name => '<b></b>' }],
    ['name a number', { name => 7 }],
    ['name null', { name => undef }],
    ['tags a string', { tags => 'x' }],
    ['tags with a number', { tags => [1] }],
    ['configuration an array', { configuration => ['x'] }],
    ['configuration value an object', { configuration => { 'jira.api.url' => { u => 1 } } }],
    ['maxCacheSize negative', { maxCacheSize => -5 }],
    ['cachingEnabled a number', { cachingEnabled => 1 }],
    ['providerData an array', { providerData => [] }],
);
for my $method (qw(PUT PATCH)) {
    for my $case (@bad) {
        my($name, $body, $msg) = @$case;
        expect_error(update($method => $ok->{id}, $body), 400, "$method: $name",
                     defined $msg ? (message => $msg) : ());
    }
    for my $raw ('', 'not json', '{"name":', '[1]', '"name"', '{"name":"a","name":"b"}') {
        expect_error(api($method => "instances/$ok->{id}", auth => $t, body => $raw,
                         content_type => 'application/json'), 400, "$method body '$raw'");
    }
    for my $id (999999999, $ok->{id} + 100000) {
        expect_error(update($method => $id, { name => 'n' }), 404, "$method unknown instance $id");
    }
}
unchanged($before, 'rejected updates');
is_deeply get($ok->{id}), $cur, 'rejected updates: instance as before';

done_testing;
