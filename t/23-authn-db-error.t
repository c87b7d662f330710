# 23-authn-db-error: a database failure while authenticating is a database
# failure, never a bad credential. With the Element-token lookup failing
# (PostgreSQL: the instance table renamed under the running server, so the
# user lookup works and the token lookup does not), a call with an Element
# token gets 500 with the JSON error body, not 401 "Invalid Element token";
# error_log names the failing statement with the driver's message; a call
# without a token is unaffected; once the table is back, the same token is
# accepted again. (SQLite: apr-util prepares with the legacy
# sqlite3_prepare, so any schema change fails the user lookup first.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Spec;
use Apache::Test qw(-withtestmore);
use CETest;

plan skip_all => 'renames a table under the running server (this run is on '
    . Apache::Test::vars('ce_dbd_driver') . ')'
    unless Apache::Test::vars('ce_dbd_driver') eq 'pgsql';

my $error_log = File::Spec->catfile(Apache::Test::vars('t_logs'), 'error_log');

# error_log's text from byte offset $from on.
sub log_since {
    my($from) = @_;
    open my $fh, '<:raw', $error_log or return '';
    seek $fh, $from, 0;
    local $/;
    return <$fh> // '';
}

my $t = signup();
my $inst = create_instance($t, 'jira');
my $with_token = auth($t, element => $inst->{token});
expect_ok(api(GET => "instances/$inst->{id}", auth => $with_token), 'before: Element token accepted');

my $renamed = 0;
END { with_db(sub { $_[0]->do('ALTER TABLE ce_instance_x RENAME TO ce_instance') }) if $renamed }
with_db(sub { $_[0]->do('ALTER TABLE ce_instance RENAME TO ce_instance_x') });
$renamed = 1;

my $from = -s $error_log // 0;
my $res = api(GET => 'elements/jira', auth => $with_token);
expect_error($res, 500, 'token lookup fails: 500, not 401');
is $res->json->{message}, 'Internal server error', 'the body says nothing of the cause';
my $id = $res->json->{requestId} // '';
my $log = log_since($from);
like $log, qr/CE00002: Database error \(ce_select_instance_by_token\)/,
    'error_log names the failing statement';
unlike $log, qr/Invalid Element token/, 'and does not call it a bad token';
like $log, qr/requestId \Q$id\E: status 500/, 'logged under the answer\'s requestId' if $id;
unlike $log, qr/\Q$inst->{token}\E/, 'the token is not in the log';

expect_ok(api(GET => 'elements/jira', auth => $t), 'without a token: unaffected');
expect_error(api(GET => 'elements/jira', auth => auth($t, element => 'not-a-token')), 500,
             'any token: the lookup fails the same way');

with_db(sub { $_[0]->do('ALTER TABLE ce_instance_x RENAME TO ce_instance') });
$renamed = 0;
expect_ok(api(GET => "instances/$inst->{id}", auth => $with_token), 'after: the token is accepted again');
expect_error(api(GET => 'elements/jira', auth => auth($t, element => 'not-a-token')), 401,
             'after: a wrong token is 401 again');
is api(GET => 'elements/jira', auth => auth($t, element => 'not-a-token'))->json->{message},
    'Invalid Element token', 'with its message';

done_testing;
