# 27-config-limits: an instance's configuration is capped (issue 11, item
# 7): entries, bytes of one value, bytes in all (CEInstancesConfigLimits,
# default 200 16384 262144). Past a cap: 400 naming it, nothing written;
# the caps hold for creates, updates and entry PATCHes alike, so many
# small PATCHes cannot grow an instance past them either. The directive is
# checked by apache2 -t.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $t = signup();
my %base = %{ valid_config('jira') };
my $n_base = scalar keys %base;

# entries
my %many = (%base, map { (sprintf('x%03d', $_) => 'v') } 1 .. 200 - $n_base);
expect_ok(api(POST => 'instances', auth => $t,
              json => { element => { key => 'jira' }, name => 'at the cap',
                        configuration => \%many }), '200 entries: created');
my $before = snapshot();
my $res = api(POST => 'instances', auth => $t,
              json => { element => { key => 'jira' }, name => 'over',
                        configuration => { %many, x999 => 'v' } });
expect_error($res, 400, '201 entries: refused');
is $res->json->{message}, 'Configuration has 201 entries; at most 200 are allowed', 'names the cap';
unchanged($before, '201 entries');

# one value
my $inst = create_instance($t, 'jira');
$res = api(PATCH => "instances/$inst->{id}", auth => $t,
           json => { configuration => { big => 'x' x 16385 } });
expect_error($res, 400, 'a 16385-byte value: refused');
is $res->json->{message}, q{Configuration entry 'big' is 16385 bytes long; at most 16384 are allowed},
    'names the cap';
expect_ok(api(PATCH => "instances/$inst->{id}", auth => $t,
              json => { configuration => { big => 'x' x 16384 } }), 'a 16384-byte value: fine');

# in all, grown by many PATCHes (each one small enough)
my($ok, $refused, $msg) = (0, 0, '');
for my $i (1 .. 20) {
    $res = api(PATCH => "instances/$inst->{id}", auth => $t,
               json => { configuration => { "chunk$i" => 'y' x 16000 } });
    if ($res->code == 200) { $ok++ } else { $refused++; $msg = $res->json->{message} // ''; last }
}
is $refused, 1, "PATCHes growing the configuration are refused once it would pass the cap (after $ok)";
like $msg, qr/^Configuration is \d+ bytes in all; at most 262144 are allowed$/, 'and the message says so';
my $cfg = api(GET => "instances/$inst->{id}", auth => $t)->json->{configuration};
my $total = 0;
$total += length($_) + length($cfg->{$_}) for keys %$cfg;
cmp_ok $total, '<=', 262144, "what is stored stays within it ($total bytes)";
my $entries = api(GET => "instances/$inst->{id}/configuration", auth => $t)->json;
my($entry) = grep { $_->{key} eq 'big' } @$entries;
expect_error(api(PATCH => "instances/$inst->{id}/configuration/$entry->{id}", auth => $t,
                 json => { propertyValue => 'z' x 16385 }), 400,
             'an entry PATCH past the value cap: refused');

# the directive
for my $case (['CEInstancesConfigLimits 10 100 1000', 0, 'valid limits'],
              ['CEInstancesConfigLimits 0 100 1000', 1, 'zero entries'],
              ['CEInstancesConfigLimits 10 100 50', 1, 'a total below one value'],
              ['CEInstancesConfigLimits 10 100', 1, 'two arguments']) {
    my($line, $bad, $what) = @$case;
    my $node = make_node(name => "limits$$", extra => [$line]);
    my($rc, $out) = node_ctl($node, '-t');
    if ($bad) {
        isnt $rc, 0, "apache2 -t refuses $what";
        like $out, qr/CEInstancesConfigLimits/, 'naming the directive';
    } else {
        is $rc, 0, "apache2 -t takes $what" or diag $out;
    }
}
my $node = make_node(name => "limits-order$$", catalog => undef,
                     extra => ['CEInstancesConfigLimits 10 100 1000',
                               'CEInstancesCatalog "' . Apache::Test::vars('ce_catalog') . '"']);
my($rc, $out) = node_ctl($node, '-t');
isnt $rc, 0, 'apache2 -t refuses the limits before the catalog';
like $out, qr/CEInstancesConfigLimits must follow CEInstancesCatalog/, 'and says why';

done_testing;
