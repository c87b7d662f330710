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
# Each config is a CETest node (make_node: a free port below the ephemeral
# range, the freshly built module, as in t/conf/extra.conf.in) in a
# directory of its own under a temporary directory in t/var (ServerRoot, pid
# file, error_log; CE_TEST_KEEP=1 keeps it), with one SQLite database and the
# catalog copies beside them. Every server started here is stopped in END,
# even when a test fails or dies.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use CETest;
use Cwd ();
use File::Copy ();
use File::Path ();
use File::Temp ();
use JSON::PP ();

my $HTTPD  = '/usr/sbin/apache2';
my $T_DIR  = Cwd::abs_path(Apache::Test::vars('t_dir'));
my $MODULE = Cwd::abs_path("$T_DIR/../build/mod_ceinstances.so");
my $CEADMIN = Cwd::abs_path("$T_DIR/../build/ceadmin");
my $SEED   = Cwd::abs_path("$T_DIR/../conf/elements.json");
my $MAX_BODY_LIMIT = 64 * 1024 * 1024;    # CE_MAX_BODY_LIMIT (src/mod_ce_config.h)
# ce_catalog.h's CE_CONFIG_TYPES, as the error message lists them.
my $TYPES = 'TEXTFIELD_32, TEXTFIELD_64, TEXTFIELD_128, TEXTFIELD_1000, TEXTAREA, PASSWORD, '
          . 'BOOLEAN, NUMBER, SELECTION';

my $JSON = JSON::PP->new->utf8->canonical;

File::Path::make_path("$T_DIR/var");
my $TMP = File::Temp::tempdir('14-config-XXXXXX', DIR => "$T_DIR/var",
                              CLEANUP => !$ENV{CE_TEST_KEEP});
File::Path::make_path("$TMP/cat");

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

# The options of this test's node $name (CETest::make_node / start_node):
# its directory $TMP/$name, SQLite in $TMP/t.db, one small process without
# keep-alive, no CEInstancesCatalog unless catalog => path; %o as make_node
# (key => file or undef, dbd => 0, extra => [lines]). The extra lines (the
# directives the test is about) come last but for the Location, so httpd's
# "Syntax error on line N" points at them.
sub node_opts {
    my($name, %o) = @_;
    return (name => $name, dir => "$TMP/$name", driver => 'sqlite3', params => "$TMP/t.db",
            procs => 1, threads => 4, catalog => undef, %o,
            extra => ['Mutex file:@DIR@ default', 'KeepAlive Off', @{ $o{extra} || [] }]);
}

# A node's configuration written (nothing started): the node.
sub conf_node { make_node(node_opts(@_)) }

# The 1-based line of $node's httpd.conf that starts with $directive (the
# last one).
sub line_of {
    my($node, $directive) = @_;
    my @lines = split /\n/, slurp($node->{conf});
    my $n;
    for my $i (0 .. $#lines) {
        $n = $i + 1 if $lines[$i] =~ /^\Q$directive\E\b/;
    }
    return $n // 0;
}

sub configtest {
    my $node = shift;
    return node_ctl($node, '-t');
}

sub syntax_ok {
    my($node, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my($rc, $out) = configtest($node);
    return ok($rc == 0 && $out =~ /^Syntax OK$/m, "$name: apache2 -t exits 0, Syntax OK")
        || diag("exit $rc:\n$out");
}

# `apache2 -t` fails, on the line of $directive, with a message that starts
# with the directive's name and matches each of @like (regexes). (The
# module's messages are "<directive>: <text>"; httpd's own argument checks
# say "<directive> takes one argument, ...".)
sub syntax_error {
    my($node, $directive, $name, @like) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my($rc, $out) = configtest($node);
    my $line = line_of($node, $directive);
    ok($rc > 0 && $out !~ /Syntax OK/, "$name: apache2 -t fails")
        or diag("exit $rc:\n$out");
    # httpd: "AH00526: Syntax error on line N of FILE:\n<the module's message>"
    my($msg) = $out =~ /Syntax error on line \Q$line\E of \Q$node->{conf}\E:\n([^\n]*)/;
    like($msg // "(no syntax error on line $line:)\n$out", qr/^\Q$directive\E\b/,
         "$name: the message names $directive");
    like($msg // '', $_, "$name: the message says $_") for @like;
    return $msg;
}

# ------------------------------------------------------------ servers

my @STARTED;    # every node start_node was asked to start, for END

# Last resort for a server the test did not stop.
END {
    my $status = $?;
    stop_node($_) for @STARTED;
    $? = $status;
}

# status, JSON content type; with message => qr//, the error message.
sub expect {
    my($r, $status, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = is($r->code, $status, "$name: status $status") || diag($r->describe);
    $ok &= ok(($r->header('Content-Type') // '') =~ m{^application/json\b}i && defined $r->json,
              "$name: a JSON body")
        || diag($r->describe);
    if (my $m = $o{message}) {
        $ok &= like(ref $r->json eq 'HASH' ? $r->json->{message} // '' : '', $m, "$name: message");
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

syntax_ok(conf_node('good', catalog => $SEED), 'the seed catalog');

# Relative catalog paths are relative to ServerRoot (README).
my $rel = conf_node('relative', catalog => 'cat/relative.json');
File::Path::make_path("$rel->{dir}/cat");
File::Copy::copy($SEED, "$rel->{dir}/cat/relative.json") or die "copy: $!";
syntax_ok($rel, 'a path relative to ServerRoot');

# ================================================================ 2. bad catalogs

my $E = $N_SEED;    # the index of the first appended element
my %bad_catalog = (
    'missing file' => {
        path => "$TMP/cat/no-such-catalog.json",
        like => [qr/^CEInstancesCatalog: Cannot read element catalog \Q$TMP\E\/cat\/no-such-catalog\.json: No such file or directory$/],
    },
    'missing file, relative path' => {    # relative to ServerRoot: the node's directory
        path => 'cat/nope.json',
        like => sub { [qr/Cannot read element catalog \Q$_[0]\E\/cat\/nope\.json: No such file or directory/] },
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
    my $node = conf_node("cat-$file", catalog => $path);
    my $abs = $path =~ m{^/} ? $path : "$node->{dir}/$path";
    my @like = @{ ref $c->{like} eq 'CODE' ? $c->{like}->($node->{dir}) : $c->{like} };
    # Except when unreadable, the message names the file it is about.
    unshift @like, qr/^CEInstancesCatalog: \Q$abs\E: / if defined $c->{text};
    syntax_error($node, 'CEInstancesCatalog', "catalog: $case", @like);
}

SKIP: {
    skip 'running as root: a mode 000 file is still readable', 3 if $> == 0;
    my $path = catalog_file('unreadable', $SEED_TEXT);
    chmod 0000, $path or die "chmod $path: $!";
    syntax_error(conf_node('cat-unreadable', catalog => $path), 'CEInstancesCatalog',
                 'catalog: unreadable file (mode 000)',
                 qr/^CEInstancesCatalog: Cannot read element catalog \Q$path\E: Permission denied$/);
}

# README: CEInstancesCatalog has no default, it is required: a configuration
# with no catalog in any server fails `apache2 -t` (check_config, CE00023).
{
    my($rc, $out) = configtest(conf_node('cat-none'));
    ok $rc > 0, 'no CEInstancesCatalog at all: apache2 -t fails' or diag($out);
    like $out, qr/CE00023: CEInstancesCatalog is not set/, 'no CEInstancesCatalog: the message names it';
}

# ================================================================ 2b. CEInstancesKeyFile
# README: the key file is required where a catalog is; a missing, malformed,
# or group/world-readable one fails `apache2 -t`, naming the directive.
{
    my($rc, $out) = configtest(conf_node('key-none', catalog => $SEED, key => undef));
    ok $rc > 0, 'no CEInstancesKeyFile: apache2 -t fails' or diag($out);
    like $out, qr/CE00024: CEInstancesKeyFile is not set/, 'no CEInstancesKeyFile: the message names it';

    syntax_error(conf_node('key-missing', catalog => $SEED, key => "$TMP/no-such.key"),
                 'CEInstancesKeyFile', 'a missing key file', qr/cannot read the key file/,
                 qr/ceadmin keygen/);
    my $open = "$TMP/open.key";
    system($CEADMIN, 'keygen', $open) == 0 or die "keygen failed";
    chmod 0644, $open;
    syntax_error(conf_node('key-open', catalog => $SEED, key => $open),
                 'CEInstancesKeyFile', 'a key file others can read', qr/chmod 600/);
    my $junk = spew("$TMP/junk.key", "ceinstances-key 1\nencryption Zm9vYmFyLWtleS1ieXRlcw==\n");
    chmod 0600, $junk;
    syntax_error(conf_node('key-junk', catalog => $SEED, key => $junk),
                 'CEInstancesKeyFile', 'a malformed key file', qr/line 2 is not a valid key line/);
    my($krc, $kout) = configtest(conf_node('key-junk', catalog => $SEED, key => $junk));
    unlike $kout, qr/Zm9vYmFyLWtleS1ieXRlcw/, 'the message never shows key material';
}

# ================================================================ 3. CEInstancesMaxBodySize

for my $v ('0', '-5', 'abc', '12abc', '99999999999', '99999999999999999999', '1.5', '0x10',
           $MAX_BODY_LIMIT + 1) {
    syntax_error(conf_node('max-body', catalog => $SEED, extra => ["CEInstancesMaxBodySize $v"]),
                 'CEInstancesMaxBodySize', "CEInstancesMaxBodySize $v",
                 qr/^CEInstancesMaxBodySize: '\Q$v\E' is not a byte count between 1 and $MAX_BODY_LIMIT$/);
}
# An empty argument is refused by httpd's own TAKE1 check, which names the
# directive too.
syntax_error(conf_node('max-body', catalog => $SEED, extra => ['CEInstancesMaxBodySize ""']),
             'CEInstancesMaxBodySize', 'CEInstancesMaxBodySize ""');
for my $v (1, 1048576, $MAX_BODY_LIMIT) {
    syntax_ok(conf_node('max-body', catalog => $SEED, extra => ["CEInstancesMaxBodySize $v"]),
              "CEInstancesMaxBodySize $v");
}

# ================================================================ 4. no mod_dbd

{
    my $node = conf_node('no-dbd', dbd => 0, catalog => $SEED);
    my($trc, $tout) = configtest($node);
    ok $trc > 0, 'without mod_dbd: apache2 -t fails' or diag($tout);
    like $tout, qr/CE00020: mod_ceinstances needs mod_dbd/, 'without mod_dbd: apache2 -t says why';
    push @STARTED, $node;
    $node = start_node(%$node, fails => 1);
    my($rc, $out) = @$node{qw(start_exit start_output)};
    my $pid = node_pid($node);
    my $log = slurp($node->{error_log});
    ok !($pid && pid_alive($pid)), 'without mod_dbd: the server does not start'
        or diag("master $pid is running");
    isnt $rc, 0, 'without mod_dbd: apache2 -k start exits non-zero' or diag($out);
    like "$out\n$log", qr/CE00020: mod_ceinstances needs mod_dbd/,
         'without mod_dbd: CE00020 says mod_dbd is needed' or diag("output:\n$out\nerror_log:\n$log");
    ok !node_listening($node), 'without mod_dbd: nothing listens on its port';
    ok !$pid || !pid_alive($pid), 'without mod_dbd: no process left';
}

# ================================================================ 5. catalog edit + graceful

{
    my $cat = catalog_file('live', $SEED_TEXT);
    my $node = conf_node('live', catalog => $cat);
    syntax_ok($node, 'live server');
    my $so_before = join ':', (stat $MODULE)[1, 7, 9];

    push @STARTED, $node;
    # Not started: the same node all the same (its port, where nothing answers).
    $node = eval { start_node(%$node) } || do { diag($@); $node };
    my $pid = node_pid($node);
    ok $pid && pid_alive($pid) && node_listening($node), 'live server: started'
        or diag(($node->{start_output} // "") . "\n" . slurp($node->{error_log}));

    my $t = eval { signup(node => $node, org => 'Acme 14', email => 'ops14@example.com',
                          first => 'Ada', last => 'Ops') } || {};
    # Without a tenant nothing below can pass: one failure, not twenty.
    unless (ok $t->{user_secret} && $t->{org_secret}, 'ceadmin signup') {
        diag($@);
        last;    # out of this block (a bare block is a loop run once)
    }
    my $auth = "User " . ($t->{user_secret} // '') . ", Organization " . ($t->{org_secret} // '');

    expect(api(GET => 'elements/jira', auth => $auth, node => $node), 200, 'before: GET /elements/jira');
    expect(api(GET => 'elements/acme-widgets', auth => $auth, node => $node), 404,
           'before: GET /elements/acme-widgets', message => qr/acme-widgets/);
    expect(api(POST => 'instances', auth => $auth, node => $node,
                json => { element => { key => 'acme-widgets' }, name => 'Acme 1',
                          configuration => { 'acme.api.key' => 'k' } }),
           400, 'before: POST an acme-widgets instance');

    # The edit: one element appended to the file, then a graceful restart.
    spew($cat, catalog_plus($NEW_ELEMENT));
    syntax_ok($node, 'edited catalog');
    my($rc, $out) = node_ctl($node, '-k', 'graceful');
    is $rc, 0, 'apache2 -k graceful' or diag($out);
    my $res;
    ok wait_until(20, sub {
        $res = api(GET => 'elements/acme-widgets', auth => $auth, node => $node);
        $res->code == 200;
    }), 'after graceful: GET /elements/acme-widgets answers 200 (within 20 s)' or diag($res->describe);
    expect($res, 200, 'after: GET /elements/acme-widgets');
    my $got = $res->json || {};
    is_deeply [@$got{qw(id key name)}], [90001, 'acme-widgets', 'Acme Widgets'],
              'after: the new element id, key, name';
    is_deeply $got->{configuration},
              [{ key => 'acme.api.key', name => 'API key', type => 'PASSWORD',
                 required => JSON::PP::true, defaultValue => undef, description => '' }],
              'after: its configuration spec';
    expect(api(GET => 'elements/90001', auth => $auth, node => $node), 200, 'after: GET /elements/90001');
    $res = api(GET => 'elements', auth => $auth, node => $node);
    my @keys = map { $_->{key} } @{ $res->list };
    is_deeply [sort @keys], [sort 'acme-widgets', map { $_->{key} } @{ $SEED_CAT->{elements} }],
              'after: GET /elements is the seed catalog plus acme-widgets';
    is node_pid($node), $pid, 'after: the same master process (a graceful restart, no new server)';
    is join(':', (stat $MODULE)[1, 7, 9]), $so_before, 'after: the module file is untouched';

    expect(api(POST => 'instances', auth => $auth, node => $node,
                json => { element => { key => 'acme-widgets' }, name => 'Acme 1' }),
           400, 'POST acme-widgets without configuration', message => qr/\bacme\.api\.key\b/);
    expect(api(POST => 'instances', auth => $auth, node => $node,
                json => { element => { key => 'acme-widgets' }, name => 'Acme 1',
                          configuration => {} }),
           400, 'POST acme-widgets with {} configuration', message => qr/\bacme\.api\.key\b/);
    my $secret = 'acme-secret-value-14';
    $res = api(POST => 'instances', auth => $auth, node => $node,
                json => { element => { key => 'acme-widgets' }, name => 'Acme 1',
                          configuration => { 'acme.api.key' => $secret } });
    expect($res, 200, 'POST acme-widgets with acme.api.key');
    my $i = $res->json || {};
    is_deeply [@{ $i->{element} || {} }{qw(id key name)}], [90001, 'acme-widgets', 'Acme Widgets'],
              'the instance is of the new element';
    is_deeply $i->{configuration}, { 'acme.api.key' => '********' }, 'its key is masked ********';
    ok $i->{valid} && JSON::PP::is_bool($i->{valid}), 'the instance is valid';
    ok index($res->content, $secret) < 0, 'the secret is not in the response';
    if ($i->{id}) {
        $res = api(GET => "instances/$i->{id}", auth => $auth, node => $node);
        expect($res, 200, 'GET the new instance');
        is(($res->json || {})->{configuration}{'acme.api.key'}, '********', 'GET: masked');
    }
    else {
        fail 'GET the new instance: no id' for 1 .. 3;
    }

    # A broken edit is caught by `apache2 -t` (what apache2ctl graceful runs
    # first) while the running server keeps serving the catalog it has.
    spew($cat, catalog_plus($NEW_ELEMENT, { id => 90001, key => 'acme-again', name => 'Again' }));
    syntax_error($node, 'CEInstancesCatalog', 'broken edit',
                 qr/: elements\[\d+\] \('acme-again'\): duplicate id 90001 \(also used by 'acme-widgets'\)$/);
    expect(api(GET => 'elements/acme-widgets', auth => $auth, node => $node), 200,
           'broken edit, no restart: acme-widgets still served');
    # Fixed again; `apache2 -k stop` reads the config too, and refuses to act
    # (exit 1, the same syntax error) while the catalog is broken.
    spew($cat, catalog_plus($NEW_ELEMENT));
    syntax_ok($node, 'fixed edit');

    ok stop_node($node, ctl => 1, secs => 20), 'apache2 -k stop: the master exits (within 20 s)';
    ok !-e $node->{pidfile}, 'the pid file is gone';
    ok !node_listening($node), 'nothing listens on its port';
}

# No httpd of ours crashed (what scripts/test.sh checks in t/logs/error_log).
my @crash;
for my $log (glob "$TMP/*/error_log") {
    push @crash, grep { /exit signal|AddressSanitizer|LeakSanitizer|runtime error:/ }
        split /\n/, slurp($log);
}
is_deeply \@crash, [], 'no crash in the error logs of these servers';

done_testing;
