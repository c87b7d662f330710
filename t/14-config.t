# 14-config: the module's configuration as an operator meets it, on
# standalone httpd instances of this test's own (not the suite's server):
#
#   - a good config passes `apache2 -t`;
#   - a bad CEInstancesCatalog (missing, unreadable, malformed, duplicate id,
#     element without "key", bad configuration type, ...) or a bad
#     CEInstancesMaxBodySize fails `apache2 -t` with a message that names the
#     directive (and, for the catalog, the element and field at fault);
#   - without mod_dbd the server refuses to start (CE00020) and leaves no
#     process behind;
#   - adding an element is an edit of the catalog file and a graceful
#     restart, no rebuild: the new element is served, validated and masked.
#
# Each config is generated in a temporary directory under t/var (ServerRoot,
# pid file, logs, database, catalog copies; CE_TEST_KEEP=1 keeps it) with a
# free port of its own; the module is the freshly built
# ../build/mod_ceinstances.so, as in t/conf/extra.conf.in. Every server
# started here is stopped in END, even when a test fails or dies.
use strict;
use warnings;

use Apache::Test qw(-withtestmore);
use Cwd ();
use File::Copy ();
use File::Path ();
use File::Temp ();
use HTTP::Tiny ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

my $HTTPD  = '/usr/sbin/apache2';
my $MODDIR = '/usr/lib/apache2/modules';
my $T_DIR  = Cwd::abs_path(Apache::Test::vars('t_dir'));
my $MODULE = Cwd::abs_path("$T_DIR/../build/mod_ceinstances.so");
my $CEADMIN = Cwd::abs_path("$T_DIR/../build/ceadmin");
my $SEED   = Cwd::abs_path("$T_DIR/../conf/elements.json");
my $KEYFILE = Apache::Test::vars('ce_key_file');
my $MAX_BODY_LIMIT = 64 * 1024 * 1024;    # CE_MAX_BODY_LIMIT (src/mod_ce_config.h)
my $BASE   = '/elements/api-v2';
# ce_catalog.h's CE_CONFIG_TYPES, as the error message lists them.
my $TYPES = 'TEXTFIELD_32, TEXTFIELD_64, TEXTFIELD_128, TEXTFIELD_1000, TEXTAREA, PASSWORD, '
          . 'BOOLEAN, NUMBER, SELECTION';

my $JSON = JSON::PP->new->utf8->canonical;

File::Path::make_path("$T_DIR/var");
my $TMP = File::Temp::tempdir('14-config-XXXXXX', DIR => "$T_DIR/var",
                              CLEANUP => !$ENV{CE_TEST_KEEP});
File::Path::make_path("$TMP/run", "$TMP/logs", "$TMP/cat");

# ---------------------------------------------------------------- helpers

sub slurp {
    my $f = shift;
    open my $fh, '<:raw', $f or return '';
    local $/;
    return scalar <$fh>;
}

sub spew {
    my($f, $text) = @_;
    open my $fh, '>:raw', $f or die "cannot write $f: $!";
    print $fh $text;
    close $fh or die "cannot write $f: $!";
    return $f;
}

# A port nothing listens on now (the kernel's choice).
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                  Listen => 1, ReuseAddr => 1) or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# Runs @cmd (no shell) with its stdout and stderr in one file, killing it
# after $timeout seconds: (exit status or -1 on timeout, output).
my $runs = 0;
sub run_cmd {
    my($timeout, @cmd) = @_;
    my $out = sprintf '%s/cmd-%d.out', $TMP, ++$runs;
    my $pid = fork // die "fork: $!";
    unless ($pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    my $deadline = Time::HiRes::time() + $timeout;
    my $rc;
    while (1) {
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
            last;
        }
        if (Time::HiRes::time() > $deadline) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
            $rc = -1;
            last;
        }
        Time::HiRes::sleep(0.02);
    }
    return ($rc, slurp($out));
}

# A standalone httpd config; returns its path. %o: catalog => path (omitted
# when undef), key => key file (default the suite's; undef leaves
# CEInstancesKeyFile out), dbd => 0 to leave mod_dbd out entirely,
# extra => [lines].
# The directive lines the test is about come last but for the Location, so
# httpd's "Syntax error on line N" points at them.
my %PORT;
sub write_conf {
    my($name, %o) = @_;
    my $port = $PORT{$name} //= free_port();
    my $dbd = $o{dbd} // 1;
    my @l = (
        "# 14-config: $name",
        qq{ServerRoot "$TMP"},
        'ServerName 127.0.0.1',
        "Listen 127.0.0.1:$port",
        qq{PidFile "$TMP/run/$name.pid"},
        qq{DefaultRuntimeDir "$TMP/run"},
        "Mutex file:$TMP/run default",
        qq{ErrorLog "$TMP/logs/$name.error_log"},
        'LogLevel info',
        "LoadModule mpm_event_module $MODDIR/mod_mpm_event.so",
        'StartServers 1',
        'ServerLimit 4',
        'ThreadLimit 4',
        'ThreadsPerChild 4',
        'MaxRequestWorkers 16',
        'MinSpareThreads 1',
        'MaxSpareThreads 16',
        'KeepAlive Off',
        "LoadModule authz_core_module $MODDIR/mod_authz_core.so",
    );
    push @l, "LoadModule dbd_module $MODDIR/mod_dbd.so" if $dbd;
    push @l, qq{LoadModule ceinstances_module "$MODULE"};
    push @l, 'DBDriver sqlite3', qq{DBDParams "$TMP/t.db"} if $dbd;
    my $key = exists $o{key} ? $o{key} : $KEYFILE;
    push @l, qq{CEInstancesKeyFile "$key"} if defined $key;
    push @l, qq{CEInstancesCatalog "$o{catalog}"} if defined $o{catalog};
    push @l, @{ $o{extra} || [] };
    push @l, "<Location $BASE>", '    SetHandler ceinstances', '</Location>';
    return spew("$TMP/$name.conf", join("\n", @l) . "\n");
}

# The 1-based line of $conf that starts with $directive (the last one).
sub line_of {
    my($conf, $directive) = @_;
    my @lines = split /\n/, slurp($conf);
    my $n;
    for my $i (0 .. $#lines) {
        $n = $i + 1 if $lines[$i] =~ /^\Q$directive\E\b/;
    }
    return $n // 0;
}

sub configtest {
    my $conf = shift;
    return run_cmd(30, $HTTPD, '-t', '-f', $conf);
}

sub syntax_ok {
    my($conf, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my($rc, $out) = configtest($conf);
    return ok($rc == 0 && $out =~ /^Syntax OK$/m, "$name: apache2 -t exits 0, Syntax OK")
        || diag("exit $rc:\n$out");
}

# `apache2 -t` fails, on the line of $directive, with a message that starts
# with the directive's name and matches each of @like (regexes). (The
# module's messages are "<directive>: <text>"; httpd's own argument checks
# say "<directive> takes one argument, ...".)
sub syntax_error {
    my($conf, $directive, $name, @like) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my($rc, $out) = configtest($conf);
    my $line = line_of($conf, $directive);
    ok($rc > 0 && $out !~ /Syntax OK/, "$name: apache2 -t fails")
        or diag("exit $rc:\n$out");
    # httpd: "AH00526: Syntax error on line N of FILE:\n<the module's message>"
    my($msg) = $out =~ /Syntax error on line \Q$line\E of \Q$conf\E:\n([^\n]*)/;
    like($msg // "(no syntax error on line $line:)\n$out", qr/^\Q$directive\E\b/,
         "$name: the message names $directive");
    like($msg // '', $_, "$name: the message says $_") for @like;
    return $msg;
}

# ------------------------------------------------------------ servers

my %RUNNING;    # name => { conf, pid }

# The process is there and not a zombie.
sub alive {
    my $pid = shift;
    return 0 unless $pid and kill 0, $pid;
    my $stat = slurp("/proc/$pid/stat");
    return $stat =~ /^\d+ \(.*\) Z/s ? 0 : 1;
}

sub pid_of {
    my $name = shift;
    my($pid) = slurp("$TMP/run/$name.pid") =~ /^(\d+)/;
    return $pid;
}

sub listening {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
                                  Timeout => 2) or return 0;
    close $s;
    return 1;
}

# Polls $cond every 0.05 s for at most $secs; whether it became true.
sub wait_for {
    my($secs, $cond) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    while (1) {
        return 1 if $cond->();
        return 0 if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
}

# `apache2 -f conf -k start`; waits for the pid file and the port. Returns
# (master pid or undef, exit status, output).
sub start_server {
    my $name = shift;
    my $conf = "$TMP/$name.conf";
    my($rc, $out) = run_cmd(30, $HTTPD, '-f', $conf, '-k', 'start');
    my $pid;
    # A start that failed exits non-zero before detaching; then only make
    # sure nothing appears.
    wait_for($rc == 0 ? 15 : 1, sub { $pid = pid_of($name); $pid && alive($pid) && listening($PORT{$name}) });
    $pid = pid_of($name);
    $RUNNING{$name} = { conf => $conf, pid => $pid } if $pid;
    return (($pid && alive($pid)) ? $pid : undef, $rc, $out);
}

# `apache2 -f conf -k stop`, then waits for the master to exit. Whether it did.
sub stop_server {
    my $name = shift;
    my $s = $RUNNING{$name} or return 1;
    run_cmd(30, $HTTPD, '-f', $s->{conf}, '-k', 'stop');
    my $gone = wait_for(20, sub { !alive($s->{pid}) });
    delete $RUNNING{$name} if $gone;
    return $gone;
}

# Last resort for a server the test did not stop: -k stop, then signals to
# that master (checked to be ours by its command line) and its process group.
END {
    my $status = $?;
    for my $name (sort keys %RUNNING) {
        next if stop_server($name);
        my $pid = $RUNNING{$name}{pid};
        next unless alive($pid) and index(slurp("/proc/$pid/cmdline"), $RUNNING{$name}{conf}) >= 0;
        kill 'TERM', $pid;
        next if wait_for(10, sub { !alive($pid) });
        kill 'KILL', -$pid, $pid;
        wait_for(5, sub { !alive($pid) });
    }
    $? = $status;
}

# ------------------------------------------------------------ requests

my $UA = HTTP::Tiny->new(timeout => 10, keep_alive => 0);

# One request to server $name: { status, ct, json, content, what }.
sub call {
    my($name, $method, $path, %o) = @_;
    my %h;
    $h{Authorization} = $o{auth} if defined $o{auth};
    my %args = (headers => \%h);
    if (exists $o{json}) {
        $h{'Content-Type'} = 'application/json';
        $args{content} = $JSON->encode($o{json});
    }
    my $url = "http://127.0.0.1:$PORT{$name}$BASE/$path";
    my $r = $UA->request($method, $url, \%args);
    my $res = { status => $r->{status}, ct => $r->{headers}{'content-type'} // '',
                content => $r->{content} // '', what => "$method $BASE/$path" };
    $res->{json} = eval { $JSON->decode($res->{content}) } if length $res->{content};
    return $res;
}

sub describe {
    my $r = shift;
    return "$r->{what} -> $r->{status} [$r->{ct}] " . substr($r->{content}, 0, 600);
}

# status, JSON content type; with message => qr//, the error message.
sub expect {
    my($r, $status, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = is($r->{status}, $status, "$name: status $status") || diag(describe($r));
    $ok &= ok($r->{ct} =~ m{^application/json\b}i && defined $r->{json}, "$name: a JSON body")
        || diag(describe($r));
    if (my $m = $o{message}) {
        $ok &= like(ref $r->{json} eq 'HASH' ? $r->{json}{message} // '' : '', $m, "$name: message");
    }
    return $ok;
}

# ------------------------------------------------------------ catalogs

my $SEED_TEXT = slurp($SEED);
my $SEED_CAT  = $JSON->decode($SEED_TEXT);
my $N_SEED    = @{ $SEED_CAT->{elements} };
my $NEW_ELEMENT = {
    id => 90001, key => 'acme-widgets', name => 'Acme Widgets',
    configuration => [
        { key => 'acme.api.key', name => 'API key', type => 'PASSWORD', required => JSON::PP::true },
    ],
};

# The seed catalog's text with elements appended, as an operator edits it.
sub catalog_plus {
    my @extra = @_;
    my $text = $SEED_TEXT;
    my $add = join '', map { ",\n    " . $JSON->encode($_) } @extra;
    $text =~ s/\}\s*\]\s*\}\s*\z/}$add\n  ]\n}\n/ or die "14-config: unexpected shape of $SEED";
    return $text;
}

sub catalog_file {
    my($name, $text) = @_;
    return spew("$TMP/cat/$name.json", $text);
}

# ================================================================ 1. good

ok -x $HTTPD && -f $MODULE && -x $CEADMIN, 'apache2, the built module and ceadmin are there';

my $conf = write_conf('good', catalog => $SEED);
syntax_ok($conf, 'the seed catalog');

# Relative catalog paths are relative to ServerRoot (README).
File::Copy::copy($SEED, "$TMP/cat/relative.json") or die "copy: $!";
syntax_ok(write_conf('relative', catalog => 'cat/relative.json'), 'a path relative to ServerRoot');

# ================================================================ 2. bad catalogs

my $E = $N_SEED;    # the index of the first appended element
my %bad_catalog = (
    'missing file' => {
        path => "$TMP/cat/no-such-catalog.json",
        like => [qr/^CEInstancesCatalog: Cannot read element catalog \Q$TMP\E\/cat\/no-such-catalog\.json: No such file or directory$/],
    },
    'missing file, relative path' => {
        path => 'cat/nope.json',
        like => [qr/Cannot read element catalog \Q$TMP\E\/cat\/nope\.json: No such file or directory/],
    },
    'invalid JSON' => {
        text => qq({"elements": [\n  {"id": 1,, "key": "x"}\n]}\n),
        like => [qr/: Malformed JSON at line 2, column \d+: /],
    },
    'duplicate JSON member' => {
        text => qq({"elements": [], "elements": []}\n),
        like => [qr/: Malformed JSON at line 1, column \d+: .*duplicate/i],
    },
    'empty file' => {
        text => '',
        like => [qr/: Malformed JSON at line \d+, column \d+: /],
    },
    'not an object' => {
        text => "[]\n",
        like => [qr/element catalog: must be a JSON object/],
    },
    'duplicate element id' => {
        text => catalog_plus({ id => 16, key => 'dup-s3', name => 'Another S3' }),
        like => [qr/: elements\[$E\] \('dup-s3'\): duplicate id 16 \(also used by 'amazons3'\)$/],
    },
    'duplicate element key' => {
        text => catalog_plus({ id => 90002, key => 'jira', name => 'Another JIRA' }),
        like => [qr/: elements\[$E\] \('jira'\): duplicate key 'jira' \(also used by id 1\)$/],
    },
    'element without key' => {
        text => catalog_plus({ id => 90003, name => 'Keyless' }),
        like => [qr/: elements\[$E\]: field 'key' is required and must be a non-empty string$/],
    },
    'element with an empty key' => {
        text => catalog_plus({ id => 90003, key => '', name => 'Keyless' }),
        like => [qr/: elements\[$E\] \(''\): field 'key' is required and must be a non-empty string$/],
    },
    'element with a non-integer id' => {
        text => catalog_plus({ id => 'x1', key => 'acme-widgets', name => 'Acme' }),
        like => [qr/: elements\[$E\] \('acme-widgets'\): field 'id' is required and must be a positive integer$/],
    },
    'element with an unknown field' => {
        text => catalog_plus({ %$NEW_ELEMENT, descripton => 'typo' }),
        like => [qr/: elements\[$E\] \('acme-widgets'\): unknown field 'descripton'$/],
    },
    'bad configuration type' => {
        text => catalog_plus({ %$NEW_ELEMENT, configuration => [
            { key => 'acme.api.url', name => 'URL', type => 'TEXTFIELD_128' },
            { key => 'acme.api.key', name => 'API key', type => 'PASSWD', required => JSON::PP::true },
        ] }),
        like => [qr/: elements\[$E\] \('acme-widgets'\), configuration\[1\] \('acme\.api\.key'\): field 'type' is required and must be one of \Q$TYPES\E$/],
    },
    'configuration entry without type' => {
        text => catalog_plus({ %$NEW_ELEMENT, configuration => [{ key => 'acme.api.key' }] }),
        like => [qr/: elements\[$E\] \('acme-widgets'\), configuration\[0\] \('acme\.api\.key'\): field 'type' is required/],
    },
    'duplicate configuration key' => {
        text => catalog_plus({ %$NEW_ELEMENT, configuration => [
            { key => 'acme.api.key', type => 'PASSWORD' }, { key => 'acme.api.key', type => 'TEXTAREA' },
        ] }),
        like => [qr/: elements\[$E\] \('acme-widgets'\), configuration\[1\] \('acme\.api\.key'\): duplicate configuration key 'acme\.api\.key'$/],
    },
);

for my $case (sort keys %bad_catalog) {
    my $c = $bad_catalog{$case};
    (my $file = $case) =~ s/\W+/-/g;
    my $path = $c->{path} // catalog_file($file, $c->{text});
    my $abs = $path =~ m{^/} ? $path : "$TMP/$path";
    my @like = @{ $c->{like} };
    # Except when unreadable, the message names the file it is about.
    unshift @like, qr/^CEInstancesCatalog: \Q$abs\E: / if defined $c->{text};
    syntax_error(write_conf("cat-$file", catalog => $path), 'CEInstancesCatalog',
                 "catalog: $case", @like);
}

SKIP: {
    skip 'running as root: a mode 000 file is still readable', 3 if $> == 0;
    my $path = catalog_file('unreadable', $SEED_TEXT);
    chmod 0000, $path or die "chmod $path: $!";
    syntax_error(write_conf('cat-unreadable', catalog => $path), 'CEInstancesCatalog',
                 'catalog: unreadable file (mode 000)',
                 qr/^CEInstancesCatalog: Cannot read element catalog \Q$path\E: Permission denied$/);
}

# README: CEInstancesCatalog has no default, it is required: a configuration
# with no catalog in any server fails `apache2 -t` (check_config, CE00023).
{
    my($rc, $out) = configtest(write_conf('cat-none'));
    ok $rc > 0, 'no CEInstancesCatalog at all: apache2 -t fails' or diag($out);
    like $out, qr/CE00023: CEInstancesCatalog is not set/, 'no CEInstancesCatalog: the message names it';
}

# ================================================================ 2b. CEInstancesKeyFile
# README: the key file is required where a catalog is; a missing, malformed,
# or group/world-readable one fails `apache2 -t`, naming the directive.
{
    my($rc, $out) = configtest(write_conf('key-none', catalog => $SEED, key => undef));
    ok $rc > 0, 'no CEInstancesKeyFile: apache2 -t fails' or diag($out);
    like $out, qr/CE00024: CEInstancesKeyFile is not set/, 'no CEInstancesKeyFile: the message names it';

    syntax_error(write_conf('key-missing', catalog => $SEED, key => "$TMP/no-such.key"),
                 'CEInstancesKeyFile', 'a missing key file', qr/cannot read the key file/,
                 qr/ceadmin keygen/);
    my $open = "$TMP/open.key";
    system($CEADMIN, 'keygen', $open) == 0 or die "keygen failed";
    chmod 0644, $open;
    syntax_error(write_conf('key-open', catalog => $SEED, key => $open),
                 'CEInstancesKeyFile', 'a key file others can read', qr/chmod 600/);
    my $junk = spew("$TMP/junk.key", "ceinstances-key 1\nencryption Zm9vYmFyLWtleS1ieXRlcw==\n");
    chmod 0600, $junk;
    syntax_error(write_conf('key-junk', catalog => $SEED, key => $junk),
                 'CEInstancesKeyFile', 'a malformed key file', qr/line 2 is not a valid key line/);
    my($krc, $kout) = configtest(write_conf('key-junk', catalog => $SEED, key => $junk));
    unlike $kout, qr/Zm9vYmFyLWtleS1ieXRlcw/, 'the message never shows key material';
}

# ================================================================ 3. CEInstancesMaxBodySize

for my $v ('0', '-5', 'abc', '12abc', '99999999999', '99999999999999999999', '1.5', '0x10',
           $MAX_BODY_LIMIT + 1) {
    syntax_error(write_conf('max-body', catalog => $SEED, extra => ["CEInstancesMaxBodySize $v"]),
                 'CEInstancesMaxBodySize', "CEInstancesMaxBodySize $v",
                 qr/^CEInstancesMaxBodySize: '\Q$v\E' is not a byte count between 1 and $MAX_BODY_LIMIT$/);
}
# An empty argument is refused by httpd's own TAKE1 check, which names the
# directive too.
syntax_error(write_conf('max-body', catalog => $SEED, extra => ['CEInstancesMaxBodySize ""']),
             'CEInstancesMaxBodySize', 'CEInstancesMaxBodySize ""');
for my $v (1, 1048576, $MAX_BODY_LIMIT) {
    syntax_ok(write_conf('max-body', catalog => $SEED, extra => ["CEInstancesMaxBodySize $v"]),
              "CEInstancesMaxBodySize $v");
}

# ================================================================ 4. no mod_dbd

{
    my $name = 'no-dbd';
    my($trc, $tout) = configtest(write_conf($name, dbd => 0, catalog => $SEED));
    ok $trc > 0, 'without mod_dbd: apache2 -t fails' or diag($tout);
    like $tout, qr/CE00020: mod_ceinstances needs mod_dbd/, 'without mod_dbd: apache2 -t says why';
    my($pid, $rc, $out) = start_server($name);
    my $log = slurp("$TMP/logs/$name.error_log");
    ok !$pid, 'without mod_dbd: the server does not start' or diag("master $pid is running");
    isnt $rc, 0, 'without mod_dbd: apache2 -k start exits non-zero' or diag($out);
    like "$out\n$log", qr/CE00020: mod_ceinstances needs mod_dbd/,
         'without mod_dbd: CE00020 says mod_dbd is needed' or diag("output:\n$out\nerror_log:\n$log");
    ok !listening($PORT{$name}), 'without mod_dbd: nothing listens on its port';
    ok !($pid // pid_of($name)) || !alive($pid // pid_of($name)), 'without mod_dbd: no process left';
}

# ================================================================ 5. catalog edit + graceful

{
    my $name = 'live';
    my $cat = catalog_file('live', $SEED_TEXT);
    $conf = write_conf($name, catalog => $cat);
    syntax_ok($conf, 'live server');
    my $so_before = join ':', (stat $MODULE)[1, 7, 9];

    my($pid, $rc, $out) = start_server($name);
    ok $pid, 'live server: started' or diag("exit $rc:\n$out\n" . slurp("$TMP/logs/$name.error_log"));

    my($sign_rc, $sign_out) = run_cmd(30, $CEADMIN, '--db', "sqlite3:$TMP/t.db", '--key', $KEYFILE, 'signup',
                                      '--org', 'Acme 14', '--email', 'ops14@example.com',
                                      '--first', 'Ada', '--last', 'Ops');
    my $t = eval { $JSON->decode($sign_out) } || {};
    ok $sign_rc == 0 && $t->{user}{secret} && $t->{organization}{secret}, 'ceadmin signup'
        or diag("exit $sign_rc: $sign_out");
    my $auth = "User " . ($t->{user}{secret} // '') . ", Organization " . ($t->{organization}{secret} // '');

    expect(call($name, GET => 'elements/jira', auth => $auth), 200, 'before: GET /elements/jira');
    expect(call($name, GET => 'elements/acme-widgets', auth => $auth), 404,
           'before: GET /elements/acme-widgets', message => qr/acme-widgets/);
    expect(call($name, POST => 'instances', auth => $auth,
                json => { element => { key => 'acme-widgets' }, name => 'Acme 1',
                          configuration => { 'acme.api.key' => 'k' } }),
           400, 'before: POST an acme-widgets instance');

    # The edit: one element appended to the file, then a graceful restart.
    spew($cat, catalog_plus($NEW_ELEMENT));
    syntax_ok($conf, 'edited catalog');
    ($rc, $out) = run_cmd(30, $HTTPD, '-f', $conf, '-k', 'graceful');
    is $rc, 0, 'apache2 -k graceful' or diag($out);
    my $res;
    ok wait_for(20, sub {
        $res = call($name, GET => 'elements/acme-widgets', auth => $auth);
        $res->{status} == 200;
    }), 'after graceful: GET /elements/acme-widgets answers 200 (within 20 s)' or diag(describe($res));
    expect($res, 200, 'after: GET /elements/acme-widgets');
    my $got = $res->{json} || {};
    is_deeply [@$got{qw(id key name)}], [90001, 'acme-widgets', 'Acme Widgets'],
              'after: the new element id, key, name';
    is_deeply $got->{configuration},
              [{ key => 'acme.api.key', name => 'API key', type => 'PASSWORD',
                 required => JSON::PP::true, defaultValue => undef, description => '' }],
              'after: its configuration spec';
    expect(call($name, GET => 'elements/90001', auth => $auth), 200, 'after: GET /elements/90001');
    $res = call($name, GET => 'elements', auth => $auth);
    my @keys = map { $_->{key} } @{ ref $res->{json} eq 'ARRAY' ? $res->{json} : [] };
    is_deeply [sort @keys], [sort 'acme-widgets', map { $_->{key} } @{ $SEED_CAT->{elements} }],
              'after: GET /elements is the seed catalog plus acme-widgets';
    is pid_of($name), $pid, 'after: the same master process (a graceful restart, no new server)';
    is join(':', (stat $MODULE)[1, 7, 9]), $so_before, 'after: the module file is untouched';

    expect(call($name, POST => 'instances', auth => $auth,
                json => { element => { key => 'acme-widgets' }, name => 'Acme 1' }),
           400, 'POST acme-widgets without configuration', message => qr/\bacme\.api\.key\b/);
    expect(call($name, POST => 'instances', auth => $auth,
                json => { element => { key => 'acme-widgets' }, name => 'Acme 1',
                          configuration => {} }),
           400, 'POST acme-widgets with {} configuration', message => qr/\bacme\.api\.key\b/);
    my $secret = 'acme-secret-value-14';
    $res = call($name, POST => 'instances', auth => $auth,
                json => { element => { key => 'acme-widgets' }, name => 'Acme 1',
                          configuration => { 'acme.api.key' => $secret } });
    expect($res, 200, 'POST acme-widgets with acme.api.key');
    my $i = $res->{json} || {};
    is_deeply [@{ $i->{element} || {} }{qw(id key name)}], [90001, 'acme-widgets', 'Acme Widgets'],
              'the instance is of the new element';
    is_deeply $i->{configuration}, { 'acme.api.key' => '********' }, 'its key is masked ********';
    ok $i->{valid} && JSON::PP::is_bool($i->{valid}), 'the instance is valid';
    ok index($res->{content}, $secret) < 0, 'the secret is not in the response';
    if ($i->{id}) {
        $res = call($name, GET => "instances/$i->{id}", auth => $auth);
        expect($res, 200, 'GET the new instance');
        is(($res->{json} || {})->{configuration}{'acme.api.key'}, '********', 'GET: masked');
    }
    else {
        fail 'GET the new instance: no id' for 1 .. 3;
    }

    # A broken edit is caught by `apache2 -t` (what apache2ctl graceful runs
    # first) while the running server keeps serving the catalog it has.
    spew($cat, catalog_plus($NEW_ELEMENT, { id => 90001, key => 'acme-again', name => 'Again' }));
    syntax_error($conf, 'CEInstancesCatalog', 'broken edit',
                 qr/: elements\[\d+\] \('acme-again'\): duplicate id 90001 \(also used by 'acme-widgets'\)$/);
    expect(call($name, GET => 'elements/acme-widgets', auth => $auth), 200,
           'broken edit, no restart: acme-widgets still served');
    # Fixed again; `apache2 -k stop` reads the config too, and refuses to act
    # (exit 1, the same syntax error) while the catalog is broken.
    spew($cat, catalog_plus($NEW_ELEMENT));
    syntax_ok($conf, 'fixed edit');

    ok stop_server($name), 'apache2 -k stop: the master exits (within 20 s)';
    ok !-e "$TMP/run/$name.pid", 'the pid file is gone';
    ok !listening($PORT{$name}), 'nothing listens on its port';
}

# No httpd of ours crashed (what scripts/test.sh checks in t/logs/error_log).
my @crash;
for my $log (glob "$TMP/logs/*error_log") {
    push @crash, grep { /exit signal|AddressSanitizer|LeakSanitizer|runtime error:/ }
        split /\n/, slurp($log);
}
is_deeply \@crash, [], 'no crash in the error logs of these servers';

done_testing;
