# 21-cross-tenant: two organizations with two users each; every user creates
# instances (under /instances, /elements/{key}/instances and
# /elements/{id}/instances), then every user tries every endpoint against
# every instance that is not theirs, by every path that reaches it:
#
#   GET/PUT/PATCH/DELETE /instances/{id}, GET /instances/{id}/configuration,
#   GET/PATCH /instances/{id}/configuration/{configId},
#   PUT/DELETE /instances/{id}/enabled — and the same under
#   /elements/{key}/instances/{id} and /elements/{elementId}/instances/{id};
#   lists (with tags[] filters naming the others' tags, scoped, paged);
#   the other's instance token as "Element" in the Authorization header.
#
# Zero successes: 404 for by-id access (never 403, never 200), 401 for a
# foreign Element token, lists with nothing but one's own; no error body
# names another's instance, token, tag or configuration value; nothing is
# written; afterwards every owner reads its instances exactly as created.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $orgA = uniq_name('Cross A');
my $orgB = uniq_name('Cross B');
my $a1 = signup(org => $orgA, first => 'Alice', last => 'One');
my $a2 = add_user($a1, first => 'Alan', last => 'Two');
my $b1 = signup(org => $orgB, first => 'Bob', last => 'One');
my $b2 = add_user($b1, first => 'Beth', last => 'Two');
my @users = ([a1 => $a1], [a2 => $a2], [b1 => $b1], [b2 => $b2]);
my %user = map { $_->[0] => $_->[1] } @users;

# Each user: three instances, made by the three create routes, each with
# values found nowhere else (to spot a leak).
my(%own, %needles);
for my $u (@users) {
    my($label, $t) = @$u;
    my $mark = lc uniq_name("$label-mark");
    my @made = (
        create_instance($t, 'jira', name => "$label jira $mark", tags => ["$mark-tag", 'common'],
                        configuration => { 'jira.username' => "$mark-username",
                                           'jira.password' => "$mark-password",
                                           'jira.api.url'  => "https://$mark.example" }),
        create_instance($t, 'sfdc', _path => 'elements/sfdc/instances', element => undef,
                        name => "$label sfdc $mark", tags => ["$mark-sfdc", 'common'],
                        configuration => { 'oauth.callback.url' => "https://$mark.cb.example",
                                           'oauth.api.key'      => "$mark-apikey",
                                           'oauth.api.secret'   => "$mark-apisecret" }),
        create_instance($t, 'amazons3', _path => 'elements/16/instances', element => undef,
                        name => "$label s3 $mark", tags => ['common'],
                        configuration => { 'filemanagement.provider.access_key'  => "$mark-AKIA",
                                           'filemanagement.provider.secret_key'  => "$mark-s3secret",
                                           'filemanagement.provider.bucket_name' => "$mark-bucket",
                                           'filemanagement.provider.region_name' => 'us-east-1' }),
    );
    BAIL_OUT("could not create ${label}'s instances") if grep { !$_ } @made;
    $own{$label} = \@made;
    # What must never appear in an answer to anyone else: names, tokens, tags
    # and every configuration value we set (plain or secret), the user.
    $needles{$label} = [$mark, (map { ($_->{name}, $_->{token}) } @made), $t->{email}];
}
for my $label (keys %own) {
    is scalar(@{ $own{$label} }), 3, "$label has three instances";
}

# Per instance: its configuration entries (ids of the first and the last).
my(%config, %owner_view);
for my $u (@users) {
    my($label, $t) = @$u;
    for my $i (@{ $own{$label} }) {
        my $res = api(GET => "instances/$i->{id}/configuration", auth => $t);
        expect_ok($res, "$label: own configuration of $i->{id}");
        $config{ $i->{id} } = $res->list;
        $owner_view{ $i->{id} } = $res->json;
    }
}

sub own_ids { my $l = shift; [sort { $b <=> $a } map { $_->{id} } @{ $own{$l} }] }

# One assertion: $res's body names nothing of $victim.
sub no_leak {
    my($res, $victim, $name) = @_;
    my $body = $res->content // '';
    my @hit = grep { index($body, $_) >= 0 } @{ $needles{$victim} };
    ok !@hit, "$name: nothing of $victim in the answer" or diag 'leaked: ' . join(', ', @hit);
}

# ---------------------------------------------------------------- lists

for my $u (@users) {
    my($label, $t) = @$u;
    my $mine = own_ids($label);
    for my $q ('instances', 'instances?pageSize=500', 'instances?tags[]=common',
               'instances?tags%5B%5D=common&pageSize=1000') {
        my $res = api(GET => $q, auth => $t);
        expect_ok($res, "$label: GET /$q");
        is_deeply ids_of($res->json), $mine, "$label: GET /$q lists exactly their own";
    }
    my %by_key = map { $_->{element}{key} => $_->{id} } @{ $own{$label} };
    for my $scope (['jira', 'jira'], ['1', 'jira'], ['sfdc', 'sfdc'], ['23', 'sfdc'],
                   ['amazons3', 'amazons3'], ['16', 'amazons3']) {
        my($ref, $key) = @$scope;
        my $res = api(GET => "elements/$ref/instances?tags[]=common", auth => $t);
        expect_ok($res, "$label: GET /elements/$ref/instances");
        is_deeply ids_of($res->json), [$by_key{$key}], "$label: /elements/$ref/instances lists their own only";
    }
    # Filters naming the others' tags.
    for my $v (grep { $_->[0] ne $label } @users) {
        my $victim = $v->[0];
        for my $tag (map { @{ $_->{tags} } } @{ $own{$victim} }) {
            next if $tag eq 'common';
            for my $q ("instances?tags[]=$tag", "instances?tags[]=$tag&tags[]=common",
                       "elements/jira/instances?tags[]=$tag", "elements/23/instances?tags[]=$tag") {
                my $res = api(GET => $q, auth => $t);
                expect_ok($res, "$label: GET /$q ($victim\'s tag)");
                is_deeply ids_of($res->json), [], "$label: GET /$q shows nothing";
                no_leak($res, $victim, "$label: GET /$q");
            }
        }
    }
    # Paging through one's own with pageSize=1 never reaches another's.
    my(@seen, $next);
    for (1 .. 5) {
        my $res = api(GET => 'instances?tags[]=common&pageSize=1' . (defined $next ? "&nextPage=$next" : ''),
                      auth => $t);
        push @seen, @{ ids_of($res->json) };
        $next = $res->header('Elements-Next-Page-Token');
        last unless defined $next;
    }
    is_deeply \@seen, $mine, "$label: pages of 1 are their own, in order, and end";
}

# Another user's page token shows none of theirs.
for my $u (@users) {
    my($label, $t) = @$u;
    my $res = api(GET => 'instances?pageSize=1', auth => $t);
    my $next = $res->header('Elements-Next-Page-Token');
    ok defined $next, "$label: a page token";
    for my $v (grep { $_->[0] ne $label } @users) {
        my $r2 = api(GET => 'instances?pageSize=500&nextPage=' . ($next // ''), auth => $v->[1]);
        my %theirs = map { $_ => 1 } @{ own_ids($label) };
        ok !grep({ $theirs{$_} } @{ ids_of($r2->json) }), "$label\'s page token used by $v->[0] shows none of $label\'s";
        no_leak($r2, $label, "$v->[0] with $label\'s page token");
    }
}

# ---------------------------------------------------------------- by id

my(%status, $n);
for my $u (@users) {
    my($label, $t) = @$u;
    for my $v (grep { $_->[0] ne $label } @users) {
        my $victim = $v->[0];
        my $before = snapshot();
        for my $inst (@{ $own{$victim} }) {
            my $id = $inst->{id};
            my($key, $eid) = ($inst->{element}{key}, $inst->{element}{id});
            my @cfg = map { $_->{id} } @{ $config{$id} };
            my $steal = { name => 'stolen', tags => ['stolen'],
                          configuration => { map { $_->{key} => 'stolen' } @{ $config{$id} } } };
            for my $base ("instances/$id", "elements/$key/instances/$id", "elements/$eid/instances/$id") {
                for my $req (
                    [GET    => $base],
                    [PUT    => $base, $steal],
                    [PATCH  => $base, $steal],
                    [PUT    => $base, { %$steal, element => { key => $key } }],
                    [DELETE => $base],
                    [GET    => "$base/configuration"],
                    (map { ([GET => "$base/configuration/$_"],
                            [PATCH => "$base/configuration/$_", { propertyValue => 'stolen' }]) }
                         $cfg[0], $cfg[-1]),
                    [PUT    => "$base/enabled"],
                    [DELETE => "$base/enabled"],
                ) {
                    my($m, $p, $body) = @$req;
                    my $name = "$label -> $victim\'s instance: $m /$p";
                    my $res = api($m => $p, auth => $t, $body ? (json => $body) : ());
                    expect_error($res, 404, $name);
                    no_leak($res, $victim, $name);
                    $status{ $res->code }++;
                    $n++;
                }
            }
            # Their token as the Element of our own valid credentials.
            for my $req ([GET => 'instances'], [GET => "instances/$id"],
                         [GET => "instances/$own{$label}[0]{id}"],
                         [PATCH => "instances/$id", { name => 'stolen' }],
                         [DELETE => "instances/$id"]) {
                my($m, $p, $body) = @$req;
                my $name = "$label with $victim\'s Element token: $m /$p";
                my $res = api($m => $p, auth => auth($t, element => $inst->{token}),
                              $body ? (json => $body) : ());
                expect_error($res, 401, $name);
                no_leak($res, $victim, $name);
                $status{ $res->code }++;
                $n++;
            }
        }
        unchanged($before, "$label against $victim");
    }
}
is $status{200} // 0, 0, "zero successes across users and organizations ($n requests)";
is $status{403} // 0, 0, 'never 403';
is_deeply [sort { $a <=> $b } keys %status], [401, 404], 'only 404 (by id) and 401 (Element token)';

# ---------------------------------------------------------------- owners

for my $u (@users) {
    my($label, $t) = @$u;
    my $res = api(GET => 'instances', auth => $t);
    is_deeply ids_of($res->json), own_ids($label), "$label: still lists exactly their own";
    for my $inst (@{ $own{$label} }) {
        my $id = $inst->{id};
        $res = api(GET => "instances/$id", auth => $t);
        expect_ok($res, "$label: own instance $id");
        is_deeply $res->json, $inst, "$label: own instance $id exactly as created";
        is_deeply api(GET => "elements/$inst->{element}{key}/instances/$id", auth => $t)->json, $inst,
            "$label: own instance $id under /elements/$inst->{element}{key}";
        is_deeply api(GET => "instances/$id/configuration", auth => $t)->json, $owner_view{$id},
            "$label: own configuration of $id unchanged";
        expect_ok(api(GET => "instances/$id", auth => auth($t, element => $inst->{token})),
                  "$label: own Element token still works");
    }
}

done_testing;
