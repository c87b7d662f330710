# 00-harness: the server is up with the freshly built module mounted at
# /elements/api-v2 and mod_dbd configured — the precondition of every
# other test.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

ok -x Apache::Test::vars('ce_ceadmin'), 'build/ceadmin is there';
like Apache::Test::vars('ce_dbd_driver'), qr/^(sqlite3|pgsql)\z/, 'database driver';
is Apache::Test::vars('ce_dbd_driver'), $ENV{CE_TEST_DBD_DRIVER} || 'sqlite3',
    'the driver the run asked for';

# Answered by the module (JSON), not by httpd's default handler.
my $res = api(GET => 'instances');
expect_error($res, 401, 'GET /instances without Authorization');

$res = api(GET => 'no/such/path');
expect_error($res, 404, 'unknown path under the Location');

# A tenant made with ceadmin authenticates, and the API's paths are
# relative to the <Location> (GET /elements/api-v2/elements is the catalog).
my $t = signup();
$res = api(GET => 'elements', auth => $t);
expect_ok($res, 'GET /elements with a new tenant');
is ref $res->json, 'ARRAY', 'the catalog is a list';
$res = api(GET => 'instances', auth => $t);
expect_ok($res, 'GET /instances with a new tenant');
is_deeply $res->json, [], 'a new tenant has no instances';

# Outside the Location httpd serves as usual.
$res = api(GET => '/index.html');
is $res->code, 200, 'outside the Location: httpd default handler';

done_testing;
