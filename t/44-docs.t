# 44-docs: the OpenAPI documents (issue 16). GET /docs is public and
# answers doc/openapi.json byte for byte (built into the module), with its
# media type, an ETag and 304 for If-None-Match; HEAD has no body.
# GET /instances/{id}/docs (and by Element token, and under the element's
# scope) is the caller's like every instance call: 401 without credentials,
# 404 for another tenant's instance or another element's scope; it is the
# document specialised for the instance (its paths, its element's
# configuration keys) and holds no token or configuration value.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Spec;
use File::Temp ();
use Apache::Test qw(-withtestmore);
use CETest;

my $TYPE = qr{^application/vnd\.oai\.openapi\+json;\s*version=3\.1$};
my $file = File::Spec->catfile(Apache::Test::vars('t_dir'), File::Spec->updir, 'doc', 'openapi.json');
my $committed = do { open my $fh, '<:raw', $file or die "$file: $!"; local $/; <$fh> };
my $doc = decode_json($committed);

# ---- GET /docs: public, the committed bytes
my $res = api(GET => 'docs');
is $res->code, 200, 'GET /docs without Authorization: 200' or diag $res->describe;
like $res->header('Content-Type') // '', $TYPE, 'its media type is OpenAPI 3.1 JSON';
ok $res->content eq $committed, 'the bytes are doc/openapi.json as committed';
is_deeply $res->json, $doc, 'and parse to the same document';
is $res->json->{openapi}, '3.1.0', 'an OpenAPI 3.1 document';
my $etag = $res->header('ETag') // '';
like $etag, qr/^"[0-9a-f]{32}"$/, 'with an ETag';
like $res->header('Cache-Control') // '', qr/public/, 'that caches may keep';
ok defined $res->header('Elements-Request-Id'), 'and Elements-Request-Id as every answer';

$res = api(GET => 'docs', headers => { 'If-None-Match' => $etag });
is $res->code, 304, 'If-None-Match with its ETag: 304';
is $res->content, '', 'without a body';
$res = api(GET => 'docs', headers => { 'If-None-Match' => '"0123"' });
is $res->code, 200, 'another ETag: 200';
$res = api(HEAD => 'docs');
is $res->code, 200, 'HEAD /docs: 200';
is $res->content, '', 'without a body';

my $t = signup();
$res = api(GET => 'docs', auth => $t);
is $res->code, 200, 'with credentials too';
$res = api(GET => 'docs', auth => 'User nobody, Organization nothing');
is $res->code, 200, 'bad credentials are not even looked at: public';
expect_error(api(POST => 'docs', auth => $t, json => {}), 405, 'POST /docs', allow => ['GET']);
expect_error(api(GET => 'docs/x', auth => $t), 404, 'GET /docs/x');

# ---- the document covers what the server routes: every path of the
# document answers something else than 404 for an unknown path
for my $path (sort keys %{ $doc->{paths} }) {
    next if $path =~ /\{eventId\}|oauth/;    # (their own 404s: no such event, not OAuth)
    (my $concrete = $path) =~ s/\{elementKeyOrId\}/jira/g;
    $concrete =~ s/\{id\}|\{configId\}/1/g;
    my @methods = grep { /^(get|put|post|patch|delete)$/ } keys %{ $doc->{paths}{$path} };
    $res = api(OPTIONS => $concrete =~ s{^/}{}r, auth => $t);
    is_deeply allow_set(scalar $res->header('Allow')), [sort map { uc } @methods],
        "$path: Allow is the document's methods";
}

# ---- an instance's document
my $inst = create_instance($t, 'jira');
my $id = $inst->{id};
my $other = signup();
my $theirs = create_instance($other, 'jira');

expect_error(api(GET => "instances/$id/docs"), 401, 'instance docs without Authorization');
expect_error(api(GET => "instances/$theirs->{id}/docs", auth => $t), 404, "another tenant's instance");
expect_error(api(GET => "instances/999999999/docs", auth => $t), 404, 'no such instance');
expect_error(api(GET => "elements/box/instances/$id/docs", auth => $t), 404,
             "under another element's scope");
expect_error(api(GET => 'instances/docs', auth => $t), 400, 'by token, without an Element token');

for my $case (["instances/$id/docs", {}], ["elements/jira/instances/$id/docs", {}],
              ['instances/docs', { element => $inst->{token} }]) {
    my($path, $o) = @$case;
    $res = api(GET => $path, auth => auth($t, %$o));
    is $res->code, 200, "GET $path: 200" or diag $res->describe;
    like $res->header('Content-Type') // '', $TYPE, "$path: OpenAPI 3.1 JSON";
    like $res->header('Cache-Control') // '', qr/no-store/, "$path: no-store";
    my $j = $res->json;
    is $j->{openapi}, '3.1.0', "$path: an OpenAPI 3.1 document";
    like $j->{info}{title}, qr/JIRA.*\b$id\b/, "$path: its title names the element and instance";
    is $j->{'x-ce-instance'}{id}, $id, "$path: x-ce-instance.id";
    is $j->{'x-ce-instance'}{element}{key}, 'jira', "$path: x-ce-instance.element";
    is_deeply [sort keys %{ $j->{paths} }],
        [sort map { s/\{id\}/$id/r } grep { m{^/instances/\{id\}} } keys %{ $doc->{paths} }],
        "$path: the paths of /instances/$id";
    ok !(grep { $_->{'$ref'} =~ /instanceId/ } map { @{ $_->{parameters} || [] } } values %{ $j->{paths} }),
        "$path: without an {id} parameter";
    my $cfg = $j->{components}{schemas}{Configuration};
    my @want = sort map { $_->{key} } @{ catalog_element('jira')->{configuration} };
    is_deeply [sort keys %{ $cfg->{properties} }], \@want,
        "$path: the Configuration schema has jira's entries";
    ok $cfg->{properties}{'jira.password'}{'x-ce-secret'}, "$path: jira.password is secret";
    my $text = $res->content;
    ok index($text, $inst->{token}) < 0, "$path: no token in it";
    for my $v (grep { !ref && length > 3 } values %{ valid_config('jira') }) {
        ok index($text, $v) < 0, "$path: no configuration value ($v)";
    }
}

# ---- an instance's document is a valid OpenAPI document itself (Redocly's
# linter: no error; its warnings are the components only the API's
# document uses)
SKIP: {
    my $redocly = File::Spec->catfile(Apache::Test::vars('t_dir'), 'openapi', 'node_modules', '.bin', 'redocly');
    skip "t/openapi is not installed (scripts/openapi.sh install)", 2 unless -x $redocly;
    my $tmp = File::Temp->new(SUFFIX => '.json');
    print $tmp api(GET => "instances/$id/docs", auth => $t)->content;
    close $tmp;
    local $ENV{LD_PRELOAD};    # (not the sanitizer run's runtime: node is not under test)
    delete $ENV{LD_PRELOAD};
    local $ENV{REDOCLY_TELEMETRY} = 'off';
    local $ENV{REDOCLY_SUPPRESS_UPDATE_NOTICE} = 'true';
    my $out = `'$redocly' lint --format=summary '$tmp' 2>&1`;
    is $? >> 8, 0, "the instance's document lints without error" or diag $out;
    like $out, qr/valid/, 'Redocly calls it valid';
}

done_testing;
