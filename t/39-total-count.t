# 39-total-count: Elements-Total-Count on GET /instances lists (issue 13,
# item 1): the instances the list's filters match on all its pages. The
# same on every page; by element (scoped path), by tags (one, several,
# repeated), by both; after deletes and a change of element; a refused
# create counts nothing; another tenant's instances never count; more than
# four distinct tags are not counted (the header is left out, the list is
# answered). Then many clients create, move and delete at once (on
# PostgreSQL through two nodes) and every total equals what the database
# holds and what the pages list.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use CETest;

use File::Path ();
use File::Temp ();
use POSIX ();

my $TOTAL = 'Elements-Total-Count';

# The header of a 200 list answer at $path (undef when absent).
sub total_of {
    my($t, $path, %o) = @_;
    my $res = api(GET => $path, auth => $t, %o);
    return undef unless $res->code == 200;
    return $res->header($TOTAL);
}

# Every page of $path (pageSize $size): [ids], [totals seen], [returned counts].
sub walk {
    my($t, $path, $size, %o) = @_;
    my(@ids, @totals, @returned);
    my $next = '';
    for (1 .. 1000) {
        my $sep = $path =~ /\?/ ? '&' : '?';
        my $res = api(GET => "$path${sep}pageSize=$size" . ($next ? "&nextPage=$next" : ''),
                      auth => $t, %o);
        die 'list: ' . $res->describe unless $res->code == 200;
        push @ids, map { $_->{id} } @{ $res->json };
        push @totals, $res->header($TOTAL);
        push @returned, $res->header('Elements-Returned-Count');
        $next = $res->header('Elements-Next-Page-Token') or last;
    }
    return (\@ids, \@totals, \@returned);
}

# What the database holds of $t's instances (optionally of one element key).
sub db_count {
    my($t, $element_id) = @_;
    return with_db(sub {
        $_[0]->selectrow_array('SELECT COUNT(*) FROM ce_instance WHERE user_id = ?'
                               . ($element_id ? ' AND element_id = ?' : ''), undef,
                               $t->{user_id}, $element_id ? $element_id : ());
    });
}

my %element_id = map { $_->{key} => $_->{id} } @{ catalog()->{elements} };

# --- one request at a time -------------------------------------------------------
my $t = signup();
my $o = signup();
is total_of($t, 'instances'), 0, 'a new tenant: total 0';
my @jira = map { create_instance($t, 'jira', tags => ['all', $_ % 2 ? 'odd' : 'even', "n$_", 'j']) }
    1 .. 4;
my @s3 = map { create_instance($t, 'amazons3', tags => ['all', $_ % 2 ? 'odd' : 'even']) } 1 .. 3;
create_instance($o, 'jira', tags => ['all', 'odd']) for 1 .. 5;

is total_of($t, 'instances'), 7, 'total of the plain list';
is total_of($o, 'instances'), 5, 'the other tenant: its own total';
my($ids, $totals, $returned) = walk($t, 'instances', 3);
is scalar @$ids, 7, 'the pages list seven';
is_deeply $totals, [7, 7, 7], 'the same total on every page';
is_deeply $returned, [3, 3, 1], 'Elements-Returned-Count per page';

is total_of($t, 'elements/jira/instances'), 4, 'scoped to jira';
is total_of($t, "elements/$element_id{amazons3}/instances"), 3, 'scoped to amazons3 (by id)';
is total_of($t, 'elements/epages/instances'), 0, 'scoped to an element without instances';
is total_of($t, 'instances?tags[]=odd'), 4, 'one tag';
is total_of($t, 'instances?tags[]=odd&tags[]=all'), 4, 'two tags';
is total_of($t, 'instances?tags[]=n2&tags[]=even'), 1, 'two tags, one instance';
is total_of($t, 'instances?tags[]=odd&tags[]=even'), 0, 'two tags no instance has together';
is total_of($t, 'instances?tags[]=nosuch'), 0, 'an unknown tag';
is total_of($t, 'elements/jira/instances?tags[]=odd'), 2, 'element and tag';
is total_of($t, 'elements/amazons3/instances?tags[]=odd&tags[]=all'), 2, 'element and two tags';
is total_of($t, 'instances?tags[]=all&tags[]=odd&tags[]=all&tags[]=odd&tags[]=odd'), 4,
    'repeated tags count once';
($ids, $totals) = walk($t, 'instances?tags[]=all', 2);
is_deeply $totals, [7, 7, 7, 7], 'tag list: the same total on every page';

# More than four distinct tags: listed, not counted.
my $res = api(GET => 'instances?tags[]=all&tags[]=odd&tags[]=n3&tags[]=j&tags[]=x', auth => $t);
expect_ok($res, 'a list with five distinct tags');
is $res->header($TOTAL), undef, 'five distinct tags: no Elements-Total-Count';
is $res->header('Elements-Returned-Count'), 0, '... but Elements-Returned-Count';
$res = api(GET => 'instances?tags[]=all&tags[]=odd&tags[]=n3&tags[]=j&tags[]=odd', auth => $t);
is $res->header($TOTAL), 1, 'four distinct tags (five given): counted';
is $res->header('Elements-Returned-Count'), 1, '... the one listed';

# Writes.
expect_error(api(POST => 'instances', auth => $t, json => { element => { key => 'jira' },
             name => 'incomplete', configuration => {} }), 400, 'a refused create');
is total_of($t, 'instances'), 7, 'a refused create counts nothing';
expect_ok(api(DELETE => "instances/$jira[0]{id}", auth => $t), 'delete one', empty => 1);
expect_ok(api(DELETE => "instances/$s3[0]{id}", auth => $t,
              headers => { 'If-Match' => api(GET => "instances/$s3[0]{id}", auth => $t)
                                             ->header('ETag') }), 'delete with If-Match',
          empty => 1);
expect_error(api(DELETE => "instances/$jira[1]{id}", auth => $o), 404,
             'another tenant cannot delete it');
is total_of($t, 'instances'), 5, 'after two deletes';
is total_of($t, 'elements/jira/instances'), 3, 'jira after a delete';
is total_of($t, 'instances?tags[]=odd'), 2, 'a tag after deletes';
is total_of($o, 'instances'), 5, 'the other tenant unchanged';

$res = api(PATCH => "instances/$jira[1]{id}", auth => $t,
           json => { element => { key => 'epages' }, configuration => valid_config('epages'),
                     tags => ['moved'] });
expect_ok($res, 'move an instance to another element');
is total_of($t, 'elements/jira/instances'), 2, 'jira: one less';
is total_of($t, 'elements/epages/instances'), 1, 'epages: one more';
is total_of($t, 'instances'), 5, 'the whole list: the same';
is total_of($t, 'instances?tags[]=moved'), 1, 'its new tags counted';
is total_of($t, 'instances?tags[]=even'), 2, 'its old ones no longer';
expect_ok(api(PATCH => "instances/$jira[2]{id}", auth => $t, json => { name => 'renamed' }),
          'a rename');
is total_of($t, 'elements/jira/instances'), 2, 'a rename moves nothing';
is total_of($t, 'instances'), db_count($t), 'total = the rows in the database';

# --- many at once ------------------------------------------------------------------
# $CLIENTS forked clients, half of them on each tenant, each $OPS creates;
# every third it deletes again, every fifth it moves to amazons3. On
# PostgreSQL the odd clients go through a second node.
my $CLIENTS = 8;
my $OPS = 15;
my $pg = Apache::Test::vars('ce_dbd_driver') eq 'pgsql';
my $b = $pg ? start_node(name => 'totalB') : undef;
END { stop_node($b) if $b }
my @tenants = (signup(), signup());
my $var = Apache::Test::vars('t_dir') . '/var';
File::Path::make_path($var);
my $dir = File::Temp::tempdir('total-count-XXXXXX', DIR => $var, CLEANUP => 1);

sub client {
    my($i) = @_;
    my $tn = $tenants[$i % 2];
    my %node = $b && $i % 4 >= 2 ? (node => $b) : ();
    open my $out, '>', "$dir/$i" or die "open: $!";
    $out->autoflush(1);
    for my $k (1 .. $OPS) {
        my $r = api(POST => 'instances', auth => $tn, %node,
                    json => { element => { key => 'jira' }, name => "c$i-$k", tags => ['crowd'],
                              configuration => valid_config('jira') });
        print {$out} "fail POST ", $r->code, "\n" and next unless $r->code == 200;
        my $id = $r->json->{id};
        if ($k % 3 == 0) {
            $r = api(DELETE => "instances/$id", auth => $tn, %node);
            print {$out} $r->code == 200 ? "deleted $id\n" : "fail DELETE " . $r->code . "\n";
        }
        elsif ($k % 5 == 0) {
            $r = api(PATCH => "instances/$id", auth => $tn, %node,
                     json => { element => { key => 'amazons3' },
                               configuration => valid_config('amazons3') });
            print {$out} $r->code == 200 ? "moved $id\n" : "fail PATCH " . $r->code . "\n";
        }
        else {
            print {$out} "kept $id\n";
        }
    }
    close $out;
}

my @pids;
pipe(my $rd, my $wr) or die "pipe: $!";
for my $i (0 .. $CLIENTS - 1) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $wr;
        Apache::TestRequest::user_agent(reset => 1, keep_alive => 1);
        CETest::Node::node_agent(reset => 1);
        sysread $rd, my $go, 1;
        my $ok = eval { client($i); 1 };
        POSIX::_exit($ok ? 0 : 2);
    }
    push @pids, $pid;
}
close $rd;
close $wr;    # go
waitpid $_, 0 for @pids;

my(%kept, %moved, @fails);
for my $i (0 .. $CLIENTS - 1) {
    open my $in, '<', "$dir/$i" or die "$dir/$i: $!";
    for (<$in>) {
        push @fails, "client $i: $_" if /^fail/;
        $kept{ $i % 2 }++ if /^(kept|moved) /;
        $moved{ $i % 2 }++ if /^moved /;
    }
}
is scalar @fails, 0, "many at once: every request answered 200" or diag join '', @fails[0 .. 4];
my $per = $CLIENTS / 2 * ($OPS - int($OPS / 3));
for my $k (0, 1) {
    my $tn = $tenants[$k];
    is $kept{$k}, $per, "tenant $k: $per instances left by its clients";
    is db_count($tn), $per, "tenant $k: the database holds them";
    for my $node ($b ? (undef, $b) : (undef)) {
        my %on = $node ? (node => $node) : ();
        my $where = $node ? 'node B' : 'node A';
        is total_of($tn, 'instances', %on), $per, "tenant $k on $where: total = what is there";
        is total_of($tn, 'elements/amazons3/instances', %on), $moved{$k},
            "tenant $k on $where: amazons3 total = the instances moved there";
        is total_of($tn, 'elements/jira/instances', %on), $per - $moved{$k},
            "tenant $k on $where: jira total = the rest";
        is total_of($tn, 'instances?tags[]=crowd', %on), $per, "tenant $k on $where: tag total";
    }
    ($ids, $totals) = walk($tn, 'instances', 50);
    is scalar @$ids, $per, "tenant $k: the pages list as many";
    is_deeply [grep { $_ != $per } @$totals], [], "tenant $k: the same total on every page";
}
is total_of($t, 'instances'), db_count($t), 'the first tenant untouched by the crowd';
is total_of($o, 'instances'), 5, 'the other tenant untouched by the crowd';

# No count row below zero, none outside the shards.
is with_db(sub { $_[0]->selectrow_array(
    'SELECT COUNT(*) FROM ce_instance_count WHERE n < 0 OR shard < 0 OR shard >= 8') }), 0,
    'every count row in range';

done_testing;
