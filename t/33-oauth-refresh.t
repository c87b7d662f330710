# 33-oauth-refresh: access tokens refreshed before they expire, by the
# module's background job (mod_watchdog), against the suite's real
# authorization server with 2-second access tokens whose refresh tokens
# rotate on every use: the provider sees one refresh per expiry per
# instance (a second use of a rotated refresh token would be refused and
# counted), no token expires unrefreshed, and no instance loses its tokens.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes ();
use URI ();
use Apache::Test qw(-withtestmore);
use CETest;

plan skip_all => 'no OAuth 2 server (scripts/test.sh starts one)' unless oauth_url();

my $t = signup();
my $fast = oauth_client('ce-fast');
my $TTL = 2;         # the provider's access token lifetime for ce-fast (s)
my $WATCH = 12;      # seconds watched
my $N = 4;           # instances

my $errors0 = scalar @{ oauth_stats()->{errors} };
my(@ids, %first);
for my $i (1 .. $N) {
    my $res = api(POST => 'instances', auth => $t,
                  json => { element => { key => 'dropbox' }, name => "fast $i",
                            providerData => { code => oauth_code_for($t, client => 'ce-fast') }, configuration => $fast });
    expect_ok($res, "create instance $i with a code");
    push @ids, $res->json->{id};
    is $res->json->{configuration}{'oauth.user.refresh_interval'}, "$TTL", "instance $i: expires_in $TTL";
    $first{ $res->json->{id} } = stored_config($res->json->{id});
}
my $t0 = Time::HiRes::time();
sleep $WATCH;

my $stats = oauth_stats();
my @refreshes = grep { $_->{client} eq 'ce-fast' && $_->{at} / 1000 >= $t0 - 1 } @{ $stats->{refreshes} };
my %by_grant;
push @{ $by_grant{ $_->{grantId} } }, $_->{at} for @refreshes;
is scalar(keys %by_grant), $N, "the provider saw refreshes of all $N grants";
my $expected = int($WATCH / ($TTL * 0.75));    # refreshed a quarter of the lifetime early
for my $g (sort keys %by_grant) {
    my @at = sort { $a <=> $b } @{ $by_grant{$g} };
    my @gaps = map { ($at[$_] - $at[$_ - 1]) / 1000 } 1 .. $#at;
    my($min, $max) = (sort { $a <=> $b } @gaps)[0, -1];
    note sprintf 'grant %.8s: %d refreshes, gaps %.2f..%.2f s', $g, scalar @at, $min // 0, $max // 0;
    ok @at >= $expected - 2 && @at <= $expected + 2,
        "grant: about one refresh per ${TTL}s lifetime (" . scalar(@at) . ", expected ~$expected)";
    ok defined $max && $max < $TTL, "grant: each refresh before the token it replaces expired (max gap ${\($max // 'none')})";
    ok defined $min && $min > $TTL * 0.5, "grant: never two refreshes of one token (min gap ${\($min // 'none')})";
}
my @errors = @{ $stats->{errors} }[$errors0 .. $#{ $stats->{errors} }];
is scalar(@errors), 0, 'the provider refused nothing (no refresh token used twice)'
    or diag explain \@errors;

for my $id (@ids) {
    my $i = api(GET => "instances/$id", auth => $t)->json;
    ok is_json_true($i->{valid}), "instance $id: valid";
    my $now = stored_config($id);
    ok length($now->{'oauth.user.refresh_token'} // ''), "instance $id: has its refresh token";
    isnt $now->{'oauth.user.refresh_token'}, $first{$id}{'oauth.user.refresh_token'},
        "instance $id: the rotated refresh token is the one kept";
    cmp_ok $now->{'oauth.user.refresh_time'}, '>', $first{$id}{'oauth.user.refresh_time'},
        "instance $id: refresh_time moved";
}

# The rest of the suite (and every node on this database) need not keep
# refreshing these every 1.5 s.
expect_ok(api(DELETE => "instances/$_", auth => $t), "delete instance $_", empty => 1) for @ids;

done_testing;
