# 17-unavailable: with the database down (PostgreSQL stopped) every API
# request gets 503 with a JSON error saying so, nothing else; once the
# database is back the same httpd serves again, without a restart.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes ();
use Apache::Test qw(-withtestmore);
use CETest;

plan skip_all => 'stops the suite\'s PostgreSQL (this run is on '
    . Apache::Test::vars('ce_dbd_driver') . ')'
    unless Apache::Test::vars('ce_dbd_driver') eq 'pgsql' && $ENV{CE_TEST_PG_DIR};

my $t = signup();
my $inst = create_instance($t, 'jira');
expect_ok(api(GET => "instances/$inst->{id}", auth => $t), 'before: read');

my $down = 0;
END { pg_ctl('start') if $down }
pg_ctl('stop');
$down = 1;

for my $try (1 .. 3) {
    for my $case (['GET', "instances/$inst->{id}"], ['GET', 'instances'],
                  ['POST', 'instances', json => { element => { key => 'jira' }, name => 'x',
                                                  configuration => valid_config('jira') }],
                  ['DELETE', "instances/$inst->{id}"]) {
        my($method, $path, @body) = @$case;
        my $res = api($method => $path, auth => $t, @body);
        expect_error($res, 503, "database down, try $try: $method $path");
        like $res->json->{message} // '', qr/database/i, 'the message says it is the database';
    }
}

pg_ctl('start');
$down = 0;
# the first request after the restart may still meet a dead pooled
# connection (503); service must be back within a few requests
my $res;
for (1 .. 20) {
    $res = api(GET => "instances/$inst->{id}", auth => $t);
    last if $res->code == 200;
    Time::HiRes::sleep(0.2);
}
expect_ok($res, 'after: read again, same httpd');
is $res->json->{name}, $inst->{name}, 'the instance is intact';
expect_ok(api(GET => 'instances', auth => $t), 'after: list');
my $again = create_instance($t, 'jira');
ok $again && $again->{id} > $inst->{id}, 'after: create';

done_testing;
