# 20-hostile: a table of malformed and hostile requests. Each row is one
# request (name, method, path, Authorization and other headers, raw body,
# Content-Type) and what the contract (README, "Errors") promises for it:
# the status, the JSON error shape {"requestId","message"} with
# Content-Type application/json, and — for every error — nothing written
# (a snapshot of every table before the request, compared after it).
#
# Covered: truncated and invalid JSON; a wrong type for every field of the
# create, update and configuration-entry bodies; bodies over the 1 MiB limit
# (413) and nested 100,000 deep (400, never a crash or a 500); invalid UTF-8;
# NUL bytes raw and as \u0000; duplicate keys; absurd ids and path traversal
# (event ids too: another tenant's or another instance's event is 404);
# malformed and oversized Authorization headers; unknown methods (405 + Allow);
# wrong Content-Types (415). SQL and HTML injection are valid requests: 200,
# the SQL kept as plain text, the HTML of names and tags stripped, and the
# other tenant's data untouched.
#
# Rows marked `core => 1` are refused by httpd itself before the handler
# runs (header or URL checks: README, Errors): they assert httpd's status (a
# 4xx, never a 5xx), the API's JSON error body (the module replaces httpd's
# HTML page for requests to the API) and that nothing was written.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use HTTP::Status ();
use CETest;

$SIG{PIPE} = 'IGNORE'; # a server closing on a 413 must not end the test

# ---------------------------------------------------------------- fixtures

my $t = signup(org => uniq_name('Hostile'));
my $o = signup(org => uniq_name('Bystander'));   # the other tenant, never to be touched
my($U, $O) = ($t->{user_secret}, $t->{org_secret});

my $inst = create_instance($t, 'jira', name => 'target', tags => ['t1']);
my $s3   = create_instance($t, 'amazons3', name => 's3 target');
my $ep   = create_instance($t, 'epages', name => 'epages target');
my @theirs = (create_instance($o, 'jira', name => 'bystander jira', tags => ['secret-tag', 'shared'],
                              configuration => { %{ valid_config('jira') }, 'jira.username' => 'bystander-user' }),
              create_instance($o, 'sfdc', name => 'bystander sfdc', tags => ['shared']));
my $id = $inst->{id};
my $theirs_db = db_instances($o);
# Event ids: the other tenant's (its creates'), and one of ours of another
# instance than $inst.
my $their_event = api(GET => 'instances/events', auth => $o)->list->[0]{eventId};
my($s3_event) = map { $_->{eventId} } grep { $_->{instanceId} == $s3->{id} }
                @{ api(GET => 'instances/events', auth => $t)->list };
ok $their_event && $s3_event, 'event ids found';
# The events of another tenant's instance: none of the caller's (a deleted
# instance's events stay listed under its id, so the list is not a 404).
is_deeply api(GET => "instances/$theirs[0]{id}/events", auth => $t)->list, [],
    'GET /instances/{their id}/events: an empty list, nothing of theirs';

# Configuration entry ids by key (catalog order; looked up, not assumed).
sub config_id {
    my($i, $key) = @_;
    my $list = api(GET => "instances/$i->{id}/configuration", auth => $t)->list;
    my($e) = grep { ref $_ eq 'HASH' && $_->{key} eq $key } @$list;
    return $e ? $e->{id} : 0;
}
my $cfg_user = config_id($inst, 'jira.username');
my $cfg_bool = config_id($s3, 'document.tagging');     # BOOLEAN
my $cfg_num  = config_id($ep, 'pagination.max');       # NUMBER
ok $cfg_user && $cfg_bool && $cfg_num, 'configuration entry ids found';

my %CREATE = (element => { key => 'jira' }, name => 'hostile', configuration => valid_config('jira'));
# A create body with fields replaced (undef is JSON null).
sub create_body { encode_json({ %CREATE, @_ }) }
sub update_body { encode_json({ @_ }) }
sub cfg_with { +{ %{ valid_config('jira') }, @_ } }

# A valid create body as text with $frag spliced in as the name's JSON value
# (for bytes JSON::PP would escape: raw NULs, invalid UTF-8).
my $CFG_JSON = encode_json(valid_config('jira'));
sub raw_create { my $frag = shift; qq({"element":{"key":"jira"},"name":$frag,"configuration":$CFG_JSON}) }

my $big = 'x' x (1024 * 1024);
my $deep = 100_000;

# ---------------------------------------------------------------- the table
#
# { name, method, path, auth (tenant, header string, or undef: none; default
#   $t), headers {}, body (raw bytes), ct (Content-Type; default
#   application/json when there is a body; undef: none), raw (the whole
#   request as bytes, sent on a socket of its own), status, message (qr//),
#   allow [], outside (the path leaves the API once normalised), core }
my @cases;
sub case { push @cases, {@_} }

# --- truncated and invalid JSON ------------------------------------------------
my $MAL = qr/Malformed JSON|JSON object/;
for my $r (
    ['empty body'              => ''],
    ['only whitespace'         => " \r\n\t "],
    ['lone brace'              => '{'],
    ['truncated object'        => '{"element": {"key": "jira"}, "name": "x"'],
    ['unterminated string'     => '{"name": "x'],
    ['missing value'           => '{"name": }'],
    ['truncated literal'       => 'nul'],
    ['extra closing brace'     => '{"name": "x"}}'],
    ['unquoted keys'           => '{name: "x"}'],
    ['invalid escape'          => '{"name": "a\q"}'],
    ['short \\u escape'        => '{"name": "\u12"}'],
    ['leading zero'            => '{"maxCacheSize": 01}'],
    ['NaN'                     => '{"maxCacheSize": NaN}'],
    ['number overflow'         => '{"maxCacheSize": 1e400}'],
    ['integer overflow'        => '{"element": {"id": 99999999999999999999999}}'],
    ['comment'                 => '/* c */ {"name": "x"}'],
    ['byte order mark'         => "\xEF\xBB\xBF" . create_body()],
    ['UTF-16 body'             => "\xFF\xFE{\0}\0"],
) {
    case(name => "POST: $r->[0]", method => 'POST', path => 'instances', body => $r->[1],
         status => 400, message => $MAL);
}
case(name => 'PUT: truncated', method => 'PUT', path => "instances/$id", body => '{"name": "x",',
     status => 400, message => $MAL);
case(name => 'PATCH: not JSON', method => 'PATCH', path => "instances/$id", body => 'name=x',
     status => 400, message => $MAL);
case(name => 'PATCH config: truncated', method => 'PATCH', path => "instances/$id/configuration/$cfg_user",
     body => '{"propertyValue": "x', status => 400, message => $MAL);
case(name => 'POST scoped: not JSON', method => 'POST', path => 'elements/jira/instances',
     body => '<instance/>', status => 400, message => $MAL);

# --- deeply nested: jansson's depth limit, never a crash or a 500 -----------------
case(name => "POST: $deep unclosed arrays", method => 'POST', path => 'instances',
     body => '[' x $deep, status => 400);
case(name => "POST: $deep nested arrays", method => 'POST', path => 'instances',
     body => ('[' x $deep) . (']' x $deep), status => 400);
case(name => "PUT: $deep nested objects", method => 'PUT', path => "instances/$id",
     body => ('{"a":' x $deep) . '1' . ('}' x $deep), status => 400);
case(name => "PATCH: tags nested $deep deep", method => 'PATCH', path => "instances/$id",
     body => '{"tags":' . ('[' x $deep) . (']' x $deep) . '}', status => 400);
case(name => "POST: configuration value nested $deep deep", method => 'POST', path => 'instances',
     body => '{"element":{"key":"jira"},"name":"n","configuration":{"jira.username":'
             . ('{"a":' x $deep) . '1' . ('}' x $deep) . '}}', status => 400);
case(name => "PATCH config: propertyValue nested $deep deep", method => 'PATCH',
     path => "instances/$id/configuration/$cfg_user",
     body => '{"propertyValue":' . ('[' x $deep) . (']' x $deep) . '}', status => 400);

# --- not an object ---------------------------------------------------------------
for my $r (['array' => '[' . create_body() . ']'], ['string' => '"instance"'], ['number' => '42'],
           ['null' => 'null'], ['true' => 'true']) {
    case(name => "PUT: body is $r->[0]", method => 'PUT', path => "instances/$id", body => $r->[1],
         status => 400);
}
case(name => 'PATCH config: body is an array', method => 'PATCH',
     path => "instances/$id/configuration/$cfg_user", body => '[{"propertyValue":"x"}]', status => 400);
case(name => 'PATCH config: body is a string', method => 'PATCH',
     path => "instances/$id/configuration/$cfg_user", body => '"x"', status => 400);

# --- wrong types for every field of the create body ------------------------------------
my @wrong = (
    # element
    ['element string'        => [element => 'jira'],                   qr/element/],
    ['element number'        => [element => 1],                        qr/element/],
    ['element array'         => [element => ['jira']],                 qr/element/],
    ['element true'          => [element => json_true()],              qr/element/],
    ['element null'          => [element => undef],                    qr/element/],
    ['element {}'            => [element => {}],                       qr/element/],
    ['element without key/id'=> [element => { name => 'JIRA' }],       qr/element/],
    # element.key
    ['element.key number'    => [element => { key => 1 }],             qr/element key/],
    ['element.key null'      => [element => { key => undef }],         qr/element key/],
    ['element.key array'     => [element => { key => ['jira'] }],      qr/element key/],
    ['element.key object'    => [element => { key => { k => 'jira' } }], qr/element key/],
    ['element.key true'      => [element => { key => json_true() }],   qr/element key/],
    ['element.key empty'     => [element => { key => '' }],            qr/[Ee]lement/],
    ['element.key unknown'   => [element => { key => "jira'--" }],     qr/not found/],
    # element.id
    ['element.id word'       => [element => { id => 'abc' }],          qr/element id/],
    ['element.id negative'   => [element => { id => -1 }],             qr/element id/],
    ['element.id zero'       => [element => { id => 0 }],              qr/element id/],
    ['element.id fraction'   => [element => { id => 1.5 }],            qr/element id/],
    ['element.id array'      => [element => { id => [1] }],            qr/element id/],
    ['element.id object'     => [element => { id => {} }],             qr/element id/],
    ['element.id true'       => [element => { id => json_true() }],    qr/element id/],
    ['element.id null'       => [element => { id => undef }],          qr/element id/],
    ['element.id exponent'   => [element => { id => '1e3' }],          qr/element id/],
    ['element.id unknown'    => [element => { id => 987654 }],         qr/not found/],
    ['element key/id differ' => [element => { key => 'jira', id => 23 }], qr/different/],
    # name
    ['name number'           => [name => 1],                           qr/name/],
    ['name float'            => [name => 1.5],                         qr/name/],
    ['name array'            => [name => ['x']],                       qr/name/],
    ['name object'           => [name => { n => 'x' }],                qr/name/],
    ['name true'             => [name => json_true()],                 qr/name/],
    ['name null'             => [name => undef],                       qr/name/],
    ['name empty'            => [name => ''],                          qr/name/],
    ['name only HTML'        => [name => '<b></b><i></i>'],            qr/name/],
    # tags
    ['tags string'           => [tags => 'a'],                         qr/tags/],
    ['tags number'           => [tags => 1],                           qr/tags/],
    ['tags object'           => [tags => { a => 1 }],                  qr/tags/],
    ['tags null'             => [tags => undef],                       qr/tags/],
    ['tags true'             => [tags => json_true()],                 qr/tags/],
    # tags items
    ['tag number'            => [tags => [1]],                         qr/tags/],
    ['tag null'              => [tags => [undef]],                     qr/tags/],
    ['tag array'             => [tags => [['a']]],                     qr/tags/],
    ['tag object'            => [tags => [{}]],                        qr/tags/],
    ['tag true'              => [tags => [json_true()]],               qr/tags/],
    ['second tag number'     => [tags => ['ok', 2]],                   qr/tags/],
    # configuration
    ['configuration string'  => [configuration => 'x'],                qr/configuration/],
    ['configuration array'   => [configuration => [valid_config('jira')]], qr/configuration/],
    ['configuration number'  => [configuration => 1],                  qr/configuration/],
    ['configuration null'    => [configuration => undef],              qr/configuration/],
    ['configuration true'    => [configuration => json_true()],        qr/configuration/],
    # configuration values
    ['configuration value object' => [configuration => cfg_with('jira.username' => { u => 1 })], qr/jira\.username/],
    ['configuration value array'  => [configuration => cfg_with('jira.username' => ['ada'])],  qr/jira\.username/],
    ['configuration empty key'    => [configuration => cfg_with('' => 'x')],                  qr/configuration/],
    ['required value null'        => [configuration => cfg_with('jira.password' => undef)],   qr/jira\.password/],
    # providerData
    ['providerData string'   => [providerData => 'x'],                 qr/providerData/],
    ['providerData array'    => [providerData => [1]],                 qr/providerData/],
    ['providerData number'   => [providerData => 1],                   qr/providerData/],
    ['providerData true'     => [providerData => json_true()],         qr/providerData/],
    ['providerData.code a number' => [providerData => { code => 7 }],  qr/providerData\.code/],
    ['providerData.code too long' => [providerData => { code => 'c' x 4097 }], qr/providerData\.code.*4096/],
    ['externalAuthentication bogus' => [externalAuthentication => 'always'], qr/externalAuthentication/],
    # settings
    ['maxCacheSize string'   => [maxCacheSize => '5'],                 qr/maxCacheSize/],
    ['maxCacheSize negative' => [maxCacheSize => -1],                  qr/maxCacheSize/],
    ['cacheTimeToLive float' => [cacheTimeToLive => 1.5],              qr/cacheTimeToLive/],
    ['cachingEnabled string' => [cachingEnabled => 'true'],            qr/cachingEnabled/],
    ['traceLoggingEnabled 1' => [traceLoggingEnabled => 1],            qr/traceLoggingEnabled/],
);
for my $w (@wrong) {
    my($what, $over, $re) = @$w;
    case(name => "POST: $what", method => 'POST', path => 'instances', body => create_body(@$over),
         status => 400, message => $re);
}
# Typed entries: BOOLEAN and NUMBER.
case(name => 'POST: BOOLEAN entry "maybe"', method => 'POST', path => 'instances',
     body => encode_json({ element => { key => 'amazons3' }, name => 'b',
                           configuration => { %{ valid_config('amazons3') }, 'document.tagging' => 'maybe' } }),
     status => 400, message => qr/document\.tagging/);
case(name => 'POST: NUMBER entry "abc"', method => 'POST', path => 'instances',
     body => encode_json({ element => { key => 'epages' }, name => 'n',
                           configuration => { %{ valid_config('epages') }, 'pagination.max' => 'abc' } }),
     status => 400, message => qr/pagination\.max/);
case(name => 'POST scoped: body element is another element', method => 'POST',
     path => 'elements/jira/instances', body => create_body(element => { key => 'sfdc' }),
     status => 400, message => qr/differs/);

# --- PUT and PATCH bodies -------------------------------------------------------------
for my $r (
    [PUT   => 'name number'             => [name => 7],                              qr/name/],
    [PUT   => 'tags string'             => [tags => 'x'],                            qr/tags/],
    [PUT   => 'tag number'              => [tags => ['a', 1]],                       qr/tags/],
    [PUT   => 'configuration array'     => [configuration => []],                    qr/configuration/],
    [PUT   => 'configuration value obj' => [configuration => { 'jira.api.url' => {} }], qr/jira\.api\.url/],
    [PUT   => 'element string'          => [element => 'sfdc'],                      qr/element/],
    [PUT   => 'element.key number'      => [element => { key => 23 }],               qr/element key/],
    [PUT   => 'element.id word'         => [element => { id => 'sfdc' }],            qr/element id/],
    [PUT   => 'providerData string'     => [providerData => 'x'],                    qr/providerData/],
    [PUT   => 'maxCacheSize string'     => [maxCacheSize => '1'],                    qr/maxCacheSize/],
    [PUT   => 'required entry cleared'  => [configuration => { 'jira.username' => undef }], qr/jira\.username/],
    [PATCH => 'name object'             => [name => {}],                             qr/name/],
    [PATCH => 'name null'               => [name => undef],                          qr/name/],
    [PATCH => 'tags object'             => [tags => {}],                             qr/tags/],
    [PATCH => 'tag null'                => [tags => [undef]],                        qr/tags/],
    [PATCH => 'configuration string'    => [configuration => 'jira.username=x'],     qr/configuration/],
    [PATCH => 'configuration value arr' => [configuration => { 'jira.username' => [] }], qr/jira\.username/],
    [PATCH => 'element array'           => [element => []],                          qr/element/],
    [PATCH => 'element unknown key'     => [element => { key => 'nosuch' }],         qr/not found/],
    [PATCH => 'element.id null'         => [element => { id => undef }],             qr/element id/],
    [PATCH => 'cachingEnabled string'   => [cachingEnabled => 'yes'],                qr/cachingEnabled/],
    [PATCH => 'traceLoggingEnabled 0'   => [traceLoggingEnabled => 0],               qr/traceLoggingEnabled/],
    [PATCH => 'providerData array'      => [providerData => []],                     qr/providerData/],
) {
    my($m, $what, $over, $re) = @$r;
    case(name => "$m: $what", method => $m, path => "instances/$id", body => update_body(@$over),
         status => 400, message => $re);
}
case(name => 'PATCH scoped: body element is another element', method => 'PATCH',
     path => "elements/jira/instances/$id", body => update_body(element => { key => 'sfdc' }),
     status => 400, message => qr/differs/);
case(name => 'PUT scoped by id: element.id of another element', method => 'PUT',
     path => "elements/1/instances/$id", body => update_body(element => { id => 23 }),
     status => 400, message => qr/differs/);

# --- PATCH /instances/{id}/configuration/{configId} ------------------------------------
for my $r (
    ['propertyValue object'   => $id, $cfg_user, '{"propertyValue":{"v":"x"}}',    qr/propertyValue/],
    ['propertyValue array'    => $id, $cfg_user, '{"propertyValue":["x"]}',        qr/propertyValue/],
    ['propertyValue missing'  => $id, $cfg_user, '{}',                             qr/propertyValue/],
    ['value instead'          => $id, $cfg_user, '{"value":"x"}',                  qr/propertyValue/],
    ['required set to null'   => $id, $cfg_user, '{"propertyValue":null}',         qr/jira\.username/],
    ['required set to ""'     => $id, $cfg_user, '{"propertyValue":""}',           qr/jira\.username/],
    ['BOOLEAN set to "maybe"' => $s3->{id}, $cfg_bool, '{"propertyValue":"maybe"}', qr/document\.tagging/],
    ['BOOLEAN set to 1'       => $s3->{id}, $cfg_bool, '{"propertyValue":1}',      qr/document\.tagging/],
    ['NUMBER set to "abc"'    => $ep->{id}, $cfg_num, '{"propertyValue":"abc"}',    qr/pagination\.max/],
    ['NUMBER set to true'     => $ep->{id}, $cfg_num, '{"propertyValue":true}',     qr/pagination\.max/],
) {
    my($what, $iid, $cid, $body, $re) = @$r;
    case(name => "PATCH config: $what", method => 'PATCH', path => "instances/$iid/configuration/$cid",
         body => $body, status => 400, message => $re);
}

# --- bodies over the limit (CEInstancesMaxBodySize 1048576) -------------------------------
my $TOO = qr/larger than 1048576/;
case(name => 'POST: 1 MiB + 1 byte', method => 'POST', path => 'instances',
     body => '{"name":"' . ('x' x (1048576 - 11)) . 'x"}', status => 413, message => $TOO);
case(name => 'PUT: 2 MiB of tags', method => 'PUT', path => "instances/$id",
     body => encode_json({ tags => [('t' x 100) x 20000] }), status => 413, message => $TOO);
case(name => 'PATCH config: 1.5 MiB propertyValue', method => 'PATCH',
     path => "instances/$id/configuration/$cfg_user",
     body => encode_json({ propertyValue => $big . ('y' x 500000) }), status => 413, message => $TOO);
case(name => 'POST scoped: 4 MiB', method => 'POST', path => 'elements/jira/instances',
     body => create_body(name => $big x 4), status => 413, message => $TOO);
case(name => 'POST: Content-Length of 5 MB, 2 bytes sent', method => 'POST', path => 'instances',
     raw => request_bytes(POST => 'instances', { 'Content-Length' => 5_000_000,
                                                 'Content-Type' => 'application/json' }, '{}'),
     status => 413, message => $TOO);
case(name => 'POST: 2 MiB chunked', method => 'POST', path => 'instances',
     raw => request_bytes(POST => 'instances', { 'Transfer-Encoding' => 'chunked',
                                                 'Content-Type' => 'application/json' },
                          join('', map { sprintf("%x\r\n%s\r\n", 65536, 'z' x 65536) } 1 .. 32) . "0\r\n\r\n"),
     status => 413, message => $TOO);
case(name => 'PUT: Content-Length not a number', method => 'PUT', path => "instances/$id", core => 1,
     raw => request_bytes(PUT => "instances/$id", { 'Content-Length' => 'abc',
                                                    'Content-Type' => 'application/json' }, '{}'),
     status => 400);

# --- invalid UTF-8 --------------------------------------------------------------------
for my $r (['0xFF 0xFE'               => qq("\xFF\xFE")],
           ['overlong slash'          => qq("a\xC0\xAFb")],
           ['UTF-8 encoded surrogate' => qq("a\xED\xA0\x80b")],
           ['truncated sequence'      => qq("\xE2\x82")],
           ['lone \\ud800 escape'     => q("\ud800")],
           ['lone \\udc00 escape'     => q("x\udc00")]) {
    case(name => "POST: name with $r->[0]", method => 'POST', path => 'instances',
         body => raw_create($r->[1]), status => 400, message => $MAL);
}
case(name => 'PUT: tag with invalid UTF-8', method => 'PUT', path => "instances/$id",
     body => qq({"tags":["ok","\xC3\x28"]}), status => 400, message => $MAL);
case(name => 'PATCH: configuration key with invalid UTF-8', method => 'PATCH', path => "instances/$id",
     body => qq({"configuration":{"k\xF8\x88\x80\x80\x80":"v"}}), status => 400, message => $MAL);
case(name => 'PATCH config: propertyValue with invalid UTF-8', method => 'PATCH',
     path => "instances/$id/configuration/$cfg_user", body => qq({"propertyValue":"\x80"}),
     status => 400, message => $MAL);

# --- NUL bytes ------------------------------------------------------------------------
case(name => 'POST: raw NUL in name', method => 'POST', path => 'instances',
     body => raw_create(qq("a\x00b")), status => 400, message => $MAL);
case(name => 'POST: raw NUL after the object', method => 'POST', path => 'instances',
     body => create_body() . "\x00", status => 400, message => $MAL);
case(name => 'POST: \u0000 in name', method => 'POST', path => 'instances',
     body => raw_create(q("a\u0000b")), status => 400, message => $MAL);
case(name => 'PUT: \u0000 in a tag', method => 'PUT', path => "instances/$id",
     body => q({"tags":["a\u0000"]}), status => 400, message => $MAL);
case(name => 'PATCH: \u0000 in a configuration value', method => 'PATCH', path => "instances/$id",
     body => q({"configuration":{"jira.username":"ada\u0000admin"}}), status => 400, message => $MAL);
case(name => 'PATCH: \u0000 in a configuration key', method => 'PATCH', path => "instances/$id",
     body => q({"configuration":{"jira.username\u0000x":"v"}}), status => 400, message => $MAL);
case(name => 'PATCH: raw NUL in a configuration key', method => 'PATCH', path => "instances/$id",
     body => qq({"configuration":{"jira.username\x00x":"v"}}), status => 400, message => $MAL);
case(name => 'PATCH config: \u0000 in propertyValue', method => 'PATCH',
     path => "instances/$id/configuration/$cfg_user", body => q({"propertyValue":"\u0000"}),
     status => 400, message => $MAL);

# --- duplicate keys -------------------------------------------------------------------
case(name => 'POST: name twice', method => 'POST', path => 'instances',
     body => substr(create_body(), 0, -1) . ',"name":"second"}', status => 400, message => $MAL);
case(name => 'POST: element key twice', method => 'POST', path => 'instances',
     body => qq({"element":{"key":"jira","key":"sfdc"},"name":"d","configuration":$CFG_JSON}),
     status => 400, message => $MAL);
case(name => 'PATCH: configuration entry twice', method => 'PATCH', path => "instances/$id",
     body => '{"configuration":{"jira.username":"a","jira.username":"b"}}', status => 400, message => $MAL);
case(name => 'PUT: tags twice', method => 'PUT', path => "instances/$id",
     body => '{"tags":["a"],"tags":["b"]}', status => 400, message => $MAL);
case(name => 'PATCH config: propertyValue twice', method => 'PATCH',
     path => "instances/$id/configuration/$cfg_user", body => '{"propertyValue":"a","propertyValue":"b"}',
     status => 400, message => $MAL);

# --- absurd ids in paths ---------------------------------------------------------------
my $NF = qr/not found|No such/i;
for my $r (
    [GET    => 'instances/-1'],
    [DELETE => 'instances/0'],
    [PUT    => 'instances/99999999999999999999', update_body(name => 'x')],
    [PATCH  => 'instances/9223372036854775808', update_body(name => 'x')],
    [DELETE => 'instances/18446744073709551617'],
    [GET    => 'instances/abc'],
    [DELETE => "instances/${id}abc"],
    [DELETE => "instances/$id.0"],
    [DELETE => "instances/0$id"],
    [DELETE => "instances/-$id"],
    [DELETE => "instances/%20$id"],
    [DELETE => "instances/$id%20"],
    [DELETE => "instances/%27%20OR%201%3D1%20--"],
    [DELETE => "instances/$id%20OR%201=1"],
    [GET    => 'instances/' . ('9' x 4000)],
    [DELETE => 'instances/' . ('1' x 4000)],
    [GET    => "instances/$id/configuration/0"],
    [PATCH  => "instances/$id/configuration/-1", '{"propertyValue":"x"}'],
    [PATCH  => "instances/$id/configuration/99999999999999999999", '{"propertyValue":"x"}'],
    [PATCH  => "instances/$id/configuration/999999", '{"propertyValue":"x"}'],
    [GET    => "instances/$id/configuration/abc"],
    [PUT    => 'instances/-1/enabled'],
    [DELETE => 'instances/99999999999999999999/enabled'],
    [DELETE => "instances/$id/enabled/0"],
    [GET    => 'instances/-1/configuration'],
    [DELETE => 'elements/nosuch/instances/' . $id],
    [GET    => 'elements/0/instances'],
    [DELETE => "elements/99999999999999999999/instances/$id"],
    [DELETE => "elements/%27%3B%20DROP%20TABLE%20ce_instance%3B--/instances/$id"],
    [GET    => 'elements/' . ('j' x 4000) . '/instances'],
    [GET    => '/elements/api-v2'],
    # events: another tenant's, another instance's, absurd ids
    [GET    => "instances/events/$their_event"],
    [PUT    => "instances/events/$their_event/redeliver"],
    [GET    => "instances/$theirs[0]{id}/events/$their_event"],
    [GET    => "instances/$id/events/$s3_event"],
    [GET    => "instances/events/%27%20OR%201%3D1%20--"],
    [PUT    => "instances/events/%27%20OR%201%3D1%20--/redeliver"],
    [GET    => 'instances/events/' . ('e' x 4000)],
    [PUT    => "instances/events/$s3_event%20/redeliver"],
    [GET    => "instances/-1/events"],
    [GET    => 'instances/99999999999999999999/events'],
    # traversal that stays below the API once normalised
    [GET    => 'instances/%2e%2e/etc/passwd'],
    [DELETE => "instances/$id/%2e%2e/%2e%2e/etc/passwd"],
    [DELETE => "instances/$id/../../etc/passwd"],
    [GET    => 'instances/..%5c..%5cetc%5cpasswd'],
) {
    my($m, $p, $body) = @$r;
    (my $label = $p) =~ s/(.{60}).+/$1.../;
    case(name => "$m /$label", method => $m, path => $p, defined $body ? (body => $body) : (),
         status => 404, message => $NF);
}
# An encoded slash or NUL: httpd refuses these itself.
case(name => "DELETE /instances/$id%2f..%2f..%2fetc%2fpasswd", method => 'DELETE', core => 1,
     path => "instances/$id%2f..%2f..%2fetc%2fpasswd", status => 404);
case(name => "DELETE /instances/$id%00", method => 'DELETE', path => "instances/$id%00", core => 1,
     status => 404);
# Traversal out of the API altogether: not the API's any more; it must not
# answer a file, succeed, or write.
case(name => 'GET /instances/../../../etc/passwd', method => 'GET', outside => 1,
     path => 'instances/../../../etc/passwd');
case(name => 'GET /instances/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd', method => 'GET', outside => 1,
     path => 'instances/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd');
case(name => 'GET /elements/api-v2/../../../../../../etc/passwd', method => 'GET', outside => 1,
     path => '/elements/api-v2/../../../../../../etc/passwd');

# --- list queries ----------------------------------------------------------------------
for my $q ('pageSize=0', 'pageSize=-1', 'pageSize=abc', 'pageSize=1%20OR%201=1', 'pageSize=1.5',
           'nextPage=%27%20OR%201%3D1--', 'nextPage=' . ('A' x 3000)) {
    case(name => "GET /instances?$q", method => 'GET', path => "instances?$q", status => 400,
         message => qr/pageSize|nextPage/);
}

# --- Authorization ---------------------------------------------------------------------
my $other_token = $theirs[0]{token};
my $AUTHRE = qr/Authorization|secret|token|authorized/i;
for my $r (
    ['missing'                       => undef],
    ['empty'                         => ''],
    ['only "User"'                   => 'User'],
    ['user part only'                => "User $U"],
    ['organization part only'        => "Organization $O"],
    ['organization without value'    => "User $U, Organization"],
    ['empty secrets'                 => 'User , Organization '],
    ['empty secrets, no spaces'      => 'User,Organization'],
    ['empty part'                    => "User $U,, Organization $O"],
    ['trailing comma'                => "User $U, Organization $O,"],
    ['values without names'          => "$U, $O"],
    ['names swapped with values'     => "$U User, $O Organization"],
    ['secrets in the wrong parts'    => "Organization $U, User $O"],
    ['no comma'                      => "User $U Organization $O"],
    ['semicolon'                     => "User $U; Organization $O"],
    ['colon'                         => "User: $U, Organization: $O"],
    ['quoted secrets'                => qq(User "$U", Organization "$O")],
    ['user twice'                    => "User $U, Organization $O, User $U"],
    ['empty Element'                 => "User $U, Organization $O, Element"],
    ["other tenant's Element token"  => "User $U, Organization $O, Element $other_token"],
    ["other tenant's org secret"     => "User $U, Organization $o->{org_secret}"],
    ['Basic scheme'                  => 'Basic ' . 'dXNlcjpwYXNz'],
    ['Bearer scheme'                 => "Bearer $U"],
    ['SQL in the secrets'            => "User '||'1'='1'--, Organization '||'1'='1'--"],
    ['SQL with spaces'               => "User ' OR '1'='1, Organization ' OR '1'='1"],
    ['tab inside a value'            => "User $U\tx, Organization $O"],
    ['bytes 0x80-0xFF'               => "User \xFF\xFE\x80, Organization $O"],
    ['1025 bytes'                    => "User $U, Organization " . ('A' x (1025 - length("User $U, Organization ")))],
    ['7 KB'                          => "User " . ('A' x 7000) . ", Organization $O"],
) {
    my($what, $h) = @$r;
    case(name => "Authorization $what: POST /instances", method => 'POST', path => 'instances',
         auth => $h, body => create_body(name => 'must not exist'), status => 401, message => $AUTHRE);
}
# An Authorization line longer than any the API takes (here past
# LimitRequestFieldSize too, which httpd would refuse and log whole) is
# replaced before httpd reads it: the API's 401, no secret in any log.
my $LINE_RE = qr/^Malformed Authorization header line \(its name, folding or length\)$/;
case(name => 'Authorization 100 KB: DELETE', method => 'DELETE', path => "instances/$id",
     auth => 'User ' . ('A' x 102400) . ", Organization $O", status => 401, message => $LINE_RE);
case(name => 'Authorization 9 KB, the secrets first: DELETE', method => 'DELETE',
     path => "instances/$id", auth => "User $U, Organization $O" . (' ' x 9000) . 'x',
     status => 401, message => $LINE_RE);
# httpd logs a header line whose name is malformed (AH02426) or a folded
# value with a control character (AH02427) whole: replaced first, too.
{
    my $good = request_bytes(DELETE => "instances/$id", [Authorization => "User $U, Organization $O"]);
    (my $no_colon = $good) =~ s/\r\nAuthorization: /\r\nAuthorization /;
    (my $space_colon = $good) =~ s/\r\nAuthorization: /\r\nAuthorization : /;
    (my $tab_colon = $good) =~ s/\r\nAuthorization: /\r\nauthorization\t: /;
    case(name => 'Authorization without its colon: DELETE', method => 'DELETE',
         path => "instances/$id", raw => $no_colon, status => 401, message => $LINE_RE);
    case(name => 'Authorization with a space before its colon: DELETE', method => 'DELETE',
         path => "instances/$id", raw => $space_colon, status => 401, message => $LINE_RE);
    case(name => 'authorization with a tab before its colon: DELETE', method => 'DELETE',
         path => "instances/$id", raw => $tab_colon, status => 401, message => $LINE_RE);
    case(name => 'Authorization folded, a control character in the fold: DELETE',
         method => 'DELETE', path => "instances/$id",
         raw => request_bytes(DELETE => "instances/$id",
                              [Authorization => "User $U,\r\n Organization \x01$O"]),
         status => 401, message => $AUTHRE);
    case(name => 'Authorization folded: DELETE', method => 'DELETE', path => "instances/$id",
         raw => request_bytes(DELETE => "instances/$id",
                              [Authorization => "User $U,\r\n\tOrganization $O"]),
         status => 401, message => $AUTHRE);
}
# httpd itself refuses control characters in a header value (400, logging
# the value at LogLevel debug); the module rewrites such an Authorization
# line before httpd reads it, so the secrets in it are never logged and the
# client gets the API's own 401.
for my $r (['a control character (0x01)' => "User \x01$U, Organization $O"],
           ['DEL (0x7F)'                 => "User $U\x7F, Organization $O"],
           ['NUL'                        => "User $U, Organization \0$O"],
           ['a bare CR'                  => "User $U,\rOrganization $O"],
           ['an escape sequence'         => "User $U, Organization $O\e[2J"]) {
    my($what, $h) = @$r;
    case(name => "Authorization with $what: DELETE", method => 'DELETE', path => "instances/$id",
         raw => request_bytes(DELETE => "instances/$id", { Authorization => $h }),
         status => 401, message => qr/^Malformed Authorization header: control characters$/);
}
case(name => 'Authorization header twice: DELETE', method => 'DELETE', path => "instances/$id",
     raw => request_bytes(DELETE => "instances/$id",
                          [Authorization => "User $U, Organization $O", Authorization => "User $U, Organization $O"]),
     status => 401, message => $AUTHRE);

# --- methods ---------------------------------------------------------------------------
for my $r (
    [PROPFIND => 'instances',                      [qw(GET POST PUT PATCH DELETE)]],
    [TRACE    => "instances/$id",                  [qw(GET PUT PATCH DELETE)]],
    [MKCOL    => "instances/$id/configuration",    [qw(GET)]],
    [FOO      => "instances/$id/enabled",          [qw(PUT DELETE)]],
    [COPY     => 'instances',                      [qw(GET POST PUT PATCH DELETE)]],
    [POST     => 'instances/enabled',              [qw(PUT DELETE)]],
    [POST     => "instances/$id",                  [qw(GET PUT PATCH DELETE)]],
    [COPY     => "instances/$id",                  [qw(GET PUT PATCH DELETE)]],
    [MOVE     => "elements/jira/instances/$id",    [qw(GET PUT PATCH DELETE)]],
    [LOCK     => "instances/$id/configuration/$cfg_user", [qw(GET PATCH)]],
    [OPTIONS  => "instances/$id/enabled",          [qw(PUT DELETE)]],
    [PATCH    => "instances/$id/enabled",          [qw(PUT DELETE)]],
    [POST     => 'elements/jira',                  [qw(GET)]],
    [DELETE   => 'elements',                       [qw(GET)]],
) {
    my($m, $p, $allow) = @$r;
    case(name => "$m /$p", method => $m, path => $p,
         $m =~ /^(POST|PUT|PATCH)$/ ? (body => create_body()) : (),
         status => 405, allow => $allow);
}
case(name => 'PROPFIND on an unknown path', method => 'PROPFIND', path => 'nosuch', status => 404);
case(name => 'unauthenticated COPY /instances is still 405', method => 'COPY', path => 'instances',
     auth => undef, status => 405, allow => [qw(GET POST PUT PATCH DELETE)]);
case(name => 'unauthenticated DELETE /instances (by token) is 401', method => 'DELETE',
     path => 'instances', auth => undef, status => 401);
for my $p ('instances', 'instances/configuration', 'instances/enabled') {
    case(name => "PUT /$p without an Element token", method => 'PUT', path => $p,
         body => create_body(), status => $p eq 'instances/configuration' ? 405 : 400,
         $p eq 'instances/configuration' ? (allow => [qw(GET)]) : (message => qr/Element token/));
}

# --- Content-Type ----------------------------------------------------------------------
my $CT = qr/Content-Type/;
for my $r (
    [POST  => 'instances',                               'text/plain'],
    [POST  => 'instances',                               'application/x-www-form-urlencoded'],
    [POST  => 'instances',                               'multipart/form-data; boundary=xyz'],
    [POST  => 'instances',                               'application/jsonp'],
    [POST  => 'instances',                               'json'],
    [POST  => 'elements/jira/instances',                 'application/xml'],
    [PUT   => "instances/$id",                           'text/html'],
    [PUT   => "elements/jira/instances/$id",             'text/json'],
    [PATCH => "instances/$id",                           'application/octet-stream'],
    [PATCH => "instances/$id/configuration/$cfg_user",   'text/plain; charset=utf-8'],
) {
    my($m, $p, $ct) = @$r;
    my $body = $p =~ /configuration/ ? '{"propertyValue":"x"}'
             : $m eq 'POST' ? create_body(name => 'wrong ct') : update_body(name => 'wrong ct');
    case(name => "$m /$p as $ct", method => $m, path => $p, body => $body, ct => $ct,
         status => 415, message => $CT);
}
case(name => 'POST with an empty Content-Type', method => 'POST', path => 'instances',
     raw => request_bytes(POST => 'instances', { 'Content-Type' => '' }, create_body(name => 'empty ct')),
     status => 415, message => $CT);
case(name => 'PUT /enabled with a text/plain body', method => 'PUT', path => "instances/$id/enabled",
     body => 'enable please', ct => 'text/plain', status => 415, message => $CT);
case(name => 'PATCH: JSON Content-Type, UTF-16 body', method => 'PATCH', path => "instances/$id",
     body => "\xFF\xFE{\0\"\0n\0a\0m\0e\0\"\0:\0\"\0x\0\"\0}\0", ct => 'application/json; charset=utf-16',
     status => 400, message => $MAL);
case(name => 'POST without Content-Type, malformed body', method => 'POST', path => 'instances',
     body => '{"name":', ct => undef, status => 400, message => $MAL);
case(name => 'PATCH without Content-Type, wrong type', method => 'PATCH', path => "instances/$id",
     body => update_body(tags => 'x'), ct => undef, status => 400, message => qr/tags/);

# ---------------------------------------------------------------- running it

# The request as bytes (CETest's raw_bytes): request line, Host, Connection:
# close, the headers given (hash or list of pairs; $t's Authorization unless
# one is given), Content-Length unless given or chunked.
sub request_bytes {
    my($method, $path, $headers, $body) = @_;
    return raw_bytes($method => $path, auth => $t, headers => $headers, body => $body);
}

# Sends raw bytes on a connection of their own (stopping early when the
# server answers first, e.g. 413); the answer as a CETest::Res.
sub send_raw {
    my($what, $bytes) = @_;
    return raw_res(raw_request($bytes), $what);
}

sub run_case {
    my $c = shift;
    return send_raw("$c->{method} /$c->{path}", $c->{raw}) if defined $c->{raw};
    my %o = (auth => exists $c->{auth} ? $c->{auth} : $t, headers => $c->{headers} || {});
    if (defined $c->{body}) {
        $o{body} = $c->{body};
        $o{content_type} = exists $c->{ct} ? $c->{ct} : 'application/json';
    }
    return api($c->{method} => $c->{path}, %o);
}

cmp_ok scalar(@cases), '>=', 60, 'the table has at least 60 hostile requests (' . scalar(@cases) . ')';

my(%status, @server_errors);
for my $c (@cases) {
    my $name = $c->{name};
    $name .= ' [answered by httpd]' if $c->{core};
    my $before = snapshot();
    my $res = run_case($c);
    $status{ $res->code }++;
    push @server_errors, "$name -> " . $res->code if $res->code >= 500;
    if ($c->{core}) {
        # httpd's status, with the module's JSON body (insert_error_filter)
        my $text = HTTP::Status::status_message($c->{status});
        expect_error($res, $c->{status}, $name, message => qr/^\Q$text\E$/);
    } elsif ($c->{outside}) {
        ok $res->code == 400 || $res->code == 404, "$name: 400 or 404 (outside the API)"
            or diag $res->describe;
        unlike $res->content, qr/root:.*:0:0:/, "$name: no file content";
    } else {
        expect_error($res, $c->{status}, $name,
                     $c->{message} ? (message => $c->{message}) : (),
                     $c->{allow} ? (allow => $c->{allow}) : ());
    }
    unchanged($before, $name);
}
is_deeply \@server_errors, [], 'no hostile request got a 5xx (or no answer)';
note 'statuses: ' . join ', ', map { "$_ x$status{$_}" } sort keys %status;

# ---------------------------------------------------------------- injection
# Valid requests whose content is hostile: 200, stored and answered as plain
# text (HTML stripped from names and tags only), nothing else touched.

my $tables_before = snapshot();
my @theirs_json = map { api(GET => "instances/$_->{id}", auth => $o)->json } @theirs;

sub others_intact {
    my $what = shift;
    for my $i (0 .. $#theirs) {
        my $res = api(GET => "instances/$theirs[$i]{id}", auth => $o);
        is_deeply $res->json, $theirs_json[$i], "$what: the other tenant's instance $theirs[$i]{id} unchanged";
    }
    is_deeply ids_of(api(GET => 'instances', auth => $o)->json), [map { $_->{id} } reverse @theirs],
        "$what: the other tenant's list unchanged";
    is_deeply db_instances($o), $theirs_db, "$what: the other tenant's rows unchanged";
    my $now = snapshot();
    is_deeply [sort keys %$now], [sort keys %$tables_before], "$what: every table still there";
    is_deeply [@{$now}{qw(ce_organization ce_user ce_schema_version)}],
              [@{$tables_before}{qw(ce_organization ce_user ce_schema_version)}],
              "$what: organizations, users and schema untouched";
}

my $SQL = q{x'); DROP TABLE ce_instance; DELETE FROM ce_user; --};
my $SQL2 = q{" OR 1=1; UPDATE ce_instance SET name='pwned' WHERE '1'='1};
my %inj_cfg = (%{ valid_config('jira') }, 'jira.username' => q{' OR '1'='1' --},
               'jira.api.url' => q{<a href="javascript:alert(1)">https://x</a>},
               q{k'); DROP TABLE ce_user;--} => q{<script>alert(document.cookie)</script>});
my $res = api(POST => 'instances', auth => $t, json => {
    element => { key => 'jira' }, name => "<script>alert(1)</script>$SQL",
    tags => ['<b>bold</b>', $SQL2, q{' OR '1'='1}, '<img src=x onerror=alert(1)>'],
    configuration => \%inj_cfg });
expect_ok($res, 'POST with SQL and HTML in name, tags and configuration');
my $evil = $res->json || {};
is $evil->{name}, "alert(1)$SQL", 'name: HTML stripped, SQL kept as text';
is_deeply $evil->{tags}, ['bold', $SQL2, q{' OR '1'='1}], 'tags: HTML stripped (an all-HTML tag dropped), SQL kept';
is $evil->{configuration}{'jira.username'}, $inj_cfg{'jira.username'}, 'configuration: SQL kept verbatim';
is $evil->{configuration}{'jira.api.url'}, $inj_cfg{'jira.api.url'}, 'configuration: HTML kept verbatim (not a name or tag)';
is $evil->{configuration}{q{k'); DROP TABLE ce_user;--}}, $inj_cfg{q{k'); DROP TABLE ce_user;--}},
    'configuration: SQL as a key kept verbatim';
is_deeply api(GET => "instances/$evil->{id}", auth => $t)->json, $evil, 'read back exactly as answered';
others_intact('after the injected create');

$res = api(PUT => "instances/$id", auth => $t, json => { name => $SQL2, tags => ["<i>$SQL</i>"] });
expect_ok($res, 'PUT with SQL and HTML');
is $res->json && $res->json->{name}, $SQL2, 'PUT name: SQL kept';
is_deeply $res->json && $res->json->{tags}, [$SQL], 'PUT tags: HTML stripped, SQL kept';
others_intact('after the injected PUT');

$res = api(PATCH => "instances/$id/configuration/$cfg_user", auth => $t,
           json => { propertyValue => q{admin'--} });
expect_ok($res, 'PATCH configuration entry with SQL');
is $res->json && $res->json->{propertyValue}, q{admin'--}, 'propertyValue: SQL kept';
others_intact('after the injected configuration PATCH');

for my $q ('tags%5B%5D=%27%20OR%20%271%27%3D%271', "tags%5B%5D=x%27)%20OR%201%3D1%20--",
           'tags%5B%5D=shared', 'tags%5B%5D=secret-tag', 'tags%5B%5D=%25', 'tags%5B%5D=' . ('%25' x 200)) {
    my $before = snapshot();
    my $res = api(GET => "instances?$q", auth => $t);
    expect_ok($res, "GET /instances?$q");
    my %mine = map { $_ => 1 } @{ ids_of(api(GET => 'instances', auth => $t)->json) };
    ok !grep({ !$mine{$_} } @{ ids_of($res->json) }), "GET /instances?$q: only own instances";
    unchanged($before, "GET /instances?$q");
}
$res = api(GET => 'instances?tags%5B%5D=%27%20OR%20%271%27%3D%271', auth => $t);
is_deeply ids_of($res->json), [$evil->{id}], 'a tag filter that looks like SQL matches that tag literally';
for my $wild ('%25', '_', '*', '%25bold%25') {
    is_deeply ids_of(api(GET => "instances?tags%5B%5D=$wild", auth => $t)->json), [],
        "tags[]=$wild is a literal tag, not a pattern";
}

# A valid request without Content-Type is taken as JSON.
$res = api(PATCH => "instances/$id", auth => $t, body => update_body(name => 'no content type'));
expect_ok($res, 'PATCH without Content-Type');
is $res->json && $res->json->{name}, 'no content type', 'PATCH without Content-Type applied';

# The server is still serving, and nothing of the other tenant moved.
expect_ok(api(GET => "instances/$s3->{id}", auth => $t), 'server still answers');
is_deeply api(GET => "instances/$s3->{id}", auth => $t)->json, $s3, 'an instance no case targeted is unchanged';
others_intact('at the end');

done_testing;
