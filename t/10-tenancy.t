# 10-tenancy: an instance belongs to the user who created it inside their
# organization. Every other user — same organization or another — gets 404
# (never 403, never 200) on every path to it, never sees it listed, cannot
# use its token, and none of their attempts writes anything.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $a1 = signup(org => 'Tenant A');
my $a2 = add_user($a1, email => 'second-' . lc(uniq_name('a')) . '@example.com');
my $b1 = signup(org => 'Tenant B');
my @users = ([a1 => $a1], [a2 => $a2], [b1 => $b1]);

# Each user creates two instances, with the same tag everywhere.
my %own;
for my $u (@users) {
    my($name, $t) = @$u;
    $own{$name} = [map { create_instance($t, $_, name => "$name $_", tags => ['common']) } qw(jira sfdc)];
}

# Lists: exactly one's own, whatever the filter or scope.
for my $u (@users) {
    my($name, $t) = @$u;
    my @mine = sort { $b <=> $a } map { $_->{id} } @{ $own{$name} };
    for my $q ('instances', 'instances?tags[]=common', 'instances?pageSize=500') {
        my $res = api(GET => $q, auth => $t);
        expect_ok($res, "$name: GET /$q");
        is_deeply ids_of($res->json), \@mine, "$name: GET /$q shows only their own";
    }
    my $res = api(GET => 'elements/jira/instances', auth => $t);
    is_deeply ids_of($res->json), [$own{$name}[0]{id}], "$name: scoped list shows only their own";
}

# Every path to someone else's instance.
my $before = snapshot();
my(%status, $n);
for my $u (@users) {
    my($name, $t) = @$u;
    for my $o (@users) {
        next if $o->[0] eq $name;
        for my $inst (@{ $own{ $o->[0] } }) {
            my $id = $inst->{id};
            my $key = $inst->{element}{key};
            for my $req (
                [GET    => "instances/$id"],
                [PUT    => "instances/$id", { name => 'stolen' }],
                [PATCH  => "instances/$id", { name => 'stolen' }],
                [DELETE => "instances/$id"],
                [GET    => "instances/$id/configuration"],
                [GET    => "instances/$id/configuration/1"],
                [PATCH  => "instances/$id/configuration/1", { propertyValue => 'stolen' }],
                [PUT    => "instances/$id/enabled"],
                [DELETE => "instances/$id/enabled"],
                [GET    => "elements/$key/instances/$id"],
                [PUT    => "elements/$key/instances/$id", { name => 'stolen' }],
                [DELETE => "elements/$key/instances/$id"],
            ) {
                my($m, $p, $body) = @$req;
                my $res = api($m => $p, auth => $t, $body ? (json => $body) : ());
                expect_error($res, 404, "$name → $o->[0]'s instance: $m /$p");
                $status{ $res->code }++;
                $n++;
            }
            # Their token, even with our valid secrets.
            my $res = api(GET => 'instances', auth => auth($t, element => $inst->{token}));
            expect_error($res, 401, "$name with $o->[0]'s Element token");
            $status{ $res->code }++;
            $n++;
        }
    }
}
is $status{200} // 0, 0, "zero successes across tenants ($n requests)";
is $status{403} // 0, 0, 'never 403';
unchanged($before, 'cross-tenant attempts');

# The owners still have everything, unchanged.
for my $u (@users) {
    my($name, $t) = @$u;
    for my $inst (@{ $own{$name} }) {
        my $res = api(GET => "instances/$inst->{id}", auth => $t);
        expect_ok($res, "$name: own instance $inst->{id}");
        is_deeply $res->json, $inst, "$name: own instance $inst->{id} untouched";
        expect_ok(api(GET => 'instances', auth => auth($t, element => $inst->{token})),
                  "$name: own Element token");
    }
}

# Same organization does not mean shared: a2 cannot see a1's even by tag.
my $res = api(GET => 'instances?tags[]=common&pageSize=1', auth => $a2);
is_deeply ids_of($res->json), [$own{a2}[1]{id}], 'a2 page 1 (pageSize=1): own newest';
my $next = $res->header('Elements-Next-Page-Token');
$res = api(GET => "instances?tags[]=common&pageSize=1&nextPage=" . ($next // ''), auth => $a2);
is_deeply ids_of($res->json), [$own{a2}[0]{id}], 'a2 page 2: own oldest, nothing of a1';
ok !defined $res->header('Elements-Next-Page-Token'), 'a2 page 2: no further page';

# A page token minted for one user does not reveal another's instances.
$res = api(GET => 'instances?pageSize=1', auth => $a1);
$next = $res->header('Elements-Next-Page-Token');
$res = api(GET => "instances?pageSize=500&nextPage=" . ($next // ''), auth => $b1);
ok((!grep { my $id = $_; grep { $_->{id} == $id } @{ $own{a1} } } @{ ids_of($res->json) }),
   "a1's page token used by b1 shows none of a1's instances");

done_testing;
