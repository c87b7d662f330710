# 31-memory: memory returns to its level after large requests (issue 11,
# item 7). One child of one worker thread (so its RSS is the server's, and
# what a thread keeps for its next request, at most MaxMemFree of APR
# memory and its SQLite connection's page cache, is counted once), 40
# instances at the configuration caps (~250 KB each), then the whole list
# asked for in one page (pageSize=40, some 10 MB of answer), three times:
#
#   - a page stops at CE_PAGE_BYTES_MAX (4 MiB of stored configuration) and
#     says where to go on (nextPage): the 40 come in several pages;
#   - the child's peak RSS during the listing stays within 64 MB of where
#     it was before, and afterwards its RSS is back within 16 MB of it (the
#     request's JSON is given back to the system: malloc_trim after large
#     requests; MaxMemFree for APR's pools), however often it is repeated.
#
# The figures (RSS before, peak, after) are printed with note().
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;

my $node = start_node(name => 'memory', procs => 1, threads => 1, extra => ['MaxMemFree 2048']);
END { stop_node($node) if $node }
my $t = signup(node => $node);

# A jira configuration at the caps: 15 entries of 16,000 characters.
my %cfg = %{ valid_config('jira') };
$cfg{ sprintf 'bulk.%02d', $_ } = chr(ord('a') + $_) x 16000 for 1 .. 15;
my $made = 0;
for my $i (1 .. 40) {
    my $res = api(POST => 'instances', auth => $t, node => $node,
                  json => { element => { key => 'jira' }, name => "big $i", configuration => \%cfg });
    $made++ if $res->code == 200;
}
is $made, 40, '40 instances at the configuration caps';

my(undef, $child) = node_pids($node);
ok $child, "the node's one child: $child";
sub kb {
    my($field) = @_;
    open my $fh, '<', "/proc/$child/status" or return 0;
    while (<$fh>) { return $1 if /^\Q$field\E:\s+(\d+) kB/ }
    return 0;
}

# The whole list, page after page: (instances, pages, largest answer).
sub list_all {
    my($n, $pages, $largest, $next) = (0, 0, 0, undef);
    do {
        my $res = api(GET => 'instances?pageSize=40' . (defined $next ? "&nextPage=$next" : ''),
                      auth => $t, node => $node);
        return (-1, $pages, $largest) unless $res->code == 200;
        $n += @{ $res->list };
        $pages++;
        $largest = length $res->content if length $res->content > $largest;
        $next = $res->header('Elements-Next-Page-Token');
    } while (defined $next && length $next && $pages < 50);
    return ($n, $pages, $largest);
}

list_all();    # once for the child's caches, pools and arenas to settle
my $before = kb('VmRSS');
for my $round (1 .. 3) {
    if (open my $cr, '>', "/proc/$child/clear_refs") { print $cr "5\n"; close $cr }  # resets VmHWM
    my($n, $pages, $largest) = list_all();
    my($peak, $after) = (kb('VmHWM'), kb('VmRSS'));
    is $n, 40, "round $round: all 40 listed";
    ok $pages > 1, "in $pages pages (largest answer " . int($largest / 1024) . ' KiB)';
    note(sprintf 'round %d: child RSS before %d MB, peak %d MB, after %d MB', $round,
         $before / 1024, $peak / 1024, $after / 1024);
  SKIP: {
        # ASan keeps freed memory in quarantine (and pads every block): RSS
        # says nothing of the module's own use there.
        skip 'RSS under AddressSanitizer (make test-asan) is its own', 2 if $ENV{CE_ASAN_MARK};
        cmp_ok $peak - $before, '<', 64 * 1024, "round $round: peak RSS within 64 MB of before";
        cmp_ok $after - $before, '<', 16 * 1024, "round $round: RSS back within 16 MB of before";
    }
}

done_testing;
