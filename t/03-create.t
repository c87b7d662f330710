# 03-create: POST /instances with every seed example (amazons3, jira, epages
# with its defaults, dropbox with providerData and tags, box, sfdc), element
# by key or id, HTML stripping, settings, and every validation error (400,
# naming what is wrong, nothing written).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup(first => 'Ada', last => 'Lovelace');

sub post { api(POST => 'instances', auth => $t, json => $_[0]) }

# --- the seeds' examples -------------------------------------------------

# amazons3 (000/001): a boolean entry, a secret, a region.
my $res = post({
    element => { key => 'amazons3' },
    configuration => {
        'document.tagging' => json_true(),
        'filemanagement.provider.access_key'  => 'AKIAEXAMPLE',
        'filemanagement.provider.secret_key'  => 'amazon-secret-key',
        'filemanagement.provider.bucket_name' => 'my-bucket',
        'filemanagement.provider.region_name' => 'us-east-1',
    },
    tags => ['storage'],
    name => 'Test',
});
expect_ok($res, 'POST amazons3');
my $s3 = $res->json;
expect_instance($s3, 'amazons3', element => 'amazons3', name => 'Test', tags => ['storage'],
    user => $t, valid => 1, disabled => 0,
    configuration => {
        'document.tagging' => json_true(),
        'filemanagement.provider.access_key'  => 'AKIAEXAMPLE',
        'filemanagement.provider.secret_key'  => '********',
        'filemanagement.provider.bucket_name' => 'my-bucket',
        'filemanagement.provider.region_name' => 'us-east-1',
    });
ok is_json_number($res, 'id'), 'amazons3: id is a JSON number';
ok is_json_number($res, 'element', 'id'), 'amazons3: element.id is a JSON number';
is $s3->{element}{id}, 16, 'amazons3: element id 16';
is $s3->{element}{name}, 'Amazon S3', 'amazons3: element name';
for my $k (qw(maxCacheSize cacheTimeToLive)) {
    is $s3->{$k}, 0, "amazons3: $k 0";
    ok is_json_number($res, $k), "amazons3: $k is a JSON number";
}
ok is_json_false($s3->{$_}), "amazons3: $_ false"
    for qw(cachingEnabled eventsEnabled traceLoggingEnabled);
ok stored_holds($s3->{id}, 'amazon-secret-key'), 'amazons3: the secret itself is stored';
ok !db_contains('amazon-secret-key'), 'amazons3: ... sealed, never in clear';

# GET answers exactly what POST did.
my $got = api(GET => "instances/$s3->{id}", auth => $t);
expect_ok($got, 'GET the new amazons3 instance');
is_deeply $got->json, $s3, 'GET /instances/{id} equals the POST answer';

# jira (003).
my $jira = create_instance($t, 'jira', name => 'My JIRA', tags => ['support', 'prod'],
    configuration => { 'jira.username' => 'ada', 'jira.password' => 'pw',
                       'jira.api.url' => 'https://acme.atlassian.net' });
expect_instance($jira, 'jira', element => 'jira', name => 'My JIRA', tags => ['support', 'prod'],
    user => $t, valid => 1,
    configuration => { 'jira.username' => 'ada', 'jira.password' => '********',
                       'jira.api.url' => 'https://acme.atlassian.net' });
is $jira->{element}{id}, 1, 'jira: element id 1';

# epages (004): the caller gives two entries, the catalog fills the rest.
my $ep = create_instance($t, 'epages', name => 'My shop', tags => ['shop'],
    configuration => { 'epages.access.token' => 'epages-token-value',
                       'base.url' => 'https://devshop.epages.com/rs/shops/acme' });
expect_instance($ep, 'epages', element => 'epages', name => 'My shop', valid => 1,
    configuration => {
        'epages.access.token' => '********',
        'base.url' => 'https://devshop.epages.com/rs/shops/acme',
        'pagination.max' => '100',
        'event.vendor.type' => 'webhooks',
        'bulk.query.operator' => '>=',
        'event.poller.refresh_interval' => '15',
        'event.poller.configuration' => '{}',
        'event.notification.enabled' => 'false',
        'bulk.query.field_name' => '',
    });
is $ep->{element}{id}, 1595, 'epages: element id 1595';
is $ep->{element}{key}, 'epages', 'epages: key is epages (not the seed\'s "abbyy" slip)';
for my $spec (@{ catalog_element('epages')->{configuration} }) {
    next unless exists $spec->{defaultValue};
    next if $spec->{key} =~ /^(epages\.access\.token|base\.url)$/;
    ok exists $ep->{configuration}{$spec->{key}}, "epages: default entry $spec->{key} present";
    is_deeply $ep->{configuration}{$spec->{key}}, $spec->{defaultValue},
        "epages: $spec->{key} is the catalog default";
}
ok is_json_false($ep->{eventsEnabled}), 'epages: eventsEnabled follows event.notification.enabled';

my $ep2 = create_instance($t, 'epages',
    configuration => { %{ valid_config('epages') }, 'event.notification.enabled' => 'true',
                       'pagination.max' => '50' });
ok is_json_true($ep2 && $ep2->{eventsEnabled}), 'epages: event.notification.enabled "true" → eventsEnabled';
is $ep2 && $ep2->{configuration}{'pagination.max'}, '50', 'epages: a given entry beats the default';

# dropbox (002): providerData's code exchanged at the provider (the suite's
# OAuth 2 server), never echoed nor stored; tags.
my $dbx;
SKIP: {
skip 'no OAuth 2 server (scripts/test.sh starts one)', 7 unless oauth_url();
my $client = oauth_client();
my $oauth = api(POST => 'elements/dropbox/oauth/url', auth => $t,
                json => { apiKey => $client->{'oauth.api.key'}, apiSecret => $client->{'oauth.api.secret'},
                          callbackUrl => $client->{'oauth.callback.url'} })->json;
my $code = oauth_code($oauth->{oauthUrl});
$res = post({
    element => { key => 'dropbox' },
    providerData => { code => $code },
    configuration => { %$client, 'document.tagging' => json_false() },
    tags => ['my_first_tag'],
    name => 'my_first_instance',
});
expect_ok($res, 'POST dropbox with providerData');
$dbx = $res->json;
expect_instance($dbx, 'dropbox', element => 'dropbox', name => 'my_first_instance',
    tags => ['my_first_tag'], user => $t, valid => 1,
    configuration => { 'oauth.callback.url' => $client->{'oauth.callback.url'},
                       'oauth.api.key' => '********', 'oauth.api.secret' => '********',
                       'oauth.user.token' => '********', 'oauth.user.refresh_token' => '********',
                       'document.tagging' => json_false() });
is $dbx->{element}{id}, 14, 'dropbox: element id 14';
unlike $res->content, qr/\Q$code\E|providerData/, 'dropbox: providerData not echoed';
ok !db_contains($code), 'dropbox: providerData not stored';
}

# box (22) by id, sfdc (23), sfdcservicecloud (29).
my $box = create_instance($t, 'box', element => { id => 22 }, name => 'QA Box',
                          tags => ['QA Box', 'QA', 'Starter']);
expect_instance($box, 'box by id', element => 'box', name => 'QA Box',
                tags => ['QA Box', 'QA', 'Starter']);
my $sfdc = create_instance($t, 'sfdc', name => 'SFDC');
expect_instance($sfdc, 'sfdc', element => 'sfdc');
is $sfdc && $sfdc->{element}{id}, 23, 'sfdc: element id 23';
my $sc = create_instance($t, 'sfdcservicecloud', element => { key => 'sfdcservicecloud', id => 29 });
expect_instance($sc, 'sfdcservicecloud by key and id', element => 'sfdcservicecloud');

# Tokens are unique.
my @tokens = map { $_->{token} } grep { $_ } $s3, $jira, $ep, $ep2, $dbx, $box, $sfdc, $sc;
my %seen;
is scalar(grep { !$seen{$_}++ } @tokens), scalar @tokens, 'every instance has its own token';

# --- sanitizing, extra entries, settings ----------------------------------

my $html = create_instance($t, 'jira', name => '<a href="#">x</a>',
    tags => ['<b>bold</b>', '  spaced  ', 'bold', '', '<i></i>', 'plain']);
is $html && $html->{name}, 'x', 'HTML stripped from name';
is_deeply $html && $html->{tags}, ['bold', 'spaced', 'plain'],
    'tags: HTML stripped, trimmed, empties and duplicates dropped';

my $extra = create_instance($t, 'jira',
    configuration => { %{ valid_config('jira') }, 'custom.entry' => 'kept', 'custom.n' => 5 });
is $extra && $extra->{configuration}{'custom.entry'}, 'kept', 'extra configuration entry kept';
is $extra && $extra->{configuration}{'custom.n'}, 5, 'extra numeric entry kept';

my $set = create_instance($t, 'jira', maxCacheSize => 100, cacheTimeToLive => 3600,
                          cachingEnabled => json_true(), traceLoggingEnabled => json_true());
is $set && $set->{maxCacheSize}, 100, 'maxCacheSize set on create';
is $set && $set->{cacheTimeToLive}, 3600, 'cacheTimeToLive set on create';
ok is_json_true($set && $set->{cachingEnabled}), 'cachingEnabled set on create';
ok is_json_true($set && $set->{traceLoggingEnabled}), 'traceLoggingEnabled set on create';

# Read-only fields in the body are ignored (clients POST back what they GET).
my $ro = create_instance($t, 'jira', id => 999999, token => 'mine', disabled => json_true(),
                         createdDate => '2000-01-01T00:00:00.000Z', user => { id => 999 },
                         valid => json_false(), provisionInteractions => ['x']);
isnt $ro && $ro->{id}, 999999, 'id in the body is ignored';
isnt $ro && $ro->{token}, 'mine', 'token in the body is ignored';
isnt $ro && $ro->{createdDate}, '2000-01-01T00:00:00.000Z', 'createdDate in the body is ignored';
is $ro && $ro->{user}{id}, $t->{user_id}, 'user in the body is ignored';

# application/json with a charset is JSON.
$res = api(POST => 'instances', auth => $t, content_type => 'application/json; charset=utf-8',
           json => { element => { key => 'jira' }, name => 'charset', configuration => valid_config('jira') });
expect_ok($res, 'POST with application/json; charset=utf-8');

# --- validation errors: 400, message, nothing written ---------------------

my $before = snapshot();
my $cfg = valid_config('jira');
my @bad = (
    ['missing username and password',
     { element => { key => 'jira' }, name => 'n', configuration => { 'jira.api.url' => 'https://x' } },
     'Missing required configuration entries: jira.username, jira.password'],
    ['no configuration at all',
     { element => { key => 'jira' }, name => 'n' },
     'Missing required configuration entries: jira.username, jira.password, jira.api.url'],
    ['required entries null or empty',
     { element => { key => 'jira' }, name => 'n',
       configuration => { %$cfg, 'jira.username' => undef, 'jira.password' => '' } },
     'Missing required configuration entries: jira.username, jira.password'],
    ['amazons3 without secret_key',
     { element => { key => 'amazons3' }, name => 'n',
       configuration => { %{ valid_config('amazons3') }, 'filemanagement.provider.secret_key' => undef } },
     qr/filemanagement\.provider\.secret_key/],
    ['unknown element key', { element => { key => 'nosuchelement' }, name => 'n', configuration => $cfg },
     qr/nosuchelement/],
    ['unknown element id', { element => { id => 987654 }, name => 'n', configuration => $cfg },
     qr/987654/],
    ['element key and id disagree', { element => { key => 'jira', id => 16 }, name => 'n', configuration => $cfg }],
    ['element missing', { name => 'n', configuration => $cfg }],
    ['element empty', { element => {}, name => 'n', configuration => $cfg }],
    ['element a string', { element => 'jira', name => 'n', configuration => $cfg }],
    ['element id a string', { element => { id => 'one' }, name => 'n', configuration => $cfg }],
    ['element id negative', { element => { id => -1 }, name => 'n', configuration => $cfg }],
    ['name missing', { element => { key => 'jira' }, configuration => $cfg }, qr/name/i],
    ['name empty', { element => { key => 'jira' }, name => '', configuration => $cfg }],
    ['name only HTML', { element => { key => 'jira' }, name => '<INSERT_INSTANCE_NAME>', configuration => $cfg }],
    ['name blank', { element => { key => 'jira' }, name => "  \t ", configuration => $cfg }],
    ['name a number', { element => { key => 'jira' }, name => 42, configuration => $cfg }],
    ['name too long', { element => { key => 'jira' }, name => 'n' x 256, configuration => $cfg }],
    ['tags a string', { element => { key => 'jira' }, name => 'n', tags => 'a', configuration => $cfg }],
    ['tags with a number', { element => { key => 'jira' }, name => 'n', tags => ['a', 1], configuration => $cfg }],
    ['tags with an object', { element => { key => 'jira' }, name => 'n', tags => [{ name => 'a' }], configuration => $cfg }],
    ['too many tags', { element => { key => 'jira' }, name => 'n', tags => [map { "t$_" } 1 .. 101], configuration => $cfg }],
    ['configuration an array', { element => { key => 'jira' }, name => 'n', configuration => [] }],
    ['configuration value an object',
     { element => { key => 'jira' }, name => 'n', configuration => { %$cfg, 'x.y' => { a => 1 } } }, qr/x\.y/],
    ['configuration value an array',
     { element => { key => 'jira' }, name => 'n', configuration => { %$cfg, 'x.z' => [1] } }, qr/x\.z/],
    ['providerData a string', { element => { key => 'jira' }, name => 'n', configuration => $cfg, providerData => 'code' }],
    ['maxCacheSize negative', { element => { key => 'jira' }, name => 'n', configuration => $cfg, maxCacheSize => -1 }],
    ['maxCacheSize a string', { element => { key => 'jira' }, name => 'n', configuration => $cfg, maxCacheSize => '10' }],
    ['cachingEnabled a string', { element => { key => 'jira' }, name => 'n', configuration => $cfg, cachingEnabled => 'yes' }],
);
for my $case (@bad) {
    my($name, $body, $msg) = @$case;
    expect_error(post($body), 400, "POST: $name", defined $msg ? (message => $msg) : ());
}
# Not a JSON object, or not JSON at all.
for my $raw ('', 'hello', '{"name":', '[]', '"x"', '42', 'null',
             '{"name":"a","name":"b","element":{"key":"jira"}}') {
    expect_error(api(POST => 'instances', auth => $t, body => $raw, content_type => 'application/json'),
                 400, "POST body '$raw'");
}
unchanged($before, 'rejected creates');

# The seed's literal placeholders: tags like "<add your tag>" are HTML and vanish.
my $ph = create_instance($t, 'amazons3', tags => ['<add your tag>'], name => 'S3 placeholder');
is_deeply $ph && $ph->{tags}, [], 'tag "<add your tag>" is stripped away';

done_testing;
