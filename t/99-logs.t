# 99-logs.t: last, after every other test file has run against the
# suite's server (LogLevel trace8 unless CE_TEST_LOGLEVEL says otherwise)
# and the servers the tests started themselves:
#   - none of the secrets the suite used (t/var/secrets-used, written by
#     CETest: user and organization secrets, Element tokens, the tokens the
#     API handed out, the secret configuration values it accepted) nor the
#     key file's keys appears in any error_log or access_log;
#   - no answer's fast rendering differed from the jansson tree that
#     defines its shape (CEInstancesRenderCheck On: CE00059 in a log);
#   - the logs looked at are the real ones: the suite's error_log has
#     trace-level lines from httpd and from this module, and its access_log
#     has the suite's requests.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Find ();
use File::Spec;
use Apache::Test qw(-withtestmore);
use CETest;

my $t_dir = Apache::Test::vars('t_dir');
my $logs  = Apache::Test::vars('t_logs');
my $level = Apache::Test::vars('ce_log_level');

# Read the suite's own log of this run up to here: the server writes its
# error_log as it goes, and access_log lines are written per request.
sub slurp {
    my $file = shift;
    open my $fh, '<:raw', $file or return '';
    local $/;
    return scalar <$fh>;
}

my %secret;
{
    open my $fh, '<:raw', secrets_file() or BAIL_OUT("no " . secrets_file() . ": $!");
    while (my $line = <$fh>) {
        chomp $line;
        $secret{$line} = 1;
    }
}
my $nsecrets = keys %secret;
# Every test file signs tenants up and creates instances: thousands of
# values in a whole run (dozens when t/99-logs.t runs after one file), or
# CETest stopped recording them.
cmp_ok $nsecrets, '>', 20, "the suite used $nsecrets distinct secrets (recorded by CETest)";

for my $line (split /\n/, slurp(Apache::Test::vars('ce_key_file'))) {
    $secret{$1} = 1 if $line =~ /^(?:encryption|digest)\s+(\S+)/;
}

# Every error_log and access_log: the suite's and the started nodes'.
my @files = grep { -f } map { File::Spec->catfile($logs, $_) } qw(error_log access_log);
File::Find::find(sub { push @files, $File::Find::name if /^(?:error|access)_log$/ && -f },
                 File::Spec->catdir($t_dir, 'var'));
my $nodes = grep { index($_, File::Spec->catdir($t_dir, 'var')) == 0 } @files;
diag "$nodes logs of servers the tests started";

my $error  = slurp(File::Spec->catfile($logs, 'error_log'));
my $access = slurp(File::Spec->catfile($logs, 'access_log'));
like $access, qr{"(?:GET|POST) /elements/api-v2/instances}, 'instances requests among them';
SKIP: {
    skip "LogLevel $level", 2 unless $level eq 'trace8';
    like $error, qr/\[http:trace\d\].*Headers received from client|\[core:trace\d\]/,
         'the suite\'s error_log has httpd\'s trace lines';
    like $error, qr/Authorization: \[hidden by mod_ceinstances\]/,
         'httpd\'s header dump shows the credentials hidden';
}

# One pass over each file with a single alternation (perl compiles the
# literals into a trie), longest first so a secret's prefix cannot hide it.
my $alt = join '|', map { quotemeta } sort { length $b <=> length $a } keys %secret;
my $re = qr/($alt)/;
my(%leaked, $bytes);
for my $file (@files) {
    my $text = slurp($file);
    $bytes += length $text;
    while ($text =~ /$re/g) {
        push @{ $leaked{$1} }, $file;
    }
}
diag sprintf '%d files, %.1f MB of logs searched for %d values', scalar @files, $bytes / 1e6,
    scalar keys %secret;
is scalar(keys %leaked), 0, 'no secret, token, password or key in any log'
    or diag join "\n", map { "  in @{[ (sort keys %{{ map { $_ => 1 } @{ $leaked{$_} } }})[0] ]}: "
                              . substr($_, 0, 6) . '...' } sort keys %leaked;

# CEInstancesRenderCheck: every instance answer of the whole suite (every
# instance any test made: escapes, unicode, numbers, nulls, masked values,
# stripped names) was also built as a jansson tree; a difference answers
# 500 and logs CE00059.
my @differed;
for my $file (@files) {
    my $text = slurp($file);
    push @differed, "$file: $1" while $text =~ /(CE00059[^\n]*)/g;
}
is scalar(@differed), 0, 'every rendered answer equals its reference tree\'s bytes'
    or diag join "\n", @differed[0 .. ($#differed < 9 ? $#differed : 9)];
SKIP: {
    skip "LogLevel $level", 1 unless $level =~ /^(?:debug|trace\d)$/;
    my $checked = () = $error =~ /CE00060/g;
    # one per instance answer: a whole run makes thousands, one file dozens
    cmp_ok $checked, '>', 10, "$checked answers were checked against their reference";
}

done_testing;
