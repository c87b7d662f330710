# 11-errors: the error contract. Every error is JSON {"requestId","message"}
# with Content-Type application/json: wrong method 405 + Allow; malformed,
# non-JSON or non-object bodies 400; bodies over CEInstancesMaxBodySize 413;
# a non-JSON Content-Type on a body 415; unknown paths and bad ids 404.
# Nothing is written on any of them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes ();
use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();
my $inst = create_instance($t, 'jira', name => 'target');
my $id = $inst->{id};
my $good = { element => { key => 'jira' }, name => 'n', configuration => valid_config('jira') };
my $before = snapshot();

# --- 405 with Allow ----------------------------------------------------------
my @paths = (
    ['instances'                        => [qw(GET POST PUT PATCH DELETE)]],
    ['instances/configuration'          => [qw(GET)]],
    ['instances/configuration/1'        => [qw(GET PATCH)]],
    ['instances/enabled'                => [qw(PUT DELETE)]],
    ["instances/$id"                    => [qw(GET PUT PATCH DELETE)]],
    ["instances/$id/configuration"      => [qw(GET)]],
    ["instances/$id/configuration/1"    => [qw(GET PATCH)]],
    ["instances/$id/enabled"            => [qw(PUT DELETE)]],
    ['elements'                         => [qw(GET)]],
    ['elements/jira'                    => [qw(GET)]],
    ['elements/jira/instances'          => [qw(GET POST PUT PATCH DELETE)]],
    ["elements/jira/instances/$id"      => [qw(GET PUT PATCH DELETE)]],
    ["elements/1/instances/$id/enabled" => [qw(PUT DELETE)]],
);
for my $p (@paths) {
    my($path, $allow) = @$p;
    my %ok = map { $_ => 1 } @$allow;
    for my $m (grep { !$ok{$_} } qw(GET POST PUT PATCH DELETE)) {
        my $res = api($m => $path, auth => $t, $m eq 'GET' || $m eq 'DELETE' ? () : (json => $good));
        expect_error($res, 405, "$m /$path", allow => $allow);
    }
}
# Methods httpd knows but the API never uses.
expect_error(api(OPTIONS => 'instances', auth => $t), 405, 'OPTIONS /instances',
             allow => [qw(GET POST PUT PATCH DELETE)]);

# --- 400: bodies that are not a JSON object ----------------------------------
my @raw = (
    ['empty body'             => ''],
    ['not JSON'               => 'hello'],
    ['truncated'              => '{"name": "x"'],
    ['trailing garbage'       => '{"name": "x"} x'],
    ['two values'             => '{} {}'],
    ['single quotes'          => "{'name': 'x'}"],
    ['trailing comma'         => '{"name": "x",}'],
    ['array'                  => '[]'],
    ['array of objects'       => '[{"name":"x"}]'],
    ['string'                 => '"x"'],
    ['number'                 => '1'],
    ['true'                   => 'true'],
    ['null'                   => 'null'],
    ['duplicate keys'         => '{"element":{"key":"jira"},"name":"a","name":"b"}'],
    ['NUL byte'               => qq({"name":"a\x00b","element":{"key":"jira"}})],
    ['invalid UTF-8'          => qq({"name":"\xff\xfe","element":{"key":"jira"}})],
    ['escaped NUL'            => '{"element":{"key":"jira"},"name":"a\u0000b","configuration":{"jira.username":"u","jira.password":"p","jira.api.url":"x"}}'],
);
for my $r (@raw) {
    my($name, $body) = @$r;
    for my $req ([POST => 'instances'], [PUT => "instances/$id"], [PATCH => "instances/$id"],
                 [POST => 'elements/jira/instances'], [PATCH => "instances/$id/configuration/1"]) {
        my($m, $p) = @$req;
        expect_error(api($m => $p, auth => $t, body => $body, content_type => 'application/json'),
                     400, "$m /$p: $name");
    }
}

# --- 413: over CEInstancesMaxBodySize (1 MiB in t/conf/extra.conf.in) ---------
my $big = encode_json({ %$good, name => 'big', configuration => { %{ $good->{configuration} },
                                                                   pad => 'x' x (1024 * 1024) } });
for my $req ([POST => 'instances'], [PUT => "instances/$id"], [PATCH => "instances/$id"],
             [PATCH => "instances/$id/configuration/1"]) {
    my($m, $p) = @$req;
    expect_error(api($m => $p, auth => $t, body => $big, content_type => 'application/json'),
                 413, "$m /$p with a body over 1 MiB");
}
my $limit = 'x' x (1048576 - length('{"name":""}'));
expect_error(api(POST => 'instances', auth => $t, body => qq({"name":"$limit"}),
                 content_type => 'application/json'),
             400, 'POST with a body of exactly 1 MiB is read (and refused for its content)');
expect_error(api(POST => 'instances', auth => $t, body => qq({"name":"${limit}x"}),
                 content_type => 'application/json'),
             413, 'POST with a body of 1 MiB + 1 byte');

# --- 415: a body whose Content-Type is not JSON -------------------------------
for my $ct ('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
            'application/xml', 'text/json-ish', 'application/jsonx') {
    for my $req ([POST => 'instances'], [PUT => "instances/$id"], [PATCH => "instances/$id"]) {
        my($m, $p) = @$req;
        expect_error(api($m => $p, auth => $t, body => encode_json($good), content_type => $ct),
                     415, "$m /$p as $ct");
    }
}

# --- 404: unknown paths and ids ---------------------------------------------------
for my $p ('nope', 'instance', 'instances/', "instances/$id/nope", "instances/$id/configuration/1/x",
           "instances/$id/enabled/x", 'elements/jira/nope', "elements/jira/instances/$id/nope",
           'elements/jira/instances/x', "instances/$id/$id", 'a/b/c/d/e/f/g/h/i/j') {
    my $res = api(GET => $p, auth => $t);
    if ($p eq 'instances/') {      # a trailing slash names the same collection
        ok $res->code == 200 || $res->code == 404, 'GET /instances/ is the list or 404';
        next;
    }
    expect_error($res, 404, "GET /$p");
}
for my $bad ('-1', '0', 'abc', '1.5', '1e3', '0x10', '99999999999999999999', '18446744073709551617',
             '%20', "${id}abc", '+1', '007') {
    for my $m (qw(GET PUT PATCH DELETE)) {
        my $res = api($m => "instances/$bad", auth => $t, $m =~ /^P/ ? (json => { name => 'x' }) : ());
        expect_error($res, 404, "$m /instances/$bad");
    }
    expect_error(api(GET => "instances/$bad/configuration", auth => $t), 404, "GET /instances/$bad/configuration");
    expect_error(api(PUT => "instances/$bad/enabled", auth => $t), 404, "PUT /instances/$bad/enabled");
}
for my $bad (999999999, 2147483648, 9223372036854775807) {
    expect_error(api(GET => "instances/$bad", auth => $t), 404, "GET /instances/$bad (no such instance)");
}

# --- 400: query parameters ----------------------------------------------------------
expect_error(api(GET => 'instances?pageSize=zero', auth => $t), 400, 'bad pageSize');
expect_error(api(GET => 'instances?nextPage=@@@', auth => $t), 400, 'bad nextPage');

# --- authentication errors are JSON too --------------------------------------------
expect_error(api(POST => 'instances', json => $good), 401, 'POST without Authorization');
expect_error(api(POST => 'instances', auth => 'User a, Organization b', json => $good), 401,
             'POST with unknown secrets');
expect_error(api(POST => 'instances', auth => $t, body => '{', content_type => 'application/json'),
             400, 'auth checked, then the body');

unchanged($before, 'every error above');

# The instance is as it was.
my $res = api(GET => "instances/$id", auth => $t);
expect_ok($res, 'target after all errors');
is_deeply $res->json, $inst, 'target unchanged';

# A body without Content-Type is taken as JSON (the header is optional).
$res = api(POST => 'instances', auth => $t, body => encode_json({ %$good, name => 'no ct' }));
expect_ok($res, 'POST without Content-Type');

# Every API answer carries Cache-Control: no-store (they carry tokens),
# successes, the handler's errors and httpd's own error pages alike.
{
    my $c = signup();
    my $inst = create_instance($c, 'jira');
    my @answers = (
        ['GET instance', api(GET => "instances/$inst->{id}", auth => $c)],
        ['GET list', api(GET => 'instances', auth => $c)],
        ['POST', api(POST => 'instances', auth => $c,
                     json => { element => { key => 'jira' }, name => 'cc',
                               configuration => valid_config('jira') })],
        ['401', api(GET => 'instances')],
        ['404', api(GET => 'instances/999999999', auth => $c)],
        ['405', api(POST => "instances/$inst->{id}", auth => $c, json => {})],
        ['400 from httpd', raw_res(raw_request(raw_bytes(PUT => "instances/$inst->{id}",
                                                         auth => $c,
                                                         headers => ['Content-Length' => 'abc'],
                                                         body => '{}')),
                                   'bad Content-Length')],
    );
    for my $a (@answers) {
        is $a->[1]->header('Cache-Control'), 'no-store', "$a->[0]: Cache-Control: no-store";
    }
    is $answers[-1][1]->code, 400, 'httpd refused the bad Content-Length itself';

    # Bodies are never decompressed: any Content-Encoding but identity is 415.
    for my $enc (qw(gzip br deflate x-custom)) {
        my $res = api(PATCH => "instances/$inst->{id}", auth => $c, json => { name => 'enc' },
                      headers => { 'Content-Encoding' => $enc });
        expect_error($res, 415, "PATCH with Content-Encoding: $enc");
        is $res->json->{message},
            'Content-Encoding must be identity (request bodies are not decompressed)',
            "Content-Encoding: $enc: says why";
        expect_error(api(POST => 'instances', auth => $c, json => { name => 'x' },
                         headers => { 'Content-Encoding' => $enc }), 415,
                     "POST with Content-Encoding: $enc");
    }
    expect_ok(api(PATCH => "instances/$inst->{id}", auth => $c, json => { name => 'plain' },
                  headers => { 'Content-Encoding' => 'identity' }),
              'Content-Encoding: identity is fine');
    expect_error(api(PUT => "instances/$inst->{id}/enabled", auth => $c,
                     headers => { 'Content-Encoding' => 'gzip' }), 415,
                 'PUT enabled with Content-Encoding: gzip');

    # As shipped: no TRACE (it would echo the Authorization header), no version.
    my $trace = raw_res(raw_request(raw_bytes(TRACE => '/', auth => $c)), 'TRACE /');
    is $trace->code, 405, 'TRACE is refused (TraceEnable off)';
    unlike $trace->content // '', qr/\Q$c->{user_secret}\E/, 'and echoes no secret';
    is $answers[0][1]->header('Server'), 'Apache', 'Server: Apache, no version (ServerTokens Prod)';
}

# A refused request's body is never read, and no "100 Continue" invites it:
# a client without valid credentials announcing a large body (sending none
# of it) gets its 401 at once, and the connection is closed.
{
    my $c = signup();
    for my $case (['POST', 'instances'], ['PATCH', 'instances/1']) {
        my($method, $path) = @$case;
        my $conn = raw_connect(timeout => 10);
        my $t0 = Time::HiRes::time();
        $conn->send(raw_bytes($method => $path, auth => 'User nobody, Organization nothing',
                              headers => ['Content-Type' => 'application/json',
                                          'Content-Length' => 1_000_000,
                                          'Expect' => '100-continue',
                                          'Connection' => 'keep-alive']));
        raw_read([$conn], until => 'close', timeout => 8);
        my $r = $conn->response;
        my $took = Time::HiRes::time() - $t0;
        is $r->{status}, 401, "$method $path, bad credentials, body announced: 401";
        is_deeply $r->{interim} || [], [], 'no 100 Continue before it';
        ok $r->{closed}, 'the connection is closed after it';
        ok $took < 5, sprintf('answered without waiting for the body (%.2f s)', $took);
    }
}

done_testing;
