# 40-gateway: calls through httpd to the instance's provider (issue 13,
# the gateway: CEInstancesProxy On). A node serves the gateway and, in
# other Locations of the same real httpd, a provider API (a CGI answering
# what arrived, behind httpd's own Basic authentication for jira); the
# suite's OAuth server (oidc-provider) is the provider of the OAuth element
# and checks the bearer itself. The provider gets the instance's
# credentials (Basic, bearer, a header, a query parameter) and never the
# caller's secrets or Element token; its statuses, headers and bodies come
# back unchanged; large bodies stream both ways; expired OAuth tokens are
# refreshed first; destinations outside the outbound guard are refused;
# the rate limit answers 429 with Retry-After; one log line per call.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA ();
use File::Path ();
use JSON::PP ();
use MIME::Base64 ();
use Time::HiRes ();
use Apache::Test qw(-withtestmore);
use CETest;

my $MODS = '/usr/lib/apache2/modules';
my $port = free_port();
my $echo = "http://127.0.0.1:$port/provider/echo";
my $cgi = Apache::Test::vars('top_dir') . '/t/tools/provider-echo.cgi';
my $htpasswd = Apache::Test::vars('t_dir') . '/conf/basic.htpasswd';
my($basic_user, $basic_pw) = ('basic-tester', 'not-the-api-9f2c1e7b'); # t/conf/basic.htpasswd

# The suite's catalog, with providers for the elements this test uses:
# jira as shipped (Basic, its jira.api.url), box at the OAuth server's test
# API, epages with an API-key header, amazons3 with a query parameter.
my $catalog = do {
    my $json = JSON::PP->new->canonical;
    open my $in, '<', Apache::Test::vars('ce_catalog') or die $!;
    my $cat = $json->decode(do { local $/; <$in> });
    my %api = (
        box      => { url => (oauth_url() || 'http://127.0.0.1:9') . '/test/api', auth => 'bearer' },
        epages   => { urlKey => 'base.url', auth => 'header', name => 'X-Api-Key',
                      value => 'epages.access.token' },
        amazons3 => { url => $echo, auth => 'query', name => 'access_key',
                      value => 'filemanagement.provider.access_key' },
    );
    for my $e (@{ $cat->{elements} }) {
        $e->{api} = $api{ $e->{key} } if $api{ $e->{key} };
    }
    my $out = Apache::Test::vars('t_dir') . "/var/elements-gateway-$$.json";
    open my $fh, '>', $out or die $!;
    print $fh $json->encode($cat);
    close $fh;
    $out;
};

# The provider: another real httpd, its logs outside t/var (a provider's
# logs are its own business: t/99-logs.t scans the gateway's).
my $provider = start_node(name => 'provider', port => $port,
    dir => Apache::Test::vars('t_dir') . "/provider-$$", extra => [
    map({ "LoadModule ${_}_module $MODS/mod_$_.so" } qw(authn_core authn_file auth_basic authz_user cgi alias)),
    "Listen 127.0.0.2:$port", # a refused address (for the rebinding name below)
    "ScriptAlias /provider/echo $cgi",
    "ScriptAlias /provider-basic/echo $cgi",
    '<Location /provider>',
    '    CGIPassAuth On',
    '</Location>',
    '<Location /provider-basic>',
    '    AuthType Basic',
    '    AuthName provider',
    '    AuthBasicProvider file',
    "    AuthUserFile $htpasswd",
    '    Require valid-user',
    '    CGIPassAuth On',
    '</Location>',
]);
my $node = start_node(name => 'gateway', catalog => $catalog, extra => [
    map({ "LoadModule ${_}_module $MODS/mod_$_.so" } qw(authn_core proxy proxy_http)),
    # The most verbose level, for t/99-logs.t's scan; mod_proxy logs the
    # URL it forwards to (a query-parameter credential) at debug: as the
    # README tells operators, it stays at info.
    'LogLevel trace8 proxy:info proxy_http:info',
    '<Location /hubs>',
    '    AuthType CEInstances',
    '    Require ce-instance',
    '    CEInstancesProxy On',
    '</Location>',
    '<Location /limited>',
    '    AuthType CEInstances',
    '    Require ce-instance',
    '    CEInstancesProxy On',
    '    CEInstancesProxyRateLimit 3 5',
    '</Location>',
]);
END {
    stop_node($_) for grep { $_ } $node, $provider;
    File::Path::remove_tree($provider->{dir}) if $provider;
    unlink $catalog if $catalog;
}

my $t = signup();
my $el = sub { auth($t) . ", Element $_[0]{token}" };
my @caller_secrets = ($t->{user_secret}, $t->{org_secret});

sub slurp_file { open my $fh, '<', $_[0] or return ''; local $/; <$fh> }

my $calls = 0; # gateway calls made (authenticated: the answer names the instance)
sub gw {
    my($method, $path, $inst, %o) = @_;
    my $res = api($method => $path, node => $node, auth => $el->($inst), %o);
    $calls++ if $res->header('Elements-Element-Instance-Id');
    return $res;
}

# What the provider says arrived, and that nothing of the caller's did.
sub arrived {
    my($res, $inst, $what) = @_;
    my $got = eval { decode_json($res->content) } || {};
    my $raw = $res->content;
    ok !grep({ index($raw, $_) >= 0 } @caller_secrets, $inst->{token}),
        "$what: the provider saw none of the caller's secrets nor the Element token";
    return $got;
}

# ---------------------------------------------------------------- Basic (jira)
my $jira = create_instance($t, 'jira', configuration => {
    'jira.username' => $basic_user, 'jira.password' => $basic_pw,
    'jira.api.url' => "http://127.0.0.1:$port/provider-basic/echo/rest/api/2/" });
remember_secrets(MIME::Base64::encode_base64("$basic_user:$basic_pw", ''));

my $res = gw(GET => '/hubs/issue/ABC-1?fields=summary&expand=x%20y', $jira);
is $res->code, 200, 'jira: 200 through httpd\'s own Basic authentication at the provider'
    or diag $res->describe;
my $got = arrived($res, $jira, 'jira');
is $got->{user}, $basic_user, 'jira: the provider authenticated the instance\'s user';
is $got->{path}, '/rest/api/2/issue/ABC-1', 'jira: the path below the Location, after the base URL\'s';
is $got->{query}, 'fields=summary&expand=x%20y', 'jira: the query unchanged';
is $got->{headers}{authorization}, 'Basic ' . MIME::Base64::encode_base64("$basic_user:$basic_pw", ''),
    'jira: Authorization is the instance\'s Basic credential';
is $res->header('Elements-Element-Instance-Id'), $jira->{id}, 'jira: Elements-Element-Instance-Id';

my $wrong = create_instance($t, 'jira', configuration => {
    'jira.username' => $basic_user, 'jira.password' => 'wrong-password-5e1d',
    'jira.api.url' => "http://127.0.0.1:$port/provider-basic/echo" });
$res = gw(GET => '/hubs/x', $wrong);
is $res->code, 401, 'jira with a wrong password: the provider\'s own 401 comes back';
like $res->header('WWW-Authenticate') // '', qr/^Basic realm="provider"/,
    'jira: the provider\'s WWW-Authenticate unchanged';

# ---------------------------------------------------------------- statuses, headers, bodies
my $plain = create_instance($t, 'epages', configuration => {
    'epages.access.token' => 'epages-gateway-key-71c3', 'base.url' => $echo });
$res = gw(POST => '/hubs/orders?status=418', $plain, body => '{"a":1}',
          content_type => 'application/json', headers => { 'X-Caller' => 'kept' });
is $res->code, 418, 'the provider\'s status (418) unchanged';
is $res->header('X-Provider-Says'), 'status 418', 'the provider\'s headers unchanged';
is $res->header('Set-Cookie'), 'provider-session=abc123; Path=/', 'its cookie too';
$got = arrived($res, $plain, 'epages');
is $got->{headers}{'x-api-key'}, 'epages-gateway-key-71c3', 'epages: the API key in its header';
ok !exists $got->{headers}{authorization}, 'epages: no Authorization header at all';
is $got->{headers}{'x-caller'}, 'kept', 'the caller\'s other headers go on';
is $got->{method}, 'POST', 'the method';
is $got->{length}, 7, 'the body';
$res = gw(GET => '/hubs/x', $plain, headers => { 'X-Api-Key' => 'the-callers-own' });
is arrived($res, $plain, 'epages')->{headers}{'x-api-key'}, 'epages-gateway-key-71c3',
    'a caller\'s own X-Api-Key is replaced by the instance\'s';

my $s3 = create_instance($t, 'amazons3', configuration => {
    %{ valid_config('amazons3') }, 'filemanagement.provider.access_key' => 'AKIA-GATEWAY-QUERY-9931' });
remember_secrets('AKIA-GATEWAY-QUERY-9931'); # a credential here, though not a secret entry
$res = gw(GET => '/hubs/list?prefix=a&access_key=forged&b=2', $s3);
$got = arrived($res, $s3, 'amazons3');
is $got->{query}, 'prefix=a&b=2&access_key=AKIA-GATEWAY-QUERY-9931',
    'query auth: the instance\'s key as the parameter, the caller\'s forged one dropped';

# Large bodies, both ways (64 MiB: 64 times the API's own body limit).
my $size = 64 * 1024 * 1024;
my $up = join '', map { chr(($_ * 7) % 256) } 0 .. 65535;
$up x= $size / 65536;
my $t0 = Time::HiRes::time();
$res = gw(PUT => '/hubs/upload', $plain, body => $up, content_type => 'application/octet-stream');
is $res->code, 200, '64 MiB up: 200';
$got = eval { decode_json($res->content) } || {};
is $got->{length}, $size, '64 MiB up: every byte arrived';
is $got->{sha256}, Digest::SHA::sha256_hex($up), '64 MiB up: unchanged';
$res = gw(GET => "/hubs/download?big=$size", $plain);
is length($res->content), $size, '64 MiB down: every byte';
my $chunk = join '', map { chr($_ % 251) } 0 .. 65535;
is Digest::SHA::sha256_hex($res->content), Digest::SHA::sha256_hex($chunk x ($size / 65536)),
    '64 MiB down: unchanged';
note sprintf '128 MiB through the gateway in %.1f s', Time::HiRes::time() - $t0;

# ---------------------------------------------------------------- OAuth bearer (box)
SKIP: {
    skip 'no OAuth 2 server', 7 unless oauth_url();
    my $mk = sub {
        my $client = shift;
        my $r = api(POST => 'instances', auth => $t, json => {
            element => { key => 'box' }, name => uniq_name('box'),
            providerData => { code => oauth_code_for($t, client => $client, element => 'box') },
            configuration => oauth_client($client) });
        is $r->code, 200, "box ($client) created" or diag $r->describe;
        return $r->json;
    };
    my $box = $mk->('ce-client');
    $res = gw(GET => '/hubs/folders/0?limit=1', $box);
    is $res->code, 200, 'box: the provider accepted the bearer' or diag $res->describe;
    $got = arrived($res, $box, 'box');
    ok $got->{valid} && $got->{client} eq 'ce-client', 'box: oidc-provider found the access token valid';
    is $got->{path}, '/test/api/folders/0', 'box: the path';
    remember_secrets($got->{headers}{authorization} =~ /^Bearer (.+)/);

    # ce-fast's tokens last 2 s: each call finds it expiring, refreshes it first.
    my $fast = $mk->('ce-fast');
    sleep 3;
    $res = gw(GET => '/hubs/x', $fast);
    is $res->code, 200, 'expired token: refreshed first, then accepted' or diag $res->describe;
    like slurp_file($node->{error_log}),
        qr/CE00053: gateway: instance $fast->{id}'s access token refreshed (before the call|meanwhile)/,
        'the gateway had it refreshed before the call (CE00053)';
    remember_secrets(arrived($res, $fast, 'box fast')->{headers}{authorization} =~ /^Bearer (.+)/);
    # (its 2-second tokens would keep the suite's refresher busy to the end)
    api(DELETE => "instances/$fast->{id}", auth => $t);
}

# ---------------------------------------------------------------- refusals
my $none = create_instance($t, 'sfdc');
$res = gw(GET => '/hubs/x', $none);
expect_error($res, 501, 'an element without a provider API: 501', message => qr/no provider API/);

my $far = create_instance($t, 'jira', configuration => {
    %{ valid_config('jira') }, 'jira.api.url' => 'http://127.0.0.2:9/' });
$res = gw(GET => '/hubs/x', $far);
expect_error($res, 403, 'http outside CEInstancesOutboundAllow: 403', message => qr/refused/);
my $file = create_instance($t, 'jira', configuration => {
    %{ valid_config('jira') }, 'jira.api.url' => 'file:///etc/passwd' });
expect_error(gw(GET => '/hubs/x', $file), 502, 'a file: URL: 502', message => qr/not usable/);
my $userinfo = create_instance($t, 'jira', configuration => {
    %{ valid_config('jira') }, 'jira.api.url' => "http://evil\@127.0.0.1:$port/provider/echo" });
expect_error(gw(GET => '/hubs/x', $userinfo), 502, 'a URL with a user: 502', message => qr/not usable/);
my $named = create_instance($t, 'jira', configuration => {
    %{ valid_config('jira') }, 'jira.api.url' => "http://localhost:$port/provider/echo" });
is gw(GET => '/hubs/x', $named)->code, 200, 'a name resolving to an allowed address: 200';

my $crlf = api(PATCH => "instances/$plain->{id}", auth => $t,
               json => { configuration => { 'epages.access.token' => "a\r\nX-Injected: 1" } });
if ($crlf->code == 200) {
    $res = gw(GET => '/hubs/x', $plain);
    expect_error($res, 502, 'a credential with CR LF is never sent: 502', message => qr/control characters/);
}
else {
    pass 'a credential with CR LF is refused when stored (' . $crlf->code . ')';
}

# A name that rebinds (t/tools/rebind_preload.c in a gateway of its own):
# the gateway's check sees 127.0.0.1, mod_proxy's own lookup 127.0.0.2,
# where the provider answers too. Only the check of the address mod_proxy
# connected to stops the call.
SKIP: {
    skip 'the sanitizer build preloads a library of its own', 4 if $ENV{LD_PRELOAD};
    my $rebind = create_instance($t, 'jira', configuration => {
        %{ valid_config('jira') }, 'jira.api.url' => "http://rebind.test:$port/provider/echo" });
    my $rb = do {
        local $ENV{LD_PRELOAD} = Apache::Test::vars('top_dir') . '/build/rebind_preload.so';
        local @ENV{qw(CE_REBIND_NAME CE_REBIND_FIRST CE_REBIND_THEN)} =
            ('rebind.test', '127.0.0.1', '127.0.0.2');
        start_node(name => 'gwrebind', catalog => $catalog, extra => [
            map({ "LoadModule ${_}_module $MODS/mod_$_.so" } qw(authn_core proxy proxy_http)),
            '<Location /hubs>', '    AuthType CEInstances', '    Require ce-instance',
            '    CEInstancesProxy On', '</Location>']);
    };
    for my $i (1 .. 3) {
        expect_error(api(GET => '/hubs/x', node => $rb, auth => $el->($rebind)), 403,
                     "a name rebound to a refused address, call $i", message => qr/refused/);
    }
    like slurp_file($rb->{error_log}), qr/CE00050: .*127\.0\.0\.2/,
        'CE00050 names the address it connected to';
    stop_node($rb);
}

is api(GET => '/hubs/x', node => $node, auth => auth($t))->code, 401, 'no Element token: 401';
my $gone = create_instance($t, 'jira');
api(DELETE => "instances/$gone->{id}", auth => $t);
expect_error(gw(GET => '/hubs/x', $gone), 401, 'a deleted instance\'s token: 401', message => qr/./);
my $off = create_instance($t, 'jira', configuration => {
    %{ valid_config('jira') }, 'jira.api.url' => $echo });
api(DELETE => "instances/$off->{id}/enabled", auth => $t);
expect_error(gw(GET => '/hubs/x', $off), 403, 'a disabled instance: 403', message => qr/./);

# ---------------------------------------------------------------- rate limit
my $busy = create_instance($t, 'jira', configuration => {
    %{ valid_config('jira') }, 'jira.api.url' => $echo });
my $other = create_instance($t, 'jira', configuration => {
    %{ valid_config('jira') }, 'jira.api.url' => $echo });
# Start just after a 5-second window begins: 7 calls fit in it even on a
# loaded machine.
Time::HiRes::sleep(5 - (Time::HiRes::time() - 5 * int(Time::HiRes::time() / 5)) + 0.05);
my @codes = map { gw(GET => '/limited/x', $busy)->code } 1 .. 6;
is "@codes", '200 200 200 429 429 429', 'CEInstancesProxyRateLimit 3 5: 3 calls, then 429';
$res = gw(GET => '/limited/x', $busy);
expect_error($res, 429, '429 has a JSON body', message => qr/Too many calls/);
my $retry = $res->header('Retry-After') // '';
like $retry, qr/^[1-5]$/, 'Retry-After: seconds to the window\'s end';
is gw(GET => '/limited/x', $other)->code, 200, 'another instance has its own limit';
is gw(GET => '/hubs/x', $busy)->code, 200, 'a Location without the limit is not limited';
Time::HiRes::sleep(($retry || 5) + 0.1);
is gw(GET => '/limited/x', $busy)->code, 200, 'after Retry-After: 200 again';

# ---------------------------------------------------------------- the log
my $log = do { open my $fh, '<', $node->{error_log} or die $!; local $/; <$fh> };
my @lines = $log =~ /(CE00047: gateway call: [^\n]*)/g;
is scalar(@lines), $calls, "one CE00047 line per gateway call ($calls)";
like $log, qr/CE00047: gateway call: instance $jira->{id} \(jira\) GET 127\.0\.0\.1:$port\/provider-basic\/echo\/rest\/api\/2\/issue\/ABC-1: 200, \d+ bytes sent/,
    'the line names instance, element, method, provider host and path, status and bytes';
ok !grep({ /fields=summary|access_key/ } @lines), 'no query in the log lines';
like $log, qr/CE00047: gateway call: instance $busy->{id} \(jira\) GET \(not sent\): 429/,
    'calls refused by the gateway are logged too';

# Bad configuration is refused at start.
for my $bad (['CEInstancesProxy On outside a Location', ['CEInstancesProxy On']],
             ['a regex Location', ['<LocationMatch "^/x">', 'AuthType CEInstances',
                                   'CEInstancesProxy On', '</LocationMatch>']],
             ['a bad rate limit', ['<Location /x>', 'CEInstancesProxyRateLimit 3 0', '</Location>']],
             ['no mod_proxy_http', ['<Location /x>', 'CEInstancesProxy On', '</Location>']],
             ['a query-parameter credential and mod_proxy at debug',
              [map({ "LoadModule ${_}_module $MODS/mod_$_.so" } qw(proxy proxy_http)),
               'LogLevel proxy:debug', '<Location /x>', 'CEInstancesProxy On', '</Location>']]) {
    my $n = start_node(name => 'gwbad', fails => 1, catalog => $catalog, extra => $bad->[1]);
    like $n->{start_output} . slurp_file($n->{error_log}), qr/CE0005[12]:/,
        "$bad->[0]: the reason is logged"
        if $bad->[0] =~ /mod_proxy/;
    isnt $n->{start_exit}, 0, "refused at start: $bad->[0]";
    stop_node($n);
}

done_testing();
