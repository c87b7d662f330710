# 04-read-list: GET /instances and GET /instances/{id}. Newest first;
# pageSize (default 200, max 500, < 1 or non-numeric → 400) and nextPage with
# the Elements-Next-Page-Token header only when another page exists; tags[]
# filters (repeatable, all must match); bad tokens → 400.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();
my $TOKEN = 'Elements-Next-Page-Token';

sub list {
    my($query, $name) = @_;
    my $res = api(GET => 'instances' . (length $query ? "?$query" : ''), auth => $t);
    expect_ok($res, $name);
    is ref $res->json, 'ARRAY', "$name: an array";
    return $res;
}

# A new user has no instances.
my $res = list('', 'empty account');
is_deeply $res->json, [], 'empty account: []';
ok !defined $res->header($TOKEN), 'empty account: no next page token';

# Seven instances, with tags to filter on.
my @tags = (['a', 'b'], ['a'], ['b'], [], ['a b'], ['d'], ['a', 'b', 'c']);
my @made = map { create_instance($t, $_ % 2 ? 'jira' : 'sfdc', tags => $tags[$_], name => "i$_") } 0 .. 6;
my @ids = map { $_ ? $_->{id} : 0 } @made;
my @newest = reverse @ids;
ok $ids[$_] > $ids[$_ - 1], "ids increase ($_)" for 1 .. 6;

$res = list('', 'all');
is_deeply ids_of($res->json), \@newest, 'newest first';
ok !defined $res->header($TOKEN), 'all fit: no next page token';
my $i = 0;
for my $inst (@{ $res->list }) {
    expect_instance($inst, "list entry $i", user => $t);
    my $one = api(GET => "instances/$inst->{id}", auth => $t);
    expect_ok($one, "GET /instances/$inst->{id}");
    is_deeply $one->json, $inst, "GET /instances/$inst->{id} equals its list entry";
    $i++;
}
is_deeply [map { $_->{name} } @{ $res->list }], [map { "i$_" } reverse 0 .. 6], 'names, newest first';

# Pages of three: 3 + 3 + 1.
my(@seen, $page, $next);
$res = list('pageSize=3', 'page 1 of 3');
push @seen, @{ ids_of($res->json) };
is scalar @{ $res->list }, 3, 'page 1: 3 instances';
$next = $res->header($TOKEN);
ok defined $next && length $next, 'page 1: next page token';
like $next // '', qr/^[A-Za-z0-9_=-]+$/, 'page 1: token is URL-safe';
$res = list("pageSize=3&nextPage=$next", 'page 2 of 3');
push @seen, @{ ids_of($res->json) };
is scalar @{ $res->list }, 3, 'page 2: 3 instances';
$next = $res->header($TOKEN);
ok defined $next && length $next, 'page 2: next page token';
$res = list("nextPage=$next&pageSize=3", 'page 3 of 3');
push @seen, @{ ids_of($res->json) };
is scalar @{ $res->list }, 1, 'page 3: 1 instance';
ok !defined $res->header($TOKEN), 'page 3: no next page token';
is_deeply \@seen, \@newest, 'pages together: every instance once, newest first';

# Exactly one page's worth: no token; one fewer: a token and one more.
$res = list('pageSize=7', 'pageSize=7');
is scalar @{ $res->list }, 7, 'pageSize=7: all';
ok !defined $res->header($TOKEN), 'pageSize=7: no next page token';
$res = list('pageSize=6', 'pageSize=6');
is scalar @{ $res->list }, 6, 'pageSize=6: six';
$next = $res->header($TOKEN);
ok defined $next, 'pageSize=6: next page token';
$res = list("pageSize=6&nextPage=$next", 'pageSize=6 page 2');
is_deeply ids_of($res->json), [$ids[0]], 'pageSize=6 page 2: the oldest';
ok !defined $res->header($TOKEN), 'pageSize=6 page 2: no next page token';
$res = list('pageSize=1', 'pageSize=1');
is_deeply ids_of($res->json), [$ids[6]], 'pageSize=1: the newest';

# An instance created between pages does not disturb the next page.
$res = list('pageSize=4', 'pageSize=4 before a create');
$next = $res->header($TOKEN);
my $late = create_instance($t, 'jira', name => 'late');
$res = list("pageSize=4&nextPage=$next", 'pageSize=4 page 2 after a create');
is_deeply ids_of($res->json), [@ids[2, 1, 0]], 'keyset pagination: page 2 unchanged by a new instance';
api(DELETE => "instances/$late->{id}", auth => $t) if $late;

# Tag filters.
my %want = (
    'tags[]=a'                       => [@ids[6, 1, 0]],
    'tags%5B%5D=a'                   => [@ids[6, 1, 0]],
    'tags[]=b'                       => [@ids[6, 2, 0]],
    'tags[]=a&tags[]=b'              => [@ids[6, 0]],
    'tags%5B%5D=b&tags%5B%5D=a'      => [@ids[6, 0]],
    'tags[]=a&tags[]=b&tags[]=c'     => [$ids[6]],
    'tags[]=a%20b'                   => [$ids[4]],
    'tags[]=a+b'                     => [$ids[4]],
    'tags[]=d'                       => [$ids[5]],
    'tags[]=c&tags[]=a'              => [$ids[6]],
    'tags[]=zzz'                     => [],
    'tags[]=a&tags[]=zzz'            => [],
);
for my $q (sort keys %want) {
    $res = list($q, "GET /instances?$q");
    is_deeply ids_of($res->json), $want{$q}, "$q: the matching instances, newest first";
    ok !defined $res->header($TOKEN), "$q: no next page token";
}
# Filters and pages together.
$res = list('tags[]=a&pageSize=2', 'tags[]=a pageSize=2');
is_deeply ids_of($res->json), [@ids[6, 1]], 'tags[]=a page 1';
$next = $res->header($TOKEN);
ok defined $next, 'tags[]=a page 1: next page token';
$res = list("tags[]=a&pageSize=2&nextPage=$next", 'tags[]=a pageSize=2 page 2');
is_deeply ids_of($res->json), [$ids[0]], 'tags[]=a page 2';
ok !defined $res->header($TOKEN), 'tags[]=a page 2: no next page token';
$res = list('tags[]=a&tags[]=b&pageSize=1', 'two tags pageSize=1');
is_deeply ids_of($res->json), [$ids[6]], 'two tags page 1';
$next = $res->header($TOKEN);
ok defined $next, 'two tags page 1: next page token (one more matches)';
$res = list("tags[]=a&tags[]=b&pageSize=1&nextPage=$next", 'two tags page 2');
is_deeply ids_of($res->json), [$ids[0]], 'two tags page 2';
ok !defined $res->header($TOKEN), 'two tags page 2: no next page token (none left)';

# pageSize above the maximum is clamped, not refused.
$res = list('pageSize=501', 'pageSize=501');
is scalar @{ $res->list }, 7, 'pageSize=501: clamped, all shown';
$res = list('pageSize=100000000000000000000', 'huge pageSize');
is scalar @{ $res->list }, 7, 'huge pageSize: clamped, all shown';

# Bad query parameters.
my $before = snapshot();
for my $q ('pageSize=0', 'pageSize=-1', 'pageSize=abc', 'pageSize=1.5', 'pageSize=', 'pageSize=3x',
           'nextPage=garbage', 'nextPage=%25%25', 'nextPage=aTph',
           'pageSize=2&nextPage=!!') {
    expect_error(api(GET => "instances?$q", auth => $t), 400, "GET /instances?$q");
}
unchanged($before, 'bad query parameters');

# Default page size 200, maximum 500: a second user with 501 instances.
my $big = add_user($t);
my $body = { element => { key => 'jira' }, configuration => valid_config('jira') };
my $fails = 0;
for my $n (1 .. 501) {
    my $r = api(POST => 'instances', auth => $big, json => { %$body, name => "bulk $n" });
    $fails++ unless $r->code == 200;
}
is $fails, 0, '501 instances created';
$res = api(GET => 'instances', auth => $big);
expect_ok($res, 'default page size');
is scalar @{ $res->list }, 200, 'default pageSize is 200';
ok defined $res->header($TOKEN), 'default page: next page token';
is $res->list->[0]{name}, 'bulk 501', 'default page starts with the newest';
$res = api(GET => 'instances?pageSize=1000', auth => $big);
expect_ok($res, 'pageSize=1000');
is scalar @{ $res->list }, 500, 'pageSize=1000 is clamped to 500';
$next = $res->header($TOKEN);
ok defined $next, 'pageSize=1000: next page token';
$res = api(GET => "instances?pageSize=1000&nextPage=$next", auth => $big);
expect_ok($res, 'last page');
is_deeply [map { $_->{name} } @{ $res->list }], ['bulk 1'], 'last page: the oldest';
ok !defined $res->header($TOKEN), 'last page: no next page token';
# The other user in the organization sees none of them.
$res = list('pageSize=500', 'first user after the bulk');
is scalar @{ $res->list }, 7, 'first user still sees only their own 7';

# A query value that does not decode is refused, never dropped (a dropped
# tags[] value would list every instance).
for my $case (['tags%5B%5D=%zz', 'tags[]'], ['tags[]=qa%00', 'tags[]'],
              ['pageSize=5%00', 'pageSize'], ['nextPage=%zz', 'nextPage'],
              ['tags[]=prod&tags[]=%e', 'tags[]']) {
    my($query, $name) = @$case;
    $res = api(GET => "instances?$query", auth => $t);
    expect_error($res, 400, "GET instances?$query");
    is $res->json->{message}, "Query parameter $name does not decode (a bad %-escape or %00)",
        "GET instances?$query: names the parameter";
}
$res = api(GET => 'instances?%zz=1', auth => $t);
expect_error($res, 400, 'a query name that does not decode');

done_testing;
