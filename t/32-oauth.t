# 32-oauth: OAuth elements provisioned as Cloud Elements does it, against a
# real authorization server (npm's oidc-provider, started by
# scripts/test.sh): the authorization URL, the code exchanged on create,
# re-authentication with a new code, tokens imported
# (externalAuthentication), the provider's refusals as 400 with its words,
# the tokens sealed at rest and masked in answers, the provider's entries
# the operator's, revocation on delete, and the destination guard.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use LWP::UserAgent ();
use URI ();
use Apache::Test qw(-withtestmore);
use CETest;

plan skip_all => 'no OAuth 2 server (scripts/test.sh starts one)' unless oauth_url();

my $t = signup();
my $client = oauth_client();
my $MASK = '********';

# The authorization URL of $key for $client, asked of the API.
sub authorization_url {
    my($key, %q) = @_;
    my $u = URI->new("$BASE/elements/$key/oauth/url");
    $u->query_form(apiKey => $client->{'oauth.api.key'}, apiSecret => $client->{'oauth.api.secret'},
                   callbackUrl => $client->{'oauth.callback.url'}, %q);
    my $res = api(GET => "$u", auth => $t);
    expect_ok($res, "GET /elements/$key/oauth/url") or return undef;
    return $res->json->{oauthUrl};
}

sub grants { oauth_stats()->{grants}{"$_[0] ce-client"} // 0 }

# --- the authorization URL ------------------------------------------------
{
    my $url = authorization_url('dropbox', state => 'xyz');
    my $u = URI->new($url);
    is $u->scheme . '://' . $u->host_port . $u->path, oauth_url() . '/auth',
        "oauthUrl: the catalog's authorization URL";
    my %q = $u->query_form;
    is_deeply \%q, { response_type => 'code', client_id => 'ce-client',
                     redirect_uri => $client->{'oauth.callback.url'}, scope => 'files',
                     state => 'xyz', token_access_type => 'offline' },
        'oauthUrl: client_id, redirect_uri, scope, state, the element\'s parameters; no secret';
    my $res = api(POST => 'elements/dropbox/oauth/url', auth => $t,
                  json => { apiKey => 'ce-client', apiSecret => 's', callbackUrl => 'https://x.test/cb' });
    expect_ok($res, 'POST /elements/dropbox/oauth/url');
    is $res->json->{element}, 'dropbox', 'element';
    is +{ URI->new($res->json->{oauthUrl})->query_form }->{state}, 'dropbox',
        'state defaults to the element key';
    expect_error(api(GET => 'elements/dropbox/oauth/url?apiKey=k', auth => $t), 400,
                 'missing parameters', message => 'Missing parameters: apiSecret, callbackUrl');
    expect_error(api(POST => 'elements/box/oauth/url', auth => $t, json => { apiKey => [] }), 400,
                 'a parameter that is not a string', message => 'apiKey must be a string');
    expect_error(api(GET => 'elements/jira/oauth/url?apiKey=k&apiSecret=s&callbackUrl=c', auth => $t),
                 400, 'an element without OAuth', message => "Element 'jira' does not use OAuth");
    expect_error(api(GET => 'elements/nope/oauth/url?apiKey=k&apiSecret=s&callbackUrl=c', auth => $t),
                 404, 'an unknown element');
    expect_error(api(GET => 'elements/dropbox/oauth/url?apiKey=k'), 401, 'no credentials');
}

# --- create with a code -----------------------------------------------------
my $before_codes = grants('authorization_code');
my $code = oauth_code(authorization_url('dropbox'));
ok length $code, 'the provider gave a code after its login and consent';
my $res = api(POST => 'instances', auth => $t,
              json => { element => { key => 'dropbox' }, name => 'my dropbox',
                        providerData => { code => $code },
                        configuration => { %$client, 'document.tagging' => JSON::PP::false() } });
expect_ok($res, 'POST /instances with providerData.code');
my $dbx = $res->json;
expect_instance($dbx, 'created', element => 'dropbox', valid => 1);
is grants('authorization_code'), $before_codes + 1, 'the provider saw one code exchange';
is $dbx->{externalAuthentication}, 'none', 'externalAuthentication none';
is $dbx->{configuration}{'oauth.user.token'}, $MASK, 'access token masked';
is $dbx->{configuration}{'oauth.user.refresh_token'}, $MASK, 'refresh token masked';
like $dbx->{configuration}{'oauth.user.refresh_time'}, qr/^\d{13}$/, 'refresh_time: epoch ms';
is $dbx->{configuration}{'oauth.user.refresh_interval'}, '3600', 'refresh_interval: expires_in';
unlike $res->content, qr/\Q$code\E/, 'the code is not echoed';
ok !db_contains($code), 'the code is not stored';
my $stored = stored_config($dbx->{id});
# t/99-logs.t looks for the provider's tokens too.
remember_secrets(@$stored{qw(oauth.user.token oauth.user.refresh_token)});
ok length($stored->{'oauth.user.token'} // '') > 10, 'the access token is stored';
ok !db_contains($stored->{'oauth.user.token'}), 'the access token is sealed at rest';
ok !db_contains($stored->{'oauth.user.refresh_token'}), 'the refresh token is sealed at rest';
ok !exists $stored->{'oauth.token.url'}, "the provider's entries are not stored on the instance";

# A code used twice, a made-up code: the provider's refusal, nothing written.
for my $case (['the same code again', $code], ['a made-up code', 'not-a-code']) {
    my $snap = snapshot();
    $res = api(POST => 'instances', auth => $t,
               json => { element => { key => 'dropbox' }, name => 'd2',
                         providerData => { code => $case->[1] }, configuration => $client });
    expect_error($res, 400, "$case->[0]: 400", message => qr/refused the authorization code/);
    is $res->json->{providerMessage}, 'grant request is invalid', "$case->[0]: providerMessage";
    unchanged($snap, $case->[0]);
}
# A client the provider does not know.
$res = api(POST => 'instances', auth => $t,
           json => { element => { key => 'dropbox' }, name => 'd3', providerData => { code => 'x' },
                     configuration => { %$client, 'oauth.api.secret' => 'wrong' } });
expect_error($res, 400, 'a wrong client secret', message => qr/refused/);
ok length($res->json->{providerMessage} // ''), 'a wrong client secret: providerMessage';

# --- what the tenant may not set ------------------------------------------
for my $k ('oauth.token.url', 'oauth.authorization.url', 'oauth.scope') {
    expect_error(api(POST => 'instances', auth => $t,
                     json => { element => { key => 'dropbox' }, name => 'x',
                               configuration => { %$client, $k => 'https://evil.example/' } }),
                 400, "a tenant's $k", message => qr/\Q$k\E.*operator/);
}
expect_error(api(PATCH => "instances/$dbx->{id}", auth => $t,
                 json => { configuration => { 'oauth.user.token' => 'forged' } }),
             400, 'PATCH oauth.user.token', message => qr/obtained from the provider/);
my $entries = api(GET => "instances/$dbx->{id}/configuration", auth => $t)->json;
my($tok_entry) = grep { $_->{key} eq 'oauth.user.token' } @$entries;
expect_error(api(PATCH => "instances/$dbx->{id}/configuration/$tok_entry->{id}", auth => $t,
                 json => { propertyValue => 'forged' }),
             400, 'PATCH configuration/{id} of the access token');
# A client PUTs back what it got.
$res = api(PUT => "instances/$dbx->{id}", auth => $t,
           json => { %$dbx, name => 'renamed' });
expect_ok($res, 'PUT back the instance as answered');
is stored_config($dbx->{id})->{'oauth.user.token'}, $stored->{'oauth.user.token'},
    'the tokens kept';

# --- re-authentication --------------------------------------------------------
expect_error(api(PUT => "instances/$dbx->{id}?reAuthenticate=true", auth => $t,
                 json => { name => 'x' }), 400, 'reAuthenticate=true without a code');
$code = oauth_code(authorization_url('dropbox'));
$res = api(PUT => "instances/$dbx->{id}?reAuthenticate=true", auth => $t,
           json => { providerData => { code => $code } });
expect_ok($res, 'PUT ?reAuthenticate=true with a new code');
is $res->json->{id}, $dbx->{id}, 'same id';
is $res->json->{token}, $dbx->{token}, 'same Element token';
ok !exists $res->json->{providerData}, 'providerData not echoed';
my $again = stored_config($dbx->{id});
remember_secrets(@$again{qw(oauth.user.token oauth.user.refresh_token)});
isnt $again->{'oauth.user.token'}, $stored->{'oauth.user.token'}, 'a new access token';
isnt $again->{'oauth.user.refresh_token'}, $stored->{'oauth.user.refresh_token'},
    'a new refresh token';
$res = api(PATCH => "instances/$dbx->{id}", auth => $t,
           json => { providerData => { code => 'stale' } });
expect_error($res, 400, 'PATCH with a refused code');
is_deeply stored_config($dbx->{id}), $again, 'a refused re-authentication changes nothing';

# --- tokens imported (externalAuthentication) --------------------------------
{
    # Tokens obtained elsewhere: a code exchanged by the test itself.
    my $c = oauth_code(authorization_url('box'));
    my $r = LWP::UserAgent->new->post(oauth_url() . '/token', {
        grant_type => 'authorization_code', code => $c, redirect_uri => $client->{'oauth.callback.url'},
        client_id => 'ce-client', client_secret => $client->{'oauth.api.secret'} });
    my $tok = decode_json($r->decoded_content);
    ok $tok->{refresh_token}, 'tokens from the provider directly';
    my $refreshes = grants('refresh_token');
    $res = api(POST => 'instances', auth => $t,
               json => { element => { key => 'box' }, name => 'imported',
                         externalAuthentication => 'initial',
                         configuration => { %$client, 'oauth.user.token' => $tok->{access_token},
                                            'oauth.user.refresh_token' => $tok->{refresh_token} } });
    expect_ok($res, 'POST with externalAuthentication initial');
    my $imported = $res->json;
    is $res->json->{externalAuthentication}, 'initial', 'externalAuthentication initial';
    ok is_json_true($res->json->{valid}), 'valid';
    is grants('refresh_token'), $refreshes + 1, 'checked by one refresh';
    isnt stored_config($res->json->{id})->{'oauth.user.refresh_token'}, $tok->{refresh_token},
        'the rotated refresh token is kept';
    my $snap = snapshot();
    $res = api(POST => 'instances', auth => $t,
               json => { element => { key => 'box' }, name => 'bad import',
                         externalAuthentication => 'initial',
                         configuration => { %$client, 'oauth.user.refresh_token' => 'made-up' } });
    expect_error($res, 400, 'a refresh token the provider refuses',
                 message => qr/refused the imported refresh token/);
    ok length($res->json->{providerMessage} // ''), 'providerMessage';
    unchanged($snap, "a refused import");
    expect_error(api(POST => 'instances', auth => $t,
                     json => { element => { key => 'box' }, name => 'x',
                               externalAuthentication => 'initial', configuration => $client }),
                 400, 'externalAuthentication initial without tokens',
                 message => qr/oauth.user.refresh_token/);

    # --- revocation on delete: box has a revocation URL
    my $revoked = oauth_stats()->{revocations};
    expect_ok(api(DELETE => "instances/$imported->{id}", auth => $t),
              'DELETE the imported box instance', empty => 1);
    is oauth_stats()->{revocations}, $revoked + 1, 'its token was revoked at the provider';
}

# --- no code: created, not valid until authenticated ----------------------------
$res = api(POST => 'instances', auth => $t,
           json => { element => { key => 'sfdc' }, name => 'later', configuration => $client });
expect_ok($res, 'an OAuth instance without a code');
ok is_json_false($res->json->{valid}), 'not valid';
like $res->json->{invalidReason} // '', qr/providerData.code/, 'invalidReason says why';

done_testing;
