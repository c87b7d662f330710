# 37-cors: browser calls (issue 13, item 2). CEInstancesCORSOrigins lists
# the origins allowed (none by default): a preflight from one is answered
# 204 without authentication, naming the path's methods and the headers a
# client sends; answers to it (errors too) name the origin and expose the
# Elements-* headers. A preflight from another origin is 403; a plain call
# from it is served without CORS headers (the browser keeps the answer from
# the page). Without the directive OPTIONS stays 405.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $APP = 'https://app.example';
my $ADMIN = 'http://admin.example:8443';
my $node = start_node(name => 'cors', extra => ["CEInstancesCORSOrigins $APP $ADMIN"]);
END { stop_node($node) if $node }
my $t = signup();
my $i = create_instance($t, 'jira');

sub preflight {
    my($path, $origin, $method, %o) = @_;
    return api(OPTIONS => $path, node => $o{node} // $node,
               headers => { Origin => $origin, 'Access-Control-Request-Method' => $method,
                            'Access-Control-Request-Headers' => 'authorization,content-type' });
}

my $before = snapshot();
my $res = preflight("instances/$i->{id}", $APP, 'PATCH');
is $res->code, 204, 'preflight from an allowed origin: 204, no Authorization needed';
is $res->header('Access-Control-Allow-Origin'), $APP, 'names the origin';
is $res->header('Access-Control-Allow-Methods'), 'GET, PUT, PATCH, DELETE', "the path's methods";
like $res->header('Access-Control-Allow-Headers') // '', qr/\bAuthorization\b.*\bContent-Type\b.*\bIf-Match\b/,
    'the headers a client sends';
like $res->header('Access-Control-Max-Age') // '', qr/^\d+$/, 'Max-Age';
like $res->header('Vary') // '', qr/\bOrigin\b/, 'Vary: Origin';
is $res->content, '', 'no body';
$res = preflight('instances', $ADMIN, 'POST');
is $res->code, 204, 'the second origin (with a port)';
is $res->header('Access-Control-Allow-Methods'), 'GET, POST, PUT, PATCH, DELETE', '/instances methods';

$res = preflight('instances', 'https://evil.example', 'GET');
expect_error($res, 403, 'preflight from another origin', message => qr/origin/);
ok !defined $res->header('Access-Control-Allow-Origin'), '... names no origin';
$res = preflight('instances', "$APP.evil.example", 'GET');
is $res->code, 403, 'an origin that only starts like an allowed one';
$res = preflight('nosuch', $APP, 'GET');
expect_error($res, 404, 'preflight of an unknown path');
is $res->header('Access-Control-Allow-Origin'), $APP, '... readable by the page';
unchanged($before, 'preflights');

# Calls from the page.
$res = api(GET => "instances/$i->{id}", auth => $t, node => $node, headers => { Origin => $APP });
expect_ok($res, 'GET from an allowed origin');
is $res->header('Access-Control-Allow-Origin'), $APP, 'Access-Control-Allow-Origin';
like $res->header('Access-Control-Expose-Headers') // '',
    qr/Elements-Request-Id.*Elements-Element-Instance-Id.*Elements-Returned-Count.*Elements-Total-Count.*Elements-Next-Page-Token.*ETag.*WWW-Authenticate/,
    'the Elements-* headers and the 401 challenge exposed';
$res = api(GET => "instances/$i->{id}", node => $node, headers => { Origin => $APP });
expect_error($res, 401, 'an error from an allowed origin');
is $res->header('Access-Control-Allow-Origin'), $APP, '... readable by the page';
$res = api(GET => "instances/$i->{id}", auth => $t, node => $node,
           headers => { Origin => 'https://evil.example' });
expect_ok($res, 'GET from another origin: served (the browser withholds it)');
ok !defined $res->header('Access-Control-Allow-Origin'), '... without Access-Control-Allow-Origin';
$res = api(OPTIONS => 'instances', auth => $t, node => $node, headers => { Origin => $APP });
expect_error($res, 405, 'OPTIONS without Access-Control-Request-Method is no preflight',
             allow => [qw(GET POST PUT PATCH DELETE)]);

# The suite's server has no CEInstancesCORSOrigins.
$res = api(OPTIONS => 'instances', headers => { Origin => $APP, 'Access-Control-Request-Method' => 'GET' });
expect_error($res, 405, 'no CEInstancesCORSOrigins: a preflight is 405', allow => [qw(GET POST PUT PATCH DELETE)]);
ok !defined $res->header('Access-Control-Allow-Origin'), '... and allows no origin';

# The directive checks what it is given.
for my $bad ('app.example', 'https://app.example/', 'https://*.example', 'ftp://app.example',
             'https://user@app.example') {
    my $n = make_node(name => 'cors-bad', extra => ["CEInstancesCORSOrigins $bad"]);
    my($rc, $out) = node_ctl($n, '-t');
    isnt $rc, 0, "CEInstancesCORSOrigins $bad: apache2 -t fails";
    like $out, qr/is not an origin/, '... saying why';
}

done_testing;
