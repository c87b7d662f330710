# 01-elements: the catalog endpoints. GET /elements lists every element of
# conf/elements.json; GET /elements/{key or id} adds its configuration specs;
# unknown elements are 404; only GET is allowed; callers must authenticate.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();
my $catalog = catalog()->{elements};

# The seven elements the seeds name, with their ids.
my %SEED = (amazons3 => 16, jira => 1, epages => 1595, dropbox => 14, box => 22,
            sfdc => 23, sfdcservicecloud => 29);

my $res = api(GET => 'elements', auth => $t);
expect_ok($res, 'GET /elements');
is ref $res->json, 'ARRAY', 'GET /elements: an array';
my $list = $res->list;
is scalar @$list, scalar @$catalog, 'every catalog element listed';
is_deeply [map { $_->{key} } @$list], [map { $_->{key} } @$catalog],
    'in catalog order';
for my $key (sort keys %SEED) {
    my($e) = grep { $_->{key} eq $key } @$list;
    is $e && $e->{id}, $SEED{$key}, "GET /elements: $key has id $SEED{$key}";
}
for my $i (0 .. $#$list) {
    my $e = $list->[$i];
    my %shown = map { $_ => $e->{$_} } grep { $_ ne 'configuration' } keys %$e;
    is_deeply \%shown, expected_element($e->{key}), "GET /elements: $e->{key} fields";
    ok is_json_number($res, $i, 'id'), "GET /elements: $e->{key} id is a JSON number";
}

# One element, by key and by id: the same object, with its configuration specs.
for my $key (qw(amazons3 jira epages dropbox box sfdc sfdcservicecloud)) {
    my $cat = catalog_element($key);
    my $by_key = api(GET => "elements/$key", auth => $t);
    expect_ok($by_key, "GET /elements/$key");
    my $e = ref $by_key->json eq 'HASH' ? $by_key->json : {};
    my %shown = map { $_ => $e->{$_} } grep { $_ ne 'configuration' } keys %$e;
    is_deeply \%shown, expected_element($key), "GET /elements/$key: element fields";
    my @want = map {
        my $s = $_;
        +{ key => $s->{key}, name => $s->{name} // $s->{key}, type => $s->{type},
           required => $s->{required} ? json_true() : json_false(),
           defaultValue => exists $s->{defaultValue} ? $s->{defaultValue} : undef,
           description => $s->{description} // '' }
    } @{ $cat->{configuration} || [] };
    my @got = map { my $s = $_; +{ map { $_ => $s->{$_} }
                    qw(key name type required defaultValue description) } }
              @{ specs($e) };
    is_deeply \@got, \@want, "GET /elements/$key: configuration specs, in catalog order";
    my $bad = grep { !JSON::PP::is_bool($_->{required}) } @{ specs($e) };
    is $bad, 0, "GET /elements/$key: required is a JSON boolean";

    my $by_id = api(GET => "elements/$SEED{$key}", auth => $t);
    expect_ok($by_id, "GET /elements/$SEED{$key}");
    is_deeply $by_id->json, $by_key->json, "GET /elements/$SEED{$key} is GET /elements/$key";
}

# The required entries the seeds document.
my $jira = api(GET => 'elements/jira', auth => $t)->json || {};
is_deeply [map { $_->{key} } grep { $_->{required} } @{ specs($jira) }],
    [qw(jira.username jira.password jira.api.url)], 'jira: required entries';
my($pw) = grep { $_->{key} eq 'jira.password' } @{ specs($jira) };
is $pw && $pw->{type}, 'PASSWORD', 'jira.password is a PASSWORD entry';
my $epages = api(GET => 'elements/epages', auth => $t)->json || {};
my %edef = map { $_->{key} => $_->{defaultValue} } @{ specs($epages) };
is $edef{'pagination.max'}, '100', 'epages: pagination.max defaults to "100"';
is $edef{'event.vendor.type'}, 'webhooks', 'epages: event.vendor.type defaults to "webhooks"';

# Unknown elements.
my $before = snapshot();
for my $ref (qw(nope 99999 0 -1 16abc), 'a%20b') {
    expect_error(api(GET => "elements/$ref", auth => $t), 404, "GET /elements/$ref");
}

# Authentication applies to the catalog too.
expect_error(api(GET => 'elements'), 401, 'GET /elements without Authorization');
expect_error(api(GET => 'elements/jira', auth => 'User x, Organization y'), 401,
             'GET /elements/jira with unknown secrets');

# Read-only.
for my $m (qw(POST PUT PATCH DELETE)) {
    expect_error(api($m => 'elements', auth => $t, json => {}), 405, "$m /elements",
                 allow => ['GET']);
    expect_error(api($m => 'elements/jira', auth => $t, json => {}), 405, "$m /elements/jira",
                 allow => ['GET']);
}
unchanged($before, 'catalog errors');

# The configuration specs of an element answer, or [] when there are none.
sub specs { my $e = shift; ref $e eq 'HASH' && ref $e->{configuration} eq 'ARRAY' ? $e->{configuration} : [] }

done_testing;
