# 42-events: the event log (issue 14). Every write of an instance records
# one event in its own transaction: CREATED, UPDATED, DISABLED, ENABLED,
# DELETED (REAUTHENTICATED and the refresh events are t/33's and t/34's
# business); a refused write records none. The log answers the caller's
# events newest first, a page at a time, one by its id, never another
# tenant's; a deleted instance's events stay; secrets are masked and the
# instance's token is not in them; only a FAILED event can be sent again.
# (t/13-concurrency.t checks one event per acknowledged change under load.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $TOKEN = 'Elements-Next-Page-Token';
my $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
my $DATE = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

my $t = signup();
my $other = signup();
my $inst = create_instance($t, 'jira');
my $id = $inst->{id};
remember_secrets($inst->{token});

sub types { [map { $_->{eventType} } @{ api(GET => $_[0], auth => $_[1] // $t)->list }] }

# ---------------------------------------------------------------- one per write
my $res = api(GET => "instances/$id/events", auth => $t);
expect_ok($res, 'the log of a new instance');
is scalar(@{ $res->list }), 1, 'one event';
my $ev = $res->list->[0];
is_deeply [sort keys %$ev],
    [sort qw(eventId instanceId elementKey eventType eventDate instance status attempts lastError)],
    'an event\'s fields';
like $ev->{eventId}, $UUID, 'eventId: a UUID of version 7';
is $ev->{instanceId}, $id, 'instanceId';
is $ev->{elementKey}, 'jira', 'elementKey';
is $ev->{eventType}, 'CREATED', 'eventType CREATED';
like $ev->{eventDate}, $DATE, 'eventDate';
is $ev->{instance}{id}, $id, 'the instance as the API shows it';
ok !exists $ev->{instance}{token}, 'without its token';
is $ev->{instance}{configuration}{'jira.password'}, '********', 'its secrets masked';
unlike $res->content, qr/\Q$inst->{token}\E/, 'the token nowhere in the answer';
is $ev->{status}, 'DISABLED', 'status DISABLED: the instance asks for no notifications';
is $ev->{attempts}, 0, 'attempts 0';
is $ev->{lastError}, '', 'lastError empty';
is $res->header('Elements-Returned-Count'), 1, 'Elements-Returned-Count';

expect_ok(api(PATCH => "instances/$id", auth => $t, json => { name => 'renamed' }), 'rename');
expect_ok(api(DELETE => "instances/$id/enabled", auth => $t), 'disable', empty => 1);
expect_ok(api(PUT => "instances/$id/enabled", auth => $t), 'enable', empty => 1);
is_deeply types("instances/$id/events"), [qw(ENABLED DISABLED UPDATED CREATED)],
    'rename, disable, enable: one event each, newest first';
{
    # A version 7 id begins with its creation time (ms): ids sort by age,
    # and the time is the event's date.
    my @evs = @{ api(GET => "instances/$id/events", auth => $t)->list };
    my @ids = map { $_->{eventId} } @evs;
    is_deeply [reverse sort @ids], \@ids, 'eventIds sort as the events were made';
    my ($hex) = join('', (split /-/, $evs[0]{eventId})[0, 1]);
    my ($d, $ms) = $evs[0]{eventDate} =~ /^(.*)\.(\d{3})Z$/;
    require Time::Local;
    my @t = reverse split /[-T:]/, $d;
    $t[4]--;
    my $date_ms = Time::Local::timegm(@t) * 1000 + $ms;
    cmp_ok abs(hex($hex) - $date_ms), '<', 1000, 'an eventId\'s time is its eventDate';
}
is api(GET => "instances/$id/events", auth => $t)->list->[0]{instance}{name}, 'renamed',
    'an event shows the instance as written';

# Refused writes record nothing.
my $before = snapshot();
expect_error(api(PATCH => "instances/$id", auth => $t, json => { name => '' }), 400, 'an empty name');
expect_error(api(PATCH => "instances/$id", auth => $t, json => { name => 'x' },
                 headers => { 'If-Match' => '"stale"' }), 412, 'a stale If-Match');
expect_error(api(PATCH => "instances/$id", auth => $other, json => { name => 'x' }), 404,
             'another tenant\'s write');
unchanged($before, 'refused writes');
is_deeply types("instances/$id/events"), [qw(ENABLED DISABLED UPDATED CREATED)],
    'refused writes: no event';

expect_ok(api(DELETE => "instances/$id", auth => $t), 'delete', empty => 1);
is_deeply types("instances/$id/events"), [qw(DELETED ENABLED DISABLED UPDATED CREATED)],
    'a deleted instance\'s events stay, DELETED the newest';

# ---------------------------------------------------------------- reading the log
my $all = api(GET => 'instances/events', auth => $t)->list;
is scalar(@$all), 5, 'GET /instances/events: the caller\'s events';
my $last = $all->[0];
$res = api(GET => "instances/events/$last->{eventId}", auth => $t);
expect_ok($res, 'one event by its id');
is_deeply $res->json, $last, 'the same event';
expect_ok(api(GET => "instances/$id/events/$last->{eventId}", auth => $t),
          'by its id under its instance');
my $mine = create_instance($t, 'jira');
expect_error(api(GET => "instances/$mine->{id}/events/$last->{eventId}", auth => $t), 404,
             'by its id under another instance');
expect_error(api(GET => 'instances/events/no-such-event', auth => $t), 404, 'an unknown id');

# Another tenant sees none of it.
is_deeply types('instances/events', $other), [], 'another tenant: no events of ours';
is_deeply types("instances/$id/events", $other), [], 'another tenant: not under our instance';
expect_error(api(GET => "instances/events/$last->{eventId}", auth => $other), 404,
             'another tenant: not by its id');
expect_error(api(PUT => "instances/events/$last->{eventId}/redeliver", auth => $other), 404,
             'another tenant: not sent again');
expect_error(api(GET => 'instances/events', auth => 'User x, Organization y'), 401,
             'no credentials: 401');

# Only a FAILED event is sent again.
$res = api(PUT => "instances/events/$last->{eventId}/redeliver", auth => $t);
expect_error($res, 409, 'redeliver a DISABLED event', message => qr/FAILED/);

# Pages: pageSize and nextPage, as the instance list.
expect_ok(api(PATCH => "instances/$mine->{id}", auth => $t, json => { name => "n$_" }), "rename $_")
    for 1 .. 4;
my(@paged, $next, $pages);
while (1) {
    $res = api(GET => 'instances/events?pageSize=3' . (defined $next ? "&nextPage=$next" : ''),
               auth => $t);
    last unless $res->code == 200 and ++$pages < 20;
    push @paged, @{ $res->list };
    $next = $res->header($TOKEN);
    last unless defined $next;
}
$all = api(GET => 'instances/events?pageSize=500', auth => $t)->list;
is scalar(@$all), 10, '10 events in all';
is_deeply [map { $_->{eventId} } @paged], [map { $_->{eventId} } @$all],
    "paged by 3 ($pages pages): the same events in the same order, none twice";
expect_error(api(GET => 'instances/events?pageSize=0', auth => $t), 400, 'pageSize=0');
expect_error(api(GET => 'elements/jira/instances/events', auth => $t), 404,
             'not under an element');

done_testing;
