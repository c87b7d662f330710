# 26-ceadmin: what an operator meets (issue 11, item 11). Commands that
# only read or change never create a database (a mistyped path is an
# error, not an empty answer); errors say what is wrong and why, once:
# a missing key file, a key file that exists, a missing directory, an
# instance id that is not there. --version, help and --help answer on
# stdout with 0; the man page (doc/ceadmin.8) and the README's keygen
# forms follow --help.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Temp ();
use Apache::Test qw(-withtestmore);
use CETest;

my $ceadmin = Apache::Test::vars('ce_ceadmin');
my $dir = File::Temp::tempdir(CLEANUP => 1);

# (exit status, stderr + stdout) of ceadmin with @args.
sub run_admin {
    my @args = @_;
    my $out = qx{"$ceadmin" @{[ map { "'$_'" } @args ]} 2>&1};
    return ($? >> 8, $out);
}

# (exit status, stdout, stderr) of ceadmin with @args.
sub run_split {
    my @args = @_;
    my $cmd = qq{"$ceadmin" @{[ map { "'$_'" } @args ]}};
    my $err = qx{$cmd 2>&1 >/dev/null};
    my $out = qx{$cmd 2>/dev/null};
    return ($? >> 8, $out, $err);
}

my($version) = slurp("$FindBin::Bin/../src/ce_version.h") =~ /CE_VERSION "([^"]+)"/;
my($rc, $out, $err) = run_split('--version');
is $rc, 0, '--version: exit 0';
is $out, "ceadmin $version\n", '--version: "ceadmin <CE_VERSION>" on stdout';
is $err, '', '--version: nothing on stderr';
my $usage;
for my $args (['help'], ['--help'], ['-h'], ['signup', '--help']) {
    ($rc, $out, $err) = run_split(@$args);
    is $rc, 0, "@$args: exit 0";
    like $out, qr/^Usage: ceadmin .*^Commands:\n.*oauth-refresh/ms, "@$args: the usage on stdout";
    is $err, '', "@$args: nothing on stderr";
    $usage //= $out;
}
for my $args (['nosuch'], ['--db', "sqlite3:$dir/x.db", 'frobnicate'], []) {
    ($rc, $out, $err) = run_split(@$args);
    is $rc, 2, "'@$args': a usage error (2)";
    is $out, '', "'@$args': nothing on stdout";
    like $err, qr/^ceadmin: (unknown command|no command given).*^Usage: ceadmin /ms,
        "'@$args': says so, and the usage, on stderr";
}

# Every command and option --help lists is in the man page.
my @commands = $usage =~ /^  ([a-z][a-z-]+)\b/mg;
my %options = map { $_ => 1 } $usage =~ /(--[a-z][a-z-]+)/g;
cmp_ok scalar(@commands), '>=', 11, 'the commands --help lists: ' . join(' ', @commands);
my $man = slurp("$FindBin::Bin/../doc/ceadmin.8");
(my $plain = $man) =~ s/\\-/-/g;    # troff escapes out
$plain =~ s/\\f[BIRP]|\\&|\\c//g;
for my $c (@commands, sort keys %options) {
    like $plain, qr/(?<![\w-])\Q$c\E(?![\w-])/, "the man page mentions $c";
}
like $man, qr/^\.TH CEADMIN 8 "[^"]+" "mod_ceinstances \Q$version\E"/m,
    'the man page names this version';
SKIP: {
    skip 'man(1) is not installed', 1 unless -x '/usr/bin/man';
    my $page = "$FindBin::Bin/../doc/ceadmin.8";
    my $warnings = qx{LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z '$page' 2>&1 >/dev/null};
    is $warnings, '', 'man --warnings: the page renders without a warning';
}

# The README's keygen commands take one of the forms --help shows.
my @forms = map { join ' ', /(--[a-z]+)/g } $usage =~ /^ +ceadmin (keygen PATH.*)$/mg;
is_deeply [sort @forms], ['--prune', '--rotate --stage'], 'the keygen forms of --help';
my @readme = slurp("$FindBin::Bin/../README.md") =~ /^(?:build\/)?ceadmin keygen (.*)$/mg;
cmp_ok scalar(@readme), '>=', 3, "the README's keygen commands";
for my $line (@readme) {
    # none, or a form's options from its first on ([--rotate OLD [--stage STAGED]])
    my $opts = join ' ', $line =~ /(--[a-z]+)/g;
    ok scalar(grep { "$_ " =~ /^\Q$opts\E / || $opts eq '' } @forms),
        "README: ceadmin keygen $line: a form of --help";
}

sub slurp {
    open my $fh, '<', $_[0] or die "$_[0]: $!";
    local $/;
    return scalar <$fh>;
}

($rc, $out) = run_admin('keygen', "$dir/key");
is $rc, 0, 'keygen' or diag $out;

($rc, $out) = run_admin('keygen', "$dir/key");
is $rc, 1, 'keygen over an existing file fails';
like $out, qr{^ceadmin: cannot write the key file: cannot create \Q$dir\E/key: it exists already},
    'and says it exists';

($rc, $out) = run_admin('keygen', "$dir/missing/key");
is $rc, 1, 'keygen into a missing directory fails';
like $out, qr/its directory does not exist/, 'and blames the directory, not the file';

($rc, $out) = run_admin('--key', "$dir/nokey", '--db', "sqlite3:$dir/x.db", 'list-orgs');
is $rc, 1, 'a missing key file fails';
like $out, qr/^ceadmin: cannot read the key file \Q$dir\E\/nokey: No such file or directory/,
    'and says why';
is scalar(() = $out =~ /cannot read the key file/g), 1, 'once';

for my $cmd (['list-orgs'], ['instance-config', '--instance-id', 1],
             ['rotate-user', '--user-id', 1], ['user-add', '--org-id', 1, '--email', 'a@b']) {
    ($rc, $out) = run_admin('--key', "$dir/key", '--db', "sqlite3:$dir/typo.db", @$cmd);
    is $rc, 1, "$cmd->[0] on a missing database fails";
    like $out, qr/no database at \Q$dir\E\/typo\.db \(only signup creates one\)/, 'and says so';
    ok !-e "$dir/typo.db", 'and creates none';
}

($rc, $out) = run_admin('--key', "$dir/key", '--db', "sqlite3:$dir/nodir/t.db", 'signup',
                        '--org', 'A', '--email', 'a@b.example');
is $rc, 1, 'signup into a missing directory fails';
like $out, qr/cannot create a database in \Q$dir\E\/nodir: no such directory/, 'and says so';

($rc, $out) = run_admin('--key', "$dir/key", '--db', "sqlite3:$dir/t.db", 'signup',
                        '--org', 'A', '--email', 'a@b.example');
is $rc, 0, 'signup creates the database' or diag $out;
ok -e "$dir/t.db", 'there it is';
if ($rc == 0 && $out =~ /^\{/) {
    my $j = decode_json($out);
    remember_secrets($j->{organization}{secret}, $j->{user}{secret});
}

($rc, $out) = run_admin('--key', "$dir/key", '--db', "sqlite3:$dir/t.db", 'instance-config',
                        '--instance-id', 424242);
is $rc, 1, 'instance-config of a missing id fails';
is $out, "ceadmin: no instance with id 424242\n", 'and says which, nothing else';

# Key rotation's commands (t/22-secrets.t and t/29-rekey-online.t run them
# for real): the old rekey's options say what replaced them.
($rc, $out) = run_admin('--key', "$dir/key", '--db', "sqlite3:$dir/t.db", 'rekey',
                        '--old', "$dir/key", '--new', "$dir/key");
is $rc, 2, 'rekey --old/--new is a usage error';
like $out, qr/keygen NEW --rotate OLD, give it to the servers, then run rekey --key NEW/,
     'which says what to do now';
($rc, $out) = run_admin('--key', "$dir/key", '--db', "sqlite3:$dir/t.db", 'verify');
is $rc, 0, 'verify' or diag $out;
like $out, qr/^\{"verify":\{"currentKey":"[0-9a-f]{8}","values":1,/, 'counts the sealed values';

done_testing;
