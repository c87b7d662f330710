# 00-harness: the server is up with the freshly built module mounted at
# /elements/api-v2 and mod_dbd configured — the precondition of every
# other test. Nothing here needs a tenant.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

ok -x Apache::Test::vars('ce_ceadmin'), 'build/ceadmin is there';
is Apache::Test::vars('ce_dbd_driver'), 'sqlite3', 'database driver';

# Answered by the module (JSON), not by httpd's default handler.
my $res = api(GET => 'instances');
expect_error($res, 401, 'GET /instances without Authorization');

$res = api(GET => 'no/such/path');
expect_error($res, 404, 'unknown path under the Location');

# Outside the Location httpd serves as usual.
$res = api(GET => '/index.html');
is $res->code, 200, 'outside the Location: httpd default handler';

done_testing;
