# 98-contract: the contract test (issue 16). Every answer of the API that
# the suite's requests got (CETest::api records each one in
# t/var/contract/<pid>.jsonl) is checked against doc/openapi.json by
# t/openapi/contract.mjs: its operation (path template, method, status,
# content type) must be in the document and its body and headers must
# validate against the document's schemas (ajv, JSON Schema 2020-12). Runs
# late (after every other file but 99-logs.t), so it checks the whole
# suite's answers; then removes them (the next run, on the next driver,
# records its own). The validator is shown able to fail: answers that break
# the document in each way it checks are refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Path ();
use File::Spec;
use File::Temp ();
use Apache::Test qw(-withtestmore);
use CETest;

my $t_dir = Apache::Test::vars('t_dir');
my $doc = File::Spec->catfile($t_dir, File::Spec->updir, 'doc', 'openapi.json');
my $validator = File::Spec->catfile($t_dir, 'openapi', 'contract.mjs');
my $dir = CETest::contract_dir();

-d File::Spec->catdir($t_dir, 'openapi', 'node_modules', 'ajv')
    or BAIL_OUT("t/openapi/node_modules is missing: run 'scripts/openapi.sh install'");

# validate(DIR): (exit status, output lines) of the validator on DIR.
sub validate {
    my $d = shift;
    # node runs without the sanitizer run's preloaded runtime (it is not
    # the code under test)
    local $ENV{LD_PRELOAD};
    delete $ENV{LD_PRELOAD};
    open my $fh, '-|', 'node', $validator, $doc, $d or die "node: $!";
    my @out = <$fh>;
    close $fh;
    chomp @out;
    return ($? >> 8, @out);
}

# A few answers of its own, so that even a run of this file alone checks
# some: the document, an instance's life, errors.
my $t = signup();
api(GET => 'docs');
my $inst = create_instance($t, 'jira');
api(GET => "instances/$inst->{id}", auth => $t);
api(GET => "instances/$inst->{id}/docs", auth => $t);
api(GET => 'instances', auth => $t);
api(GET => 'instances/999999999', auth => $t);
api(DELETE => 'elements', auth => $t);
api(GET => 'nowhere', auth => $t);
# and the calls by Element token under an element's scope, which no other
# file makes (whatever they answer, it is checked)
my $tok = auth($t, element => $inst->{token});
api(PATCH => 'elements/jira/instances', auth => $tok, json => { name => 'contract' });
api(PUT => 'elements/jira/instances', auth => $tok, json => { name => 'contract', tags => [] });
api(GET => 'elements/jira/instances/configuration/1', auth => $tok);
api(PATCH => 'elements/jira/instances/configuration/1', auth => $tok, json => { propertyValue => 'ada' });
api(GET => 'elements/jira/instances/docs', auth => $tok);
api(PUT => 'elements/jira/instances/enabled', auth => $tok);
api(DELETE => 'elements/jira/instances/enabled', auth => $tok);

# ---- the suite's answers
my($rc, @out) = validate($dir);
my($checked) = map { /^checked (\d+) answers/ ? $1 : () } @out;
diag join "\n", grep { /^checked|^not exercised/ } @out;
is $rc, 0, 'every answer the suite received is as the document says'
    or diag join "\n", grep { /^MISMATCH|mismatches$/ } @out;
ok(($checked // 0) >= 8, 'the answers were checked (' . ($checked // 0) . ')');

# ---- the validator can fail: one bad answer at a time
my $good = {
    method => 'GET', path => "/instances/$inst->{id}", status => 200,
    headers => { 'Content-Type' => 'application/json', 'Elements-Request-Id' => 'x1',
                 'ETag' => qq{"$inst->{id}-1"}, 'Cache-Control' => 'no-store' },
    body => encode_json($inst), test => 'a good answer',
};
my %bad = (
    'a field of the wrong type' => { body => encode_json({ %$inst, disabled => 'no' }) },
    'a field the schema does not have' => { body => encode_json({ %$inst, surprise => 1 }) },
    'a required field missing' => { body => encode_json({ map { $_ eq 'token' ? () : ($_ => $inst->{$_}) } keys %$inst }) },
    'a status the operation does not have' => { status => 201 },
    'a method the path does not have, answered 200' => { method => 'POST' },
    'a path the document does not have, answered 200' => { path => '/instances/1/nothing' },
    'a 405 whose Allow is not the path\'s methods' => {
        method => 'POST', status => 405, headers => { %{ $good->{headers} }, Allow => 'GET' },
        body => encode_json({ requestId => 'x', message => 'no' }) },
    'an error body that is not {requestId, message}' => {
        status => 404, body => encode_json({ error => 'not found' }) },
    'a required header missing (ETag)' => {
        headers => { 'Content-Type' => 'application/json', 'Elements-Request-Id' => 'x1' } },
    'an undocumented header (Elements-Next-Page-Token)' => {
        headers => { %{ $good->{headers} }, 'Elements-Next-Page-Token' => 'abc' } },
    'a content type the response does not have' => {
        headers => { %{ $good->{headers} }, 'Content-Type' => 'text/html' } },
);
my $tmp = File::Temp->newdir;
sub write_answers {
    my @answers = @_;
    unlink glob "$tmp/*.jsonl";
    open my $fh, '>:raw', "$tmp/answers.jsonl" or die $!;
    print $fh encode_json($_), "\n" for @answers;
    close $fh;
}
write_answers($good);
($rc, @out) = validate("$tmp");
is $rc, 0, 'a good answer passes' or diag join "\n", @out;
for my $what (sort keys %bad) {
    write_answers({ %$good, %{ $bad{$what} }, test => $what });
    ($rc, @out) = validate("$tmp");
    is $rc, 1, "refused: $what" or diag join "\n", @out;
    ok((grep { /^MISMATCH .*\Q$what\E/ } @out), "the mismatch names the answer ($what)");
}

# Checked: the next run records its own.
File::Path::remove_tree($dir);

done_testing;
