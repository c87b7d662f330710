# 02-auth: the Authorization header. "User <secret>, Organization <secret>"
# authenticates; anything missing, malformed, unknown, rotated or mismatched
# is 401 JSON, and a rejected request writes nothing. ", Element <token>" is
# accepted only for one of the caller's live instances. Every 401 carries
# WWW-Authenticate: User realm="..." (expect_error checks it on each).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $ta = signup();
my $tb = signup();
my $u = $ta->{user_secret};
my $o = $ta->{org_secret};

# ceadmin's output: what the suite relies on.
like $ta->{org_id}, qr/^[1-9]\d*$/, 'signup: organization id';
like $ta->{user_id}, qr/^[1-9]\d*$/, 'signup: user id';
like $ta->{user_secret}, qr{^[A-Za-z0-9+/]{43}=$}, 'signup: user secret, base64 of 32 bytes';
like $ta->{org_secret}, qr{^[A-Za-z0-9+/]{43}=$}, 'signup: organization secret, base64 of 32 bytes';
isnt $ta->{user_secret}, $tb->{user_secret}, 'secrets differ between signups';
ok !db_contains($ta->{user_secret}) && !db_contains($ta->{org_secret}),
    'secrets are not stored in plaintext';
my $orgs = ceadmin('list-orgs')->{organizations} || [];
ok scalar(grep { $_->{id} == $ta->{org_id} && $_->{name} eq $ta->{org_name} } @$orgs),
    'list-orgs shows the new organization';

expect_ok(api(GET => 'instances', auth => $ta), 'valid secrets');
ok !defined api(GET => 'instances', auth => $ta)->header('WWW-Authenticate'),
    'no WWW-Authenticate on an answer that is not 401';
is api(GET => 'instances')->header('WWW-Authenticate'),
    'User realm="Cloud Elements Instances API"',
    'a 401 names the scheme of the Authorization header (User ..., Organization ...)';

# Forms the header grammar accepts (ce_auth.h): any order, case-insensitive
# names, optional spaces around commas.
for my $h ("Organization $o, User $u", "user $u, organization $o", "User $u,Organization $o",
           "User $u ,  Organization $o") {
    expect_ok(api(GET => 'instances', auth => $h), "accepted: '" . mask($h) . "'");
}

my $before = snapshot();
my %bad = (
    'no header'                   => undef,
    'empty'                       => '',
    'Basic scheme'                => 'Basic dXNlcjpwYXNz',
    'Bearer scheme'               => "Bearer $u",
    'user only'                   => "User $u",
    'organization only'           => "Organization $o",
    'empty values'                => 'User , Organization ',
    'user twice'                  => "User $u, User $u, Organization $o",
    'unknown part'                => "User $u, Organization $o, Foo bar",
    'missing comma'               => "User $u Organization $o",
    'value with space'            => "User $u x, Organization $o",
    'unknown user secret'         => "User AAAA$u, Organization $o",
    'unknown organization secret' => "User $u, Organization AAAA$o",
    'secrets swapped'             => "User $o, Organization $u",
    "user of A, org secret of B"  => "User $u, Organization $tb->{org_secret}",
    "user of B, org secret of A"  => "User $tb->{user_secret}, Organization $o",
    'overlong'                    => "User " . ('A' x 2000) . ", Organization $o",
    'unknown Element token'       => "User $u, Organization $o, Element " . ('A' x 43) . '=',
    'empty Element token'         => "User $u, Organization $o, Element ",
);
for my $case (sort keys %bad) {
    for my $req (['GET', 'instances'], ['POST', 'instances'], ['GET', 'elements'],
                 ['DELETE', 'instances/1']) {
        my($m, $p) = @$req;
        my %o = (auth => $bad{$case});
        $o{json} = { element => { key => 'jira' }, name => 'x', configuration => valid_config('jira') }
            if $m eq 'POST';
        expect_error(api($m => $p, %o), 401, "$case: $m /$p");
    }
}
unchanged($before, 'rejected credentials');

# Rotation: the old secret stops working at once, the new one works.
my $old = { %$ta };
rotate_user($ta);
isnt $ta->{user_secret}, $old->{user_secret}, 'rotate-user: a new secret';
expect_error(api(GET => 'instances', auth => $old), 401, 'rotated user secret');
expect_ok(api(GET => 'instances', auth => $ta), 'new user secret');

my $ta2 = add_user($ta);
$old = { %$ta };
rotate_org($ta);
$ta2->{org_secret} = $ta->{org_secret};
expect_error(api(GET => 'instances', auth => $old), 401, 'rotated organization secret');
expect_error(api(GET => 'instances', auth => { %$ta2, org_secret => $old->{org_secret} }), 401,
             'rotated organization secret, second user');
expect_ok(api(GET => 'instances', auth => $ta), 'new organization secret');
expect_ok(api(GET => 'instances', auth => $ta2), 'new organization secret, second user');

# Element tokens: one of the caller's live instances only.
my $mine = create_instance($ta, 'jira');
my $theirs = create_instance($tb, 'jira');
my $other_user = create_instance($ta2, 'jira');
expect_ok(api(GET => 'instances', auth => auth($ta, element => $mine->{token})),
          'Element token of own instance');
expect_ok(api(GET => "instances/$mine->{id}", auth => auth($ta, element => $mine->{token})),
          'Element token of own instance, GET it');
$before = snapshot();
expect_error(api(GET => 'instances', auth => auth($ta, element => $theirs->{token})), 401,
             "Element token of another organization's instance");
expect_error(api(GET => 'instances', auth => auth($ta, element => $other_user->{token})), 401,
             "Element token of another user's instance in the same organization");
expect_error(api(PUT => "instances/$mine->{id}", auth => auth($ta, element => $theirs->{token}),
                 json => { name => 'hijacked' }), 401, 'PUT with a foreign Element token');
unchanged($before, 'foreign Element tokens');
expect_ok(api(DELETE => "instances/$mine->{id}", auth => $ta), 'delete own instance', empty => 1);
expect_error(api(GET => 'instances', auth => auth($ta, element => $mine->{token})), 401,
             'Element token of a deleted instance');

sub mask { my $h = shift; $h =~ s{[A-Za-z0-9+/=]{20,}}{<secret>}g; $h }

done_testing;
