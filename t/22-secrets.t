# 22-secrets: secrets at rest and in logs.
#   - the raw database holds no token, user/organization secret or secret
#     configuration value in any form the API accepts or returns;
#   - a stored value that fails authentication (tampered) makes that
#     instance a 500 JSON error, logged without its content, and nothing
#     else; a server with another key file refuses to serve the database;
#   - ceadmin rekey re-seals everything under a rotated key file's new key
#     (t/29-rekey-online.t does it under load, on two nodes), after which a
#     server with it serves every instance and the old key alone opens
#     nothing;
#   - at LogLevel trace8, with an access log, no secret appears in any log;
#   - other modules' Authorization (Basic) still works in the same server.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use MIME::Base64 ();
use Apache::Test qw(-withtestmore);
use CETest;

my $driver = Apache::Test::vars('ce_dbd_driver');
my $ceadmin = Apache::Test::vars('ce_ceadmin');
my $tdir = Apache::Test::vars('t_dir');

# A database of our own (file or PostgreSQL database) and a key for it.
my $n = 0;
sub own_db {
    my $name = sprintf 'ce_secrets_%d_%d', $$, ++$n;
    if ($driver eq 'sqlite3') {
        my $file = "$tdir/var/$name.db";
        return ($file, sub { unlink $file, "$file-wal", "$file-shm" });
    }
    with_db(sub { $_[0]->do(qq{CREATE DATABASE "$name"}) });
    (my $params = Apache::Test::vars('ce_dbd_params')) =~ s/\bdbname=\S+/dbname=$name/;
    return ($params, sub { with_db(sub { $_[0]->do(qq{DROP DATABASE IF EXISTS "$name"}) }) });
}
sub keygen {
    my($path, @opt) = @_;
    unlink $path;
    system($ceadmin, 'keygen', $path, @opt) == 0 or die "keygen $path failed\n";
    return $path;
}
sub admin {
    my($params, $key, @args) = @_;
    my $out = `"$ceadmin" --db "$driver:$params" --key "$key" @args 2>&1`;
    return ($? >> 8, $out, eval { decode_json($out) });
}
sub grep_file {
    my($file, $needle) = @_;
    open my $fh, '<:raw', $file or return 0;
    local $/;
    my $text = <$fh>;
    return ref $needle ? $text =~ $needle : index($text, $needle) >= 0;
}

my $key_a = keygen("$tdir/var/secrets-a-$$.key");
my ($params, $drop) = own_db();
my $node = start_node(name => 'secrets', driver => $driver, params => $params, key => $key_a,
                      procs => 1, threads => 8,
                      extra => ['LogLevel trace8',
                                'CustomLog "@DIR@/access_log" combined']);
END { stop_node($node) if $node; $drop->() if $drop }
my $access = "$node->{dir}/access_log";

my($rc, $out, $j) = admin($params, $key_a, 'signup', '--org', 'Sec', '--email', 's@example.com');
is $rc, 0, 'signup' or diag $out;
my $t = { user_secret => $j->{user}{secret}, org_secret => $j->{organization}{secret},
          user_id => $j->{user}{id}, org_id => $j->{organization}{id} };

my %secret = (jira => 'jira-pass-' . $$, s3 => 'aws-secret-' . $$);
my %made;
for my $case (['jira', { 'jira.username' => 'ada', 'jira.password' => $secret{jira},
                         'jira.api.url' => 'https://jira.example' }],
              ['amazons3', { %{ valid_config('amazons3') } }]) {
    my($key, $cfg) = @$case;
    $cfg->{'filemanagement.provider.secret_key'} = $secret{s3} if $key eq 'amazons3';
    my $res = api(POST => 'instances', auth => $t, node => $node,
                  json => { element => { key => $key }, name => "sec $key", tags => ['sec'],
                            configuration => $cfg });
    expect_ok($res, "create $key");
    $made{$key} = $res->json;
}
# use every secret once more: the Element token, a PATCH of the password
expect_ok(api(GET => 'instances', auth => auth($t, element => $made{jira}{token}), node => $node),
          'Element token accepted');
expect_ok(api(PATCH => "instances/$made{jira}{id}", auth => $t, node => $node,
              json => { configuration => { 'jira.password' => "$secret{jira}-2" } }),
          'PATCH the password');
expect_error(api(GET => 'instances', node => $node,
                 auth => "User $t->{user_secret}x, Organization $t->{org_secret}"),
             401, 'a wrong secret');

# --- at rest -----------------------------------------------------------------
my @needles = ($t->{user_secret}, $t->{org_secret}, $secret{jira}, "$secret{jira}-2", $secret{s3},
               map { $made{$_}{token} } keys %made);
my @forms = map { ($_, unpack('H*', $_)) } @needles;                 # as given, as hex
push @forms, map { unpack 'H*', MIME::Base64::decode_base64($_) }   # raw bytes of base64 ones
    grep { m{^[A-Za-z0-9+/]{43}=$} } @needles;
my $everything = with_db(sub {
    my($dbh, $d) = @_;
    my $all = '';
    for my $tbl (@{ $dbh->selectcol_arrayref($d->{tables}) }) {
        $all .= join "\n", map { join "\t", map { $_ // '' } @$_ }
            @{ $dbh->selectall_arrayref(qq{SELECT * FROM "$tbl"}) };
    }
    lc $all;
}, $driver, $params);
ok length $everything > 1000, 'the raw database was read';
my @found = grep { index($everything, lc $_) >= 0 } @forms;
is scalar @found, 0, 'no secret, password or token in the raw database, in any form'
    or diag "found: @found";

# --- logs at trace8 ----------------------------------------------------------
stop_node($node);
my @leaks = grep { grep_file("$node->{dir}/error_log", $_) || grep_file($access, $_) } @needles;
ok -s "$node->{dir}/error_log" > 10_000, 'the trace8 error_log has content';
ok -s $access, 'the access log has content';
is scalar @leaks, 0, 'no secret, password or token in error_log or access_log at trace8'
    or diag "leaked: @leaks";
$node = start_node(%$node, tries => 20);

# --- tampering ---------------------------------------------------------------
my($jid, $sid) = ($made{jira}{id}, $made{amazons3}{id});
with_db(sub {
    my $dbh = shift;
    my($tok) = $dbh->selectrow_array('SELECT token FROM ce_instance WHERE id = ?', undef, $jid);
    substr($tok, 10, 1) = substr($tok, 10, 1) eq 'A' ? 'B' : 'A';
    $dbh->do('UPDATE ce_instance SET token = ? WHERE id = ?', undef, $tok, $jid);
}, $driver, $params);
my $res = api(GET => "instances/$jid", auth => $t, node => $node);
expect_error($res, 500, 'GET the tampered instance');
unlike $res->content, qr/\Q$made{jira}{name}\E|fails/, 'the answer says nothing of it';
expect_ok(api(GET => "instances/$sid", auth => $t, node => $node), 'the other instance is fine');
ok grep_file("$node->{dir}/error_log", "Instance $jid: the stored token fails authentication"),
    'the log names the instance and what failed';
# One unreadable instance does not break the account's list.
$res = api(GET => 'instances', auth => $t, node => $node);
expect_ok($res, 'the list with a tampered instance in it');
my($listed) = grep { $_->{id} == $jid } @{ $res->json || [] };
ok $listed, 'the tampered instance is listed';
ok $listed && is_json_false($listed->{valid}), 'as not valid';
ok $listed && !defined $listed->{token}, 'without its token';
ok !(grep { ($_ // '') eq valid_config('jira')->{'jira.password'} }
     values %{ ($listed // {})->{configuration} || {} }), 'nor its secret values';
ok((grep { $_->{id} == $sid && is_json_true($_->{valid}) && $_->{token} } @{ $res->json || [] }),
   'the other instance is listed as usual');
ok grep_file("$node->{dir}/error_log", qr/CE00032: Instance $jid: the stored token fails/),
    'the log names it (CE00032)';

# --- another key: refused --------------------------------------------------
my $key_x = keygen("$tdir/var/secrets-x-$$.key");
($rc, $out) = admin($params, $key_x, 'list-orgs');
isnt $rc, 0, 'ceadmin with another key file is refused';
like $out, qr/key file does not match this database/, 'and says why';
# httpd says it started (apache2 -k start daemonizes first), then stops
# when its first child finds the key is not the database's.
my $wrong = start_node(name => 'secrets-wrong', driver => $driver, params => $params, key => $key_x,
                       procs => 2, threads => 4, wait => 0);
my $wpid = wait_until(10, sub { node_pid($wrong) });
ok $wpid, 'the server with another key file got as far as writing its pid';
ok wait_gone($wpid), 'and then stopped by itself' or stop_node($wrong);
ok grep_file("$wrong->{dir}/error_log",
             qr/CE00025: The key file does not match this database.*refusing to serve with it/),
   'its log says why (CE00025)';
ok grep_file("$wrong->{dir}/error_log", qr/AH00050|exiting/), 'and httpd says it is exiting';
my @key_material = do {
    open my $kf, '<', $key_x or die "$key_x: $!";
    map { /^(?:encryption|digest) (\S+)/ ? $1 : () } <$kf>;
};
is scalar(@key_material), 2, 'the key file has its two keys';
ok !(grep { grep_file("$wrong->{dir}/error_log", $_) } @key_material), 'neither is in the log';

# --- rekey -------------------------------------------------------------------
# The rotated file first (it opens what A sealed), then rekey, online.
my $key_b = keygen("$tdir/var/secrets-b-$$.key", '--rotate', $key_a);
my $res_before = api(GET => "instances/$sid", auth => $t, node => $node)->json;
stop_node($node);
$node = start_node(%$node, key => $key_b, tries => 20);
$res = api(GET => "instances/$sid", auth => $t, node => $node);
expect_ok($res, 'the server with the rotated key file reads what the old key sealed');
($rc, $out) = admin($params, $key_b, 'rekey');
is $rc, 1, 'rekey re-seals what opens and exits 1 for what does not';
like $out, qr/"unreadable":\["Instance $jid: /, 'naming the tampered instance';
expect_ok(api(DELETE => "instances/$jid", auth => $t, node => $node), 'delete the tampered one',
          empty => 1);
($rc, $out) = admin($params, $key_b, 'rekey');
is $rc, 0, 'ceadmin rekey' or diag $out;
($rc, $out) = admin($params, $key_b, 'verify');
is $rc, 0, 'ceadmin verify: every value opens' or diag $out;
my $key_c = keygen("$tdir/var/secrets-c-$$.key");
($rc, $out) = admin($params, $key_c, 'rekey');
isnt $rc, 0, 'rekey with a key file of another digest key is refused';
like $out, qr/keygen NEW --rotate OLD/, 'and says how to make the right one';
$res = api(GET => "instances/$sid", auth => $t, node => $node);
expect_ok($res, 'the server reads the re-sealed instance');
is_deeply $res->json, $res_before, 'unchanged by the rekey';
expect_ok(api(GET => 'instances', auth => auth($t, element => $made{amazons3}{token}), node => $node),
          'its Element token still works');
is stored_config_with($params, $key_b, $sid)->{'filemanagement.provider.secret_key'}, $secret{s3},
   'the secret opens with the new key';
($rc, $out) = admin($params, $key_a, 'list-orgs');
isnt $rc, 0, 'the old key no longer opens the database';
unlink $key_a, $key_b, $key_c, $key_x;

sub stored_config_with {
    my($p, $k, $id) = @_;
    my(undef, undef, $cfg) = admin($p, $k, 'instance-config', '--instance-id', $id);
    return $cfg ? $cfg->{instance}{configuration} : {};
}

# --- other modules' credentials in the same server --------------------------
# The module takes every Authorization header out of the request before
# httpd's trace dump, and gives it back to requests that are not the API's:
# Basic authentication (t/conf/extra.conf.in) still works next to the API.
{
    my $pw = 'not-the-api-9f2c1e7b'; # t/conf/basic.htpasswd
    my $good = MIME::Base64::encode_base64("basic-tester:$pw", '');
    my $bad = MIME::Base64::encode_base64('basic-tester:wrong-password', '');
    remember_secrets($pw, $good);
    my $res = api(GET => '/basic-protected/none');
    is $res->code, 401, 'a Basic-protected location next to the API: 401 without credentials';
    like $res->header('Content-Type'), qr{^text/html},
         'with httpd\'s own error page (the JSON error bodies are for the API only)';
    is api(GET => '/basic-protected/none', auth => "Basic $bad")->code, 401,
       '401 with a wrong password';
    is api(GET => '/basic-protected/none', auth => "Basic $good")->code, 404,
       'authenticated with the right one (then 404: no such file): the header was handed back';
}

done_testing;
