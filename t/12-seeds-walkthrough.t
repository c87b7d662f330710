# 12-seeds-walkthrough: the curl examples of ../shared/seeds, in order, as a
# client would run them against /elements/api-v2: create Amazon S3 (000/001),
# JIRA (003), ePages (004), Dropbox with providerData and a tag (002), list,
# GET one, PUT name/tags as in the Salesforce example (002), DELETE, and GET
# after DELETE → 404.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup(org => 'Seeds Inc', first => 'Seed', last => 'Reader');
my $auth = auth($t);   # "User <user secret>, Organization <organization secret>"

sub post_instance {
    my($json, $name) = @_;
    my $res = api(POST => 'instances', auth => $auth, json => $json);
    expect_ok($res, $name);
    return $res->json;
}

# 000/001: Amazon S3.
my $s3 = post_instance({
    element => { key => 'amazons3' },
    configuration => {
        'document.tagging' => json_true(),
        'filemanagement.provider.access_key' => 'AKIAIOSFODNN7EXAMPLE',
        'filemanagement.provider.secret_key' => 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        'filemanagement.provider.bucket_name' => 'seed-bucket',
        'filemanagement.provider.region_name' => 'us-east-1',
    },
    tags => ['seed'],
    name => 'Test',
}, 'seed 000: create Amazon S3');
expect_instance($s3, 'seed 000', element => 'amazons3', name => 'Test', tags => ['seed'],
                valid => 1, disabled => 0, user => $t);
is_deeply [@{ $s3->{element} }{qw(id name key hub)}], [16, 'Amazon S3', 'amazons3', 'documents'],
    'seed 000: element id, name, key, hub as documented';
ok is_json_false($s3->{cachingEnabled}) && $s3->{maxCacheSize} == 0 && $s3->{cacheTimeToLive} == 0,
    'seed 000: cache settings as documented';

# 003: JIRA.
my $jira = post_instance({
    element => { key => 'jira' },
    configuration => { 'jira.username' => 'seed', 'jira.password' => 'seed-jira-password',
                       'jira.api.url' => 'https://seed.atlassian.net' },
    tags => ['seed', 'helpdesk'],
    name => 'Seed JIRA',
}, 'seed 003: create JIRA');
expect_instance($jira, 'seed 003', element => 'jira', name => 'Seed JIRA', valid => 1);
is_deeply [@{ $jira->{element} }{qw(id name key)}], [1, 'JIRA', 'jira'], 'seed 003: element';
is $jira->{configuration}{'jira.password'}, '********', 'seed 003: password masked';
# "If the user does not specify a required config entry, an error will result
#  notifying her of which entries she is missing."
my $before = snapshot();
expect_error(api(POST => 'instances', auth => $auth,
                 json => { element => { key => 'jira' }, name => 'Seed JIRA',
                           configuration => { 'jira.api.url' => 'https://seed.atlassian.net' } }),
             400, 'seed 003 without credentials',
             message => 'Missing required configuration entries: jira.username, jira.password');
unchanged($before, 'seed 003 without credentials');

# 004: ePages (key "epages", not the page's "abbyy" slip), defaults filled.
my $ep = post_instance({
    element => { key => 'epages' },
    configuration => { 'epages.access.token' => 'seed-epages-token',
                       'base.url' => 'https://devshop.epages.com/rs/shops/seed' },
    tags => ['seed'],
    name => 'Seed shop',
}, 'seed 004: create ePages');
expect_instance($ep, 'seed 004', element => 'epages', valid => 1,
    configuration => { 'pagination.max' => '100', 'event.vendor.type' => 'webhooks',
                       'event.poller.refresh_interval' => '15', 'event.notification.enabled' => 'false',
                       'epages.access.token' => '********' });
is $ep->{element}{id}, 1595, 'seed 004: element id 1595';
ok is_json_false($ep->{eventsEnabled}) && is_json_false($ep->{traceLoggingEnabled}),
    'seed 004: eventsEnabled and traceLoggingEnabled false';

# 002: Dropbox with providerData and a tag: the code on the return URL,
# from the suite's OAuth 2 server after its login and consent (the seed's
# own code and app exist only at Dropbox).
my $client = oauth_client();
my $url = api(POST => 'elements/dropbox/oauth/url', auth => $auth,
              json => { apiKey => $client->{'oauth.api.key'}, apiSecret => $client->{'oauth.api.secret'},
                        callbackUrl => $client->{'oauth.callback.url'} })->json->{oauthUrl};
my $dbx = post_instance({
    element => { key => 'dropbox' },
    providerData => { code => oauth_code($url) },
    configuration => { %$client, 'document.tagging' => json_false() },
    tags => ['my_first_tag'],
    name => 'my_first_instance',
}, 'seed 002: create Dropbox');
expect_instance($dbx, 'seed 002 create', element => 'dropbox', name => 'my_first_instance',
                tags => ['my_first_tag'], valid => 1, disabled => 0);
is $dbx->{element}{elementProvisionType}, 'OAUTH_TEMPLATE', 'seed 002: Dropbox is OAUTH_TEMPLATE';
ok is_json_true($dbx->{element}{typeOauth}), 'seed 002: Dropbox typeOauth';

# 002: GET /instances — everything so far, newest first.
my $res = api(GET => 'instances', auth => $auth);
expect_ok($res, 'seed 002: GET /instances');
is_deeply ids_of($res->json), [map { $_->{id} } $dbx, $ep, $jira, $s3], 'seed 002: the four, newest first';

# 002: GET /instances/{id}.
$res = api(GET => "instances/$dbx->{id}", auth => $auth);
expect_ok($res, 'seed 002: GET /instances/{id}');
is_deeply $res->json, $dbx, 'seed 002: GET answers the created instance';

# 002: PUT /instances/{id} with sfdc-update-instance.json — on a Salesforce instance.
my $sfdc = post_instance({
    element => { key => 'sfdc' },
    configuration => { 'oauth.callback.url' => 'https://www.cloud-elements.com',
                       'oauth.api.key' => 'sfdc-key', 'oauth.api.secret' => 'sfdc-secret' },
    name => 'SFDC Instance',
}, 'seed 002: create Salesforce');
$res = api(PUT => "instances/$sfdc->{id}", auth => $auth,
           json => { name => 'SFDC Updated Instance', tags => ['sandbox', '08/21/2014', 'new-tag'] });
expect_ok($res, 'seed 002: PUT name and tags');
expect_instance($res->json, 'seed 002 PUT', element => 'sfdc', name => 'SFDC Updated Instance',
                tags => ['sandbox', '08/21/2014', 'new-tag'], valid => 0, disabled => 0);
# (created without providerData.code: not valid until authenticated)
like $res->json->{invalidReason} // '', qr/providerData.code/, 'seed 002 PUT: invalidReason';
is $res->json->{id}, $sfdc->{id}, 'seed 002 PUT: same id';
is $res->json->{token}, $sfdc->{token}, 'seed 002 PUT: same token';
is_deeply [@{ $res->json->{element} }{qw(id key name)}], [23, 'sfdc', 'Salesforce.com'], 'seed 002 PUT: element';

# 002: DELETE /instances/{id} → "HTTP 200 on success".
$res = api(DELETE => "instances/$sfdc->{id}", auth => $auth);
expect_ok($res, 'seed 002: DELETE', empty => 1);

# GET after DELETE.
$before = snapshot();
expect_error(api(GET => "instances/$sfdc->{id}", auth => $auth), 404, 'seed 002: GET after DELETE');
unchanged($before, 'GET after DELETE');
$res = api(GET => 'instances', auth => $auth);
is_deeply ids_of($res->json), [map { $_->{id} } $dbx, $ep, $jira, $s3], 'seed 002: list after DELETE';

done_testing;
