# 15-nodes: two httpd nodes in front of one PostgreSQL. An instance created
# on node A (the suite's server) is read, listed, updated and deleted
# through node B; a secret rotated with ceadmin stops working on both at
# once; a deleted instance's token is refused on both. Nothing is cached
# per node.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

plan skip_all => 'several nodes share a PostgreSQL database (this run is on '
    . Apache::Test::vars('ce_dbd_driver') . ')'
    unless Apache::Test::vars('ce_dbd_driver') eq 'pgsql';

my $b = start_node(name => 'nodeB');
END { stop_node($b) if $b }

my $t = signup();
my %tags = (tags => ['two-nodes', 'shared']);

# created on A, everything else on B
my $res = api(POST => 'instances', auth => $t,
              json => { element => { key => 'jira' }, name => 'made on A', %tags,
                        configuration => valid_config('jira') });
expect_ok($res, 'create on node A');
my $inst = $res->json;
my $id = $inst->{id};

$res = api(GET => "instances/$id", auth => $t, node => $b);
expect_ok($res, 'read on node B');
is $res->json->{name}, 'made on A', 'node B sees what node A wrote';
is $res->json->{token}, $inst->{token}, 'same token through both nodes';

$res = api(GET => 'instances?tags[]=two-nodes', auth => $t, node => $b);
expect_ok($res, 'list on node B');
is_deeply ids_of($res->json), [$id], 'node B lists it';

$res = api(PATCH => "instances/$id", auth => $t, node => $b, json => { name => 'renamed on B' });
expect_ok($res, 'update on node B');
$res = api(GET => "instances/$id", auth => $t);
is $res->json->{name}, 'renamed on B', 'node A sees the update at once';

# ids stay unique whichever node creates (no per-process counters)
my %ids = ($id => 1);
for my $i (1 .. 10) {
    my $node = $i % 2 ? $b : undef;
    $res = api(POST => 'instances', auth => $t, ($node ? (node => $node) : ()),
               json => { element => { key => 'jira' }, name => "alt $i", %tags,
                         configuration => valid_config('jira') });
    expect_ok($res, "create $i on node " . ($node ? 'B' : 'A'));
    $ids{ $res->json->{id} }++;
}
is scalar(keys %ids), 11, 'eleven creates on two nodes, eleven distinct ids';

# the Element token of a live instance works on both, of a deleted one on none
for my $node (undef, $b) {
    $res = api(GET => "instances/$id", auth => auth($t, element => $inst->{token}),
               ($node ? (node => $node) : ()));
    expect_ok($res, 'Element token accepted on node ' . ($node ? 'B' : 'A'));
}
$res = api(DELETE => "instances/$id", auth => $t, node => $b);
expect_ok($res, 'delete on node B', empty => 1);
for my $node (undef, $b) {
    my $on = $node ? 'B' : 'A';
    $res = api(GET => "instances/$id", auth => $t, ($node ? (node => $node) : ()));
    expect_error($res, 404, "deleted instance gone on node $on");
    $res = api(GET => 'instances', auth => auth($t, element => $inst->{token}),
               ($node ? (node => $node) : ()));
    expect_error($res, 401, "deleted instance's token refused on node $on");
}

# rotation through ceadmin: the old secrets stop working on both nodes at once
for my $node (undef, $b) {
    expect_ok(api(GET => 'instances', auth => $t, ($node ? (node => $node) : ())),
              'before rotation: node ' . ($node ? 'B' : 'A'));
}
my $old_user = { %$t };
rotate_user($t);
for my $node (undef, $b) {
    my $on = $node ? 'B' : 'A';
    expect_error(api(GET => 'instances', auth => $old_user, ($node ? (node => $node) : ())),
                 401, "rotated user secret refused on node $on");
    expect_ok(api(GET => 'instances', auth => $t, ($node ? (node => $node) : ())),
              "new user secret accepted on node $on");
}
my $old_org = { %$t };
rotate_org($t);
for my $node (undef, $b) {
    my $on = $node ? 'B' : 'A';
    expect_error(api(GET => 'instances', auth => $old_org, ($node ? (node => $node) : ())),
                 401, "rotated organization secret refused on node $on");
    expect_ok(api(GET => 'instances', auth => $t, ($node ? (node => $node) : ())),
              "new organization secret accepted on node $on");
}

done_testing;
