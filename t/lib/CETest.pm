package CETest;
# CETest: shared helpers of the mod_ceinstances Apache::Test suite.
#
#   tenants    signup/add_user/rotate_* through build/ceadmin on the database
#              the server under test uses; auth() builds the header.
#   requests   api(METHOD, PATH, auth => ..., json => ... | body => ...) sends
#              one request to /elements/api-v2/PATH and returns a CETest::Res
#              (the HTTP::Response plus its decoded JSON).
#   assertions expect_ok / expect_error / expect_instance / unchanged — each
#              one Test::More assertion per aspect (status, headers, body).
#   database   snapshot() of every table (row count + content digest) to prove
#              a failed request wrote nothing; db_contains() for what the API
#              never shows (stored secrets, providerData); db_instances() for
#              a tenant's stored instance ids and tag rows.
#   nodes      more httpd servers (free ports, start, stop, crash):
#              CETest::Node, re-exported here. The suite's OAuth 2 server:
#              CETest::OAuth, re-exported too.
#   raw HTTP   requests as bytes on sockets the test controls (malformed
#              requests, 100 Continue, bodies sent later, many at once):
#              CETest::Raw, re-exported here; raw_res() makes its answer a
#              CETest::Res for the assertions.
#
# The database comes from Apache::Test::vars (set by t/TEST.PL): ce_dbd_driver
# and ce_dbd_params; %DRIVERS says how to reach each driver's database
# (connect + list tables).
use strict;
use warnings;

use Exporter 'import';
use B ();
use Carp ();
use Digest::MD5 ();
use Encode ();
use HTTP::Request ();
use JSON::PP ();
use MIME::Base64 ();
use URI ();

use File::Spec ();
use HTTP::Response ();

use Apache::Test ();
use Apache::TestRequest ();
use CETest::Node;    # re-exported: see @EXPORT
use CETest::Raw;     # re-exported: see @EXPORT
use CETest::OAuth;   # re-exported: see @EXPORT
require Test::More;

our @EXPORT = (qw(
    api auth signup add_user rotate_user rotate_org ceadmin
    expect_ok expect_error expect_instance expect_element unchanged snapshot db_contains
    db_instances
    create_instance valid_config catalog catalog_element expected_element
    json_true json_false is_json_true is_json_false is_json_number
    ids_of allow_set encode_json decode_json uniq_name $BASE
    db_spec with_db pg_ctl pg_createdb raw_res
    stored_config stored_holds token_digest remember_secrets secrets_file oauth_code_for
), @CETest::Node::EXPORT, @CETest::Raw::EXPORT, @CETest::OAuth::EXPORT);

our $BASE = '/elements/api-v2';

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $CONTRACT_JSON = JSON::PP->new->utf8->canonical;
sub encode_json { $JSON->encode($_[0]) }
sub decode_json { $JSON->decode($_[0]) }
sub json_true  { JSON::PP::true() }
sub json_false { JSON::PP::false() }

sub vars { Apache::Test::vars(@_) }

# A name no other test (or earlier run against the same database) uses.
my $seq = 0;
sub uniq_name {
    my $prefix = shift // 'x';
    return sprintf '%s-%d-%d-%d', $prefix, $$, time, ++$seq;
}

# ---------------------------------------------------------------- database

my %DRIVERS = (
    sqlite3 => {
        connect => sub {
            require DBI;
            my $file = shift;
            # Read-write open (we only read): a read-only open of a WAL
            # database fails when no -shm file exists yet.
            my $dbh = DBI->connect("dbi:SQLite:dbname=$file", '', '',
                                   { RaiseError => 1, PrintError => 0 });
            $dbh->sqlite_busy_timeout(5000);
            return $dbh;
        },
        tables => q{SELECT name FROM sqlite_master WHERE type = 'table'
                    AND name NOT LIKE 'sqlite_%' ORDER BY name},
        # (count, every row as quote()d columns, sorted, joined)
        rows => sub {
            my($dbh, $t) = @_;
            my $cols = $dbh->selectcol_arrayref(qq{SELECT name FROM pragma_table_info('$t')});
            my $row = join q{ || char(31) || }, map { qq{quote("$_")} } @$cols;
            return qq{SELECT count(*), group_concat(r, char(30))
                      FROM (SELECT $row AS r FROM "$t" ORDER BY 1)};
        },
    },
    pgsql => {
        connect => sub {
            require DBI;
            # DBDParams "host=... port=... dbname=... user=..." -> a DBI dsn
            my %p = map { split /=/, $_, 2 } split ' ', shift;
            my $user = delete $p{user} // '';
            my $pass = delete $p{password} // '';
            my $dsn = 'dbi:Pg:' . join ';', map { "$_=$p{$_}" } sort keys %p;
            return DBI->connect($dsn, $user, $pass,
                                { RaiseError => 1, PrintError => 0, pg_enable_utf8 => 1 });
        },
        tables => q{SELECT table_name FROM information_schema.tables
                    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                    ORDER BY table_name},
        rows => sub {
            my($dbh, $t) = @_;
            return qq{SELECT count(*), string_agg(r, chr(30) ORDER BY r)
                      FROM (SELECT "$t"::text AS r FROM "$t") AS s};
        },
    },
);

sub db_spec { vars('ce_dbd_driver') . ':' . vars('ce_dbd_params') }

# with_db(CODE [, DRIVER, PARAMS]): CODE->($dbh, $driver_entry) on the
# suite's database (or the one given), connection closed afterwards.
sub with_db {
    my($cb, $driver, $params) = @_;
    $driver //= vars('ce_dbd_driver');
    $params //= vars('ce_dbd_params');
    my $d = $DRIVERS{$driver}
        or Carp::croak("CETest: no database helper for driver $driver");
    my $dbh = $d->{connect}->($params);
    my @r = eval { $cb->($dbh, $d) };
    my $err = $@;
    $dbh->disconnect;
    die $err if $err;
    return wantarray ? @r : $r[0];
}

# { table => "rows:<n> md5:<digest of all rows>" } for every table. The
# rows are rendered, ordered and joined by the database (the dialect's
# `rows` SQL), so a snapshot costs milliseconds however many rows earlier
# tests left (fetched row by row into Perl it cost 0.3 s with t/18's, and
# t/20's 600 snapshots took 200 s).
sub snapshot {
    return with_db(sub {
        my($dbh, $d) = @_;
        my %snap;
        for my $t (@{ $dbh->selectcol_arrayref($d->{tables}) }) {
            my($n, $all) = $dbh->selectrow_array($d->{rows}->($dbh, $t));
            $all //= '';
            utf8::encode($all) if utf8::is_utf8($all);
            $snap{$t} = sprintf 'rows:%d md5:%s', $n, Digest::MD5::md5_hex($all);
        }
        \%snap;
    });
}

# Instance $id's configuration as stored, secrets opened (ceadmin
# instance-config: the administrator's view, with the key file).
sub stored_config {
    my $id = shift;
    my $cfg = ceadmin('instance-config', '--instance-id', $id)->{instance}{configuration};
    # Whatever secret it holds (a provider's tokens too) is in t/99's scan.
    remember_secrets(secret_values($cfg));
    return $cfg;
}

# The keyed digest the database keeps of $token (ce_crypto_keyed_digest:
# HMAC-SHA-256 under the key file's digest key of the hex SHA-256).
sub token_digest {
    my $token = shift;
    require Digest::SHA;
    open my $fh, '<', vars('ce_key_file') or die "CETest: key file: $!";
    my($b64) = map { /^digest (\S+)/ ? $1 : () } <$fh>;
    close $fh;
    return Digest::SHA::hmac_sha256_hex(Digest::SHA::sha256_hex($token),
                                        MIME::Base64::decode_base64($b64));
}

# Whether instance $id's stored configuration has an entry equal to $value.
sub stored_holds {
    my($id, $value) = @_;
    return scalar grep { defined && $_ eq $value } values %{ stored_config($id) };
}

# Whether any stored value anywhere contains $needle (a plain substring).
sub db_contains {
    my $needle = shift;
    return with_db(sub {
        my($dbh, $d) = @_;
        for my $t (@{ $dbh->selectcol_arrayref($d->{tables}) }) {
            for my $row (@{ $dbh->selectall_arrayref(qq{SELECT * FROM "$t"}) }) {
                return 1 if grep { defined && index($_, $needle) >= 0 } @$row;
            }
        }
        0;
    });
}

# What the database holds for tenant $t's user: { instance id => [its tag
# rows, sorted] } (compared with what the API answered, e.g. after a
# concurrent run).
sub db_instances {
    my $t = shift;
    return with_db(sub {
        my($dbh) = @_;
        my %got = map { $_ => [] } @{ $dbh->selectcol_arrayref(
            'SELECT id FROM ce_instance WHERE user_id = ?', undef, $t->{user_id}) };
        my $tags = $dbh->selectall_arrayref(
            'SELECT g.instance_id, g.tag FROM ce_instance_tag g JOIN ce_instance i '
            . 'ON i.id = g.instance_id WHERE i.user_id = ? ORDER BY g.instance_id, g.tag',
            undef, $t->{user_id});
        push @{ $got{$_->[0]} }, $_->[1] for @$tags;
        \%got;
    });
}

# One assertion: the database is exactly as in $before.
sub unchanged {
    my($before, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::is_deeply(snapshot(), $before, "$name: nothing written");
}

# A fresh authorization code for tenant $t: the API's authorization URL of
# element o{element} (default dropbox) for suite client o{client} (default
# ce-client), followed as a browser would (oauth_code); o{node}: asked of
# that node instead of the suite's server.
sub oauth_code_for {
    my($t, %o) = @_;
    my $name = $o{client} // 'ce-client';
    my $c = oauth_client($name);
    my $u = URI->new("$BASE/elements/" . ($o{element} // 'dropbox') . '/oauth/url');
    $u->query_form(apiKey => $name, apiSecret => $c->{'oauth.api.secret'},
                   callbackUrl => $c->{'oauth.callback.url'});
    return oauth_code(api(GET => "$u", auth => $t, $o{node} ? (node => $o{node}) : ())->json->{oauthUrl});
}

# ---------------------------------------------------------------- tenants

# Runs build/ceadmin on the test database; returns its decoded JSON output.
sub ceadmin { ceadmin_on(db_spec(), vars('ce_key_file'), @_) }

# The same on the database DB_SPEC ("driver:params") with key file KEY.
sub ceadmin_on {
    my($db, $key, @args) = @_;
    my @cmd = (vars('ce_ceadmin'), '--db', $db, '--key', $key, @args);
    open my $fh, '-|', @cmd or die "cannot run @cmd: $!";
    my $out = do { local $/; <$fh> };
    close $fh;
    die "ceadmin @args failed (exit " . ($? >> 8) . "): $out\n" if $?;
    my $j = eval { decode_json($out) } or die "ceadmin @args printed no JSON: $out\n";
    return $j;
}

sub tenant_from {
    my($org, $user) = @_;
    remember_secrets($org->{secret}, $user->{secret});
    return {
        org_id      => $org->{id},
        org_name    => $org->{name},
        org_secret  => $org->{secret},
        user_id     => $user->{id},
        email       => $user->{emailAddress},
        first       => $user->{firstName},
        last        => $user->{lastName},
        user_secret => $user->{secret},
    };
}

# A new organization and its first user: a tenant hash (see tenant_from).
# %o: org, email, first, last; node => a CETest::Node node whose database
# (and key file) to sign up in instead of the suite's.
sub signup {
    my %o = @_;
    my $org = $o{org} // uniq_name('Org');
    my $email = $o{email} // lc(uniq_name('user')) . '@example.com';
    my @args = ('signup', '--org', $org, '--email', $email,
                '--first', $o{first} // 'Ada', '--last', $o{last} // 'Lovelace');
    my $n = $o{node};
    my $j = $n ? ceadmin_on("$n->{driver}:$n->{params}",
                            exists $n->{key} ? $n->{key} : vars('ce_key_file'), @args)
               : ceadmin(@args);
    return tenant_from($j->{organization}, $j->{user});
}

# Another user in $t's organization.
sub add_user {
    my($t, %o) = @_;
    my $email = $o{email} // lc(uniq_name('user')) . '@example.com';
    my $j = ceadmin('user-add', '--org-id', $t->{org_id}, '--email', $email,
                    '--first', $o{first} // 'Grace', '--last', $o{last} // 'Hopper');
    return tenant_from({ id => $t->{org_id}, name => $t->{org_name}, secret => $t->{org_secret} },
                       $j->{user});
}

# New secrets; the tenant hash is updated (keep a copy of the old one).
sub rotate_user {
    my $t = shift;
    $t->{user_secret} = ceadmin('rotate-user', '--user-id', $t->{user_id})->{user}{secret};
    return $t->{user_secret};
}

sub rotate_org {
    my $t = shift;
    $t->{org_secret} = ceadmin('rotate-org', '--org-id', $t->{org_id})->{organization}{secret};
    return $t->{org_secret};
}

# "User <u>, Organization <o>[, Element <token>]"
sub auth {
    my($t, %o) = @_;
    my $h = "User $t->{user_secret}, Organization $t->{org_secret}";
    $h .= ", Element $o{element}" if defined $o{element};
    return $h;
}

# ---------------------------------------------------------------- requests

# api(METHOD, PATH, %o): PATH is relative to /elements/api-v2 (a leading '/'
# makes it absolute). %o: auth => tenant hash or header string; json => data
# (sent as application/json); body => raw bytes; content_type => header (also
# overrides the json default; undef with body sends none); headers => {...};
# node => a start_node() server to send it to instead of the suite's.
sub api {
    my($method, $path, %o) = @_;
    my $url = $path =~ m{^/} ? $path : "$BASE/$path";
    my $req = HTTP::Request->new($method => $o{node} ? "http://127.0.0.1:$o{node}{port}$url"
                                                     : Apache::TestRequest::resolve_url($url));
    if (defined $o{auth}) {
        $req->header(Authorization => ref $o{auth} ? auth($o{auth}) : $o{auth});
    }
    my $ct;
    if (exists $o{json}) {
        $req->content(encode_json($o{json}));
        $ct = exists $o{content_type} ? $o{content_type} : 'application/json';
    }
    elsif (exists $o{body}) {
        $req->content($o{body});
        $ct = $o{content_type};
    }
    $req->header('Content-Type' => $ct) if defined $ct;
    $req->header('Content-Length' => length $req->content) if exists $o{json} or exists $o{body};
    while (my($k, $v) = each %{ $o{headers} || {} }) {
        $req->header($k => $v);
    }
    my $res = ($o{node} ? CETest::Node::node_agent() : Apache::TestRequest::user_agent())
        ->request($req);
    my $r = CETest::Res->new($res, "$method $url");
    remember_used($req, \%o, $r) if $res->is_success;
    record_answer($method, $url, $res);
    return $r;
}

# ---------------------------------------------------------------- contract

# Every answer of the API api() receives goes to t/var/contract/<pid>.jsonl
# (one JSON line each: method, path below $BASE as sent, status, headers,
# body), for t/98-contract.t to validate against doc/openapi.json. Not the
# API's (another Location, the gateway) and the user agent's own answers
# (no connection) are left out.
my @CONTRACT_HEADERS = qw(Content-Type Allow ETag Cache-Control Elements-Request-Id
    Elements-Element-Instance-Id Elements-Returned-Count Elements-Total-Count
    Elements-Next-Page-Token WWW-Authenticate);

sub contract_dir { File::Spec->catdir(vars('t_dir'), 'var', 'contract') }

sub record_answer {
    my($method, $url, $res) = @_;
    my $path = $url =~ s/[?#].*//sr;
    # As httpd sees it: '.' and '..' segments (also as %2e) resolved; one
    # that leaves the API, or the root, is another Location's answer.
    my @segs;
    for my $seg (split m{/}, $path =~ s/%2e/./gir, -1) {
        if ($seg eq '..') { return if @segs <= 1; pop @segs }
        elsif ($seg ne '.') { push @segs, $seg }
    }
    $path = join '/', @segs;
    return unless $path =~ s{^\Q$BASE\E(?=/|$)}{};
    return if ($res->header('Client-Warning') // '') eq 'Internal response';
    my %h;
    for my $name (@CONTRACT_HEADERS) {
        my @v = $res->header($name);
        $h{$name} = join ', ', @v if @v;
    }
    my $body = $res->content // '';
    $body = Encode::decode('UTF-8', $body) if length $body;
    my $dir = contract_dir();
    mkdir $dir unless -d $dir;
    open my $fh, '>>:raw', File::Spec->catfile($dir, "$$.jsonl") or die "CETest: $dir: $!";
    print $fh $CONTRACT_JSON->encode({
        method => $method, path => $path, status => $res->code + 0, headers => \%h,
        body => $body, test => File::Spec->abs2rel($0, vars('t_dir')),
    }), "\n";
    close $fh;
}

# raw_res(RESPONSE, WHAT): a raw_parse/raw_request response as a CETest::Res
# (WHAT names the request in diagnostics), for expect_ok/expect_error: 599
# "no answer (connection closed)" when nothing came back, 599 "not an HTTP
# response" when what came back was not one.
sub raw_res {
    my($r, $what) = @_;
    my $res = $r->{status}
        ? HTTP::Response->new($r->{status}, $r->{reason}, [@{ $r->{header_list} }], $r->{body})
        : HTTP::Response->new(599, length $r->{raw} ? 'not an HTTP response'
                                                    : 'no answer (connection closed)');
    return CETest::Res->new($res, $what);
}

# ---------------------------------------------------------------- secrets

# Every secret the suite uses goes to t/var/secrets-used (one per line), for
# t/99-logs.t to look for in every log: the user, organization and Element
# credentials of each successful request, the tokens the API hands out, and
# the secret configuration values it accepted. Shorter than 8 bytes, or with
# control characters: not kept (too common to mean anything in a log).
sub secrets_file { File::Spec->catfile(vars('t_dir'), 'var', 'secrets-used') }

sub remember_secrets {
    my @keep;
    for my $v (@_) {
        next unless defined $v && !ref $v;
        my $b = "$v";
        utf8::encode($b) if utf8::is_utf8($b);
        # (the mask answers carry is not a secret)
        push @keep, $b if length $b >= 8 && $b ne '********' && $b !~ /[\x00-\x1f\x7f]/;
    }
    return unless @keep;
    open my $fh, '>>:raw', secrets_file() or die "CETest: " . secrets_file() . ": $!";
    print $fh map { "$_\n" } @keep;
    close $fh;
}

# The values under secret-looking keys (password, secret, token) in a
# decoded JSON value, at any depth.
sub secret_values {
    my $j = shift;
    return map { secret_values($_) } @$j if ref $j eq 'ARRAY';
    return () unless ref $j eq 'HASH';
    return map {
        my $v = $j->{$_};
        ref $v ? secret_values($v) : /password|secret|token/i ? ($v) : ()
    } keys %$j;
}

sub remember_used {
    my($req, $o, $r) = @_;
    my $h = $req->header('Authorization') // '';
    remember_secrets($h =~ /\b(?:User|Organization|Element)\s+([^,\s]+)/g,
                     exists $o->{json} ? secret_values($o->{json}) : (),
                     secret_values($r->json));
}

# The Allow header as a sorted list of methods.
sub allow_set {
    my $h = shift // '';
    return [sort grep { length } map { s/^\s+|\s+$//gr } split /,/, $h];
}

# The ids of a list answer; something visibly wrong when it is not a list.
sub ids_of {
    my $l = shift;
    return ['(not a list: ' . (defined $l ? encode_json($l) : 'undef') . ')'] unless ref $l eq 'ARRAY';
    return [map { ref $_ eq 'HASH' ? $_->{id} : $_ } @$l];
}

# ---------------------------------------------------------------- assertions

sub is_json_true  { JSON::PP::is_bool($_[0]) && $_[0] ? 1 : 0 }
sub is_json_false { JSON::PP::is_bool($_[0]) && !$_[0] ? 1 : 0 }

# Whether the value at @path (keys / array indexes) of $res's body is a JSON
# number (decoded afresh: using a value as a string in Perl changes its type).
sub is_json_number {
    my($res, @path) = @_;
    my $v = eval { decode_json($res->content) };
    for my $k (@path) {
        return 0 unless ref $v;
        $v = ref $v eq 'ARRAY' ? $v->[$k] : $v->{$k};
    }
    return 0 unless defined $v and !ref $v;
    my $f = B::svref_2object(\$v)->FLAGS;
    return ($f & (B::SVp_IOK | B::SVp_NOK)) && !($f & B::SVp_POK) ? 1 : 0;
}

sub is_json_ct {
    my $ct = shift // '';
    return $ct =~ m{^application/json\s*(;.*)?$}i ? 1 : 0;
}

# 200 with a JSON body (or, with empty => 1, an empty body is fine too).
sub expect_ok {
    my($res, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $status = $o{status} // 200;
    my $ok = Test::More::is($res->code, $status, "$name: status $status")
        or Test::More::diag($res->describe);
    unless ($o{empty} and !length $res->content) {
        $ok &= Test::More::ok(is_json_ct($res->header('Content-Type')),
                              "$name: Content-Type application/json")
            or Test::More::diag('Content-Type: ' . ($res->header('Content-Type') // '(none)'));
        $ok &= Test::More::ok(defined $res->json, "$name: body is JSON")
            or Test::More::diag($res->describe);
    }
    return $ok;
}

# The realm of a 401 where no AuthName names one (mod_ce_guard.h).
our $DEFAULT_REALM = 'Cloud Elements Instances API';

# An error: status, JSON Content-Type, {"requestId","message"} body; options
# message => qr// or string (exact), allow => [methods] (405), realm =>
# the 401's WWW-Authenticate realm (default $DEFAULT_REALM). A 401 must
# carry WWW-Authenticate: User realm="...", any other error none.

sub expect_error {
    my($res, $status, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $ok = Test::More::is($res->code, $status, "$name: status $status")
        or Test::More::diag($res->describe);
    $ok &= Test::More::ok(is_json_ct($res->header('Content-Type')),
                          "$name: Content-Type application/json")
        or Test::More::diag('Content-Type: ' . ($res->header('Content-Type') // '(none)'));
    my $j = $res->json;
    $ok &= Test::More::ok(ref $j eq 'HASH'
                          && defined $j->{requestId} && !ref $j->{requestId} && length $j->{requestId}
                          && defined $j->{message} && !ref $j->{message} && length $j->{message},
                          "$name: body {requestId, message}")
        or Test::More::diag($res->describe);
    if (defined(my $m = $o{message})) {
        my $got = ref $j eq 'HASH' ? $j->{message} // '' : '';
        $ok &= ref $m eq 'Regexp'
            ? Test::More::like($got, $m, "$name: message")
            : Test::More::is($got, $m, "$name: message");
    }
    if (my $allow = $o{allow}) {
        $ok &= Test::More::is_deeply(allow_set(scalar $res->header('Allow')), [sort @$allow],
                                     "$name: Allow");
    }
    # Every 401 says how to authenticate (README, "Errors"), nothing else does.
    my @challenge = $res->header('WWW-Authenticate');
    if ($status == 401) {
        my $realm = $o{realm} // $DEFAULT_REALM;
        $ok &= Test::More::is(join('|', @challenge), qq{User realm="$realm"},
                              "$name: WWW-Authenticate");
    } else {
        $ok &= Test::More::ok(!@challenge, "$name: no WWW-Authenticate")
            or Test::More::diag("WWW-Authenticate: @challenge");
    }
    return $ok;
}


# ---------------------------------------------------------------- catalog

my $CATALOG;
sub catalog {
    return $CATALOG //= do {
        open my $fh, '<:raw', vars('ce_catalog') or die "cannot read catalog: $!";
        local $/;
        decode_json(<$fh>);
    };
}

sub catalog_element {
    my $ref = shift;
    for my $e (@{ catalog()->{elements} }) {
        return $e if $e->{key} eq $ref or ($ref =~ /^\d+$/ and $e->{id} == $ref);
    }
    return undef;
}

my @ELEMENT_STRINGS = qw(name key description image existingAccountDescription
                         configDescription signupURL hub elementProvisionType);
my @ELEMENT_BOOLS   = qw(deleted typeOauth trialAccount transformationsEnabled);

# The element object as embedded in instances (ce_catalog.h: strings default
# to "", booleans to false, active to true).
sub expected_element {
    my $e = catalog_element(shift) or return undef;
    my %x = (id => $e->{id});
    $x{$_} = $e->{$_} // '' for @ELEMENT_STRINGS;
    $x{$_} = $e->{$_} // json_false() for @ELEMENT_BOOLS;
    $x{active} = $e->{active} // json_true();
    return \%x;
}

# One assertion: $got is the catalog's element object for $ref.
sub expect_element {
    my($got, $ref, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::is_deeply($got, expected_element($ref), "$name: element is the catalog's $ref");
}

# Required configuration that satisfies each seed element.
my %VALID = (
    amazons3 => {
        'filemanagement.provider.access_key'  => 'AKIAEXAMPLEKEY',
        'filemanagement.provider.secret_key'  => 's3-secret-value',
        'filemanagement.provider.bucket_name' => 'my-bucket',
        'filemanagement.provider.region_name' => 'us-east-1',
    },
    jira => {
        'jira.username' => 'ada',
        'jira.password' => 'jira-secret-value',
        'jira.api.url'  => 'https://acme.atlassian.net',
    },
    epages => {
        'epages.access.token' => 'epages-secret-token',
        'base.url'            => 'https://devshop.epages.com/rs/shops/acme',
    },
    map { $_ => {
        'oauth.callback.url' => 'https://www.cloud-elements.com',
        'oauth.api.key'      => "$_-api-key",
        'oauth.api.secret'   => "$_-api-secret",
    } } qw(dropbox box sfdc sfdcservicecloud),
);

sub valid_config { +{ %{ $VALID{$_[0]} || Carp::croak("no valid config for $_[0]") } } }

# POSTs a valid instance of element $key for tenant $t (fields in %body
# override); asserts 200 and returns the instance JSON (undef on failure).
sub create_instance {
    my($t, $key, %body) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $path = delete $body{_path} // 'instances';
    my %b = (element => { key => $key }, name => uniq_name($key),
             configuration => valid_config($key), %body);
    delete $b{element} if exists $body{element} and !defined $body{element};
    my $res = api(POST => $path, auth => $t, json => \%b);
    Test::More::is($res->code, 200, "create $key instance ($path)") or Test::More::diag($res->describe);
    return $res->code == 200 ? $res->json : undef;
}

my $DATE = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
my @INSTANCE_KEYS = sort qw(id name token element tags configuration provisionInteractions
    valid externalAuthentication disabled maxCacheSize cacheTimeToLive cachingEnabled
    eventsEnabled traceLoggingEnabled user createdDate updatedDate);

# The shape of an instance (a hashref from $res->json or a list entry), with
# optional exact expectations: element => key, name, tags, user => tenant,
# configuration => {subset}, disabled/valid => 0|1. One subtest.
sub expect_instance {
    my($i, $name, %x) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::subtest("$name: instance" => sub {
        unless (ref $i eq 'HASH') {
            Test::More::fail('is an object');
            return;
        }
        # invalidReason: only when an OAuth instance is not valid
        Test::More::is_deeply([sort grep { $_ ne 'invalidReason' || !$i->{valid} } keys %$i],
                              [sort @INSTANCE_KEYS, exists $i->{invalidReason} ? 'invalidReason' : ()],
                              'exactly the documented fields')
            or Test::More::diag('keys: ' . join ', ', sort keys %$i);
        Test::More::like($i->{externalAuthentication} // '', qr/^(none|initial)$/,
                         'externalAuthentication none or initial');
        Test::More::like($i->{id} // '', qr/^[1-9]\d*$/, 'id is a positive integer');
        Test::More::ok(defined $i->{token} && $i->{token} =~ m{^[A-Za-z0-9+/]{43}=$}
                       && length(MIME::Base64::decode_base64($i->{token})) == 32,
                       'token: base64 of 32 bytes');
        Test::More::is(ref $i->{tags}, 'ARRAY', 'tags is an array');
        Test::More::ok(!grep({ ref } @{ $i->{tags} || [] }), 'tags are strings');
        Test::More::is(ref $i->{configuration}, 'HASH', 'configuration is an object');
        Test::More::is_deeply($i->{provisionInteractions}, [], 'provisionInteractions []');
        for my $b (qw(valid disabled cachingEnabled eventsEnabled traceLoggingEnabled)) {
            Test::More::ok(JSON::PP::is_bool($i->{$b}), "$b is a boolean");
        }
        for my $n (qw(maxCacheSize cacheTimeToLive)) {
            Test::More::like($i->{$n} // '', qr/^\d+$/, "$n is a non-negative integer");
        }
        Test::More::like($i->{createdDate} // '', $DATE, 'createdDate ISO 8601 UTC ms');
        Test::More::like($i->{updatedDate} // '', $DATE, 'updatedDate ISO 8601 UTC ms');
        Test::More::ok(($i->{updatedDate} // '') ge ($i->{createdDate} // ''), 'updated >= created');
        Test::More::is_deeply([sort keys %{ $i->{user} || {} }],
                              [sort qw(id emailAddress firstName lastName)], 'user fields');
        Test::More::ok(!exists $i->{providerData}, 'no providerData');
        expect_element($i->{element}, $x{element}, 'element') if defined $x{element};
        Test::More::is($i->{name}, $x{name}, 'name') if exists $x{name};
        Test::More::is_deeply($i->{tags}, $x{tags}, 'tags') if exists $x{tags};
        if (my $t = $x{user}) {
            Test::More::is_deeply($i->{user},
                { id => $t->{user_id}, emailAddress => $t->{email},
                  firstName => $t->{first}, lastName => $t->{last} }, 'user is the caller');
        }
        if (my $c = $x{configuration}) {
            for my $k (sort keys %$c) {
                Test::More::is_deeply($i->{configuration}{$k}, $c->{$k}, "configuration $k");
            }
        }
        for my $b (qw(valid disabled)) {
            next unless exists $x{$b};
            Test::More::ok($x{$b} ? is_json_true($i->{$b}) : is_json_false($i->{$b}),
                           "$b is " . ($x{$b} ? 'true' : 'false'));
        }
    });
}

# pg_ctl(stop|start|kill|createdb NAME): the suite's throwaway PostgreSQL (test.sh passes
# its directory in CE_TEST_PG_DIR); dies when there is none.
sub pg_ctl {
    my $cmd = shift;
    my $dir = $ENV{CE_TEST_PG_DIR} or die "CETest: no CE_TEST_PG_DIR\n";
    my $out = `"@{[ vars('top_dir') ]}/scripts/pg.sh" $cmd "$dir" @_ 2>&1`;
    die "CETest: pg.sh $cmd failed: $out\n" if $?;
    return $out;
}

# pg_createdb(NAME): a new, empty database NAME (dropped first if there)
# in the suite's throwaway PostgreSQL; its DBDParams.
sub pg_createdb {
    my $name = shift;
    my $params = pg_ctl("createdb", $name);
    chomp $params;
    return $params;
}

package CETest::Res;

sub new {
    my($class, $res, $what) = @_;
    my $self = bless { res => $res, what => $what }, $class;
    $self->{json} = eval { CETest::decode_json($res->content) } if length $res->content;
    return $self;
}

sub code    { $_[0]{res}->code }
sub header  { $_[0]{res}->header($_[1]) }
sub content { $_[0]{res}->content }
sub json    { $_[0]{json} }
# The body as a list, or [] when it is not one (so a test never dies on it).
sub list    { ref $_[0]{json} eq 'ARRAY' ? $_[0]{json} : [] }
sub res     { $_[0]{res} }

# "PUT /elements/api-v2/instances/3 -> 400 {...}" for diagnostics.
sub describe {
    my $self = shift;
    my $body = $self->content // '';
    $body = substr($body, 0, 600) . '...' if length $body > 600;
    my $h = join ', ', map { "$_: " . ($self->header($_) // '') }
        grep { defined $self->header($_) } qw(Content-Type Allow Elements-Next-Page-Token);
    return sprintf '%s -> %s [%s] %s', $self->{what}, $self->{res}->status_line, $h, $body;
}

1;
