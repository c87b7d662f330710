# 34-oauth-failures: what the provider does wrong, injected by a scripted
# token endpoint (CETest::FakeProvider) on a node of its own (its own
# database and catalog): 5xx, garbage, no answer, answers slower than
# CEInstancesOutboundTimeout are 502 with nothing stored; the destination
# guard refuses loopback unless CEInstancesOutboundAllow allows it; a
# refresh that fails for a passing reason is retried with backoff and loses
# nothing; a refusal makes the instance not valid (saying why) until it is
# re-authenticated; an answer lost after the provider rotated the refresh
# token ends in that refusal, the stored refresh token never erased; no
# expires_in still gets refreshed; a failed revocation does not stop a delete.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Time::HiRes ();
use Apache::Test qw(-withtestmore);
use CETest;
use CETest::FakeProvider;

plan skip_all => 'the OAuth tests run with scripts/test.sh' unless oauth_url();

my $fp = fake_provider();
my $catalog = fake_catalog($fp, 'dropbox', 'box');

# A database of the node's own: the suite's server refreshes what it finds
# in its database against its own catalog.
my $db_name = "ce_fake_$$";
my($driver, $params) = (Apache::Test::vars('ce_dbd_driver'), undef);
$params = $driver eq 'sqlite3' ? Apache::Test::vars('t_dir') . "/var/$db_name.db" : pg_createdb($db_name);
unlink $params, "$params-wal", "$params-shm" if $driver eq 'sqlite3';
my $node = start_node(name => 'fake', catalog => $catalog, params => $params, outbound => 0,
                      extra => ['CEInstancesOutboundAllow 127.0.0.1', 'CEInstancesOutboundTimeout 2']);
my $t = signup(node => $node);
my $cfg = { 'oauth.callback.url' => 'https://app.example.test/cb', 'oauth.api.key' => 'k',
            'oauth.api.secret' => 'fake-client-secret' };

sub create {
    my($key, $code, %o) = @_;
    return api(POST => 'instances', auth => $t, node => $node,
               json => { element => { key => $key }, name => uniq_name($key),
                         providerData => { code => $code }, configuration => $cfg, %o });
}
sub get_instance { api(GET => "instances/$_[0]", auth => $t, node => $node)->json }
sub stored { CETest::ceadmin_on("$driver:$params", Apache::Test::vars('ce_key_file'), 'instance-config',
                        '--instance-id', $_[0])->{instance}{configuration} }
sub tries_of { scalar grep { $_->[3] eq $_[0] } @{ fake_log($fp) } }
sub count_instances { scalar @{ api(GET => 'instances', auth => $t, node => $node)->json } }

# --- the exchange fails: 502, nothing stored --------------------------------
for my $case (['500', qr/answered 500/], ['garbage', qr/answered 200/],
              ['close', qr/no answer from 127\.0\.0\.1/], ['slow', qr/no answer from 127\.0\.0\.1.*(timeout|Timeout|timed out)/]) {
    my($mode, $msg) = @$case;
    fake_mode($fp, $mode);
    my $n = count_instances();
    my $t0 = Time::HiRes::time();
    my $res = create('dropbox', "code-$mode");
    my $took = Time::HiRes::time() - $t0;
    expect_error($res, 502, "provider $mode: 502", message => $msg);
    is count_instances(), $n, "provider $mode: nothing stored";
    ok $took < 3.5, sprintf "provider %s: answered in %.1f s (timeout 2 s)", $mode, $took;
}
fake_mode($fp, 'ok');
sleep 3;    # the slow answer is done

# --- the destination guard ------------------------------------------------------
{
    my $guarded = start_node(name => 'guarded', catalog => $catalog, params => $params,
                             outbound => 0);
    my $before = scalar @{ fake_log($fp) };
    my $res = api(POST => 'instances', auth => $t, node => $guarded,
                  json => { element => { key => 'dropbox' }, name => 'g',
                            providerData => { code => 'c' }, configuration => $cfg });
    expect_error($res, 502, 'loopback without CEInstancesOutboundAllow: 502',
                 message => qr/refused.*(loopback|not allowed|http)/i);
    is scalar @{ fake_log($fp) }, $before, 'the provider was never contacted';
    stop_node($guarded);
    open my $fh, '<', $guarded->{error_log};
    ok scalar(grep { /CE00037/ } <$fh>), 'logged (CE00037)';
}

# --- refreshes that fail, then succeed ---------------------------------------
my $res = create('dropbox', 'code-1');
expect_ok($res, 'created (expires_in 2)');
my $id = $res->json->{id};
my $r1 = stored($id)->{'oauth.user.refresh_token'};
fake_mode($fp, '500');
sleep 5;
my $tries = tries_of($r1);
ok $tries >= 2 && $tries <= 5, "500s: retried with backoff ($tries tries in ~4 s)";
ok is_json_true(get_instance($id)->{valid}), '500s: still valid';
is stored($id)->{'oauth.user.refresh_token'}, $r1, '500s: the refresh token kept';
fake_mode($fp, 'ok');
ok wait_until(6, sub { (stored($id)->{'oauth.user.refresh_token'} // '') ne $r1 }),
    'the provider back: refreshed';
ok is_json_true(get_instance($id)->{valid}), 'valid';

# --- a refusal: not valid until re-authenticated --------------------------------
fake_mode($fp, 'refuse');
ok wait_until(5, sub { !is_json_true(get_instance($id)->{valid}) }), 'refused: not valid';
my $i = get_instance($id);
like $i->{invalidReason} // '', qr/refused the refresh token.*refresh token unknown or used/,
    'invalidReason: the provider\'s words';
my $kept = stored($id)->{'oauth.user.refresh_token'};
ok length $kept, 'the refresh token is not erased';
my $n = scalar @{ fake_log($fp) };
sleep 2;
is scalar @{ fake_log($fp) }, $n, 'no more refreshes after a refusal';
fake_mode($fp, 'ok');
$res = api(PATCH => "instances/$id", auth => $t, node => $node,
           json => { providerData => { code => 'code-2' } });
expect_ok($res, 're-authenticated with a new code');
ok is_json_true($res->json->{valid}), 'valid again';
ok !exists $res->json->{invalidReason}, 'no invalidReason';
# Its events (issue 14): each failed refresh, the recovery, the refusal and
# the re-authentication; the routine refreshes in between (every ~1.5 s)
# none.
my $types = join ',', reverse map { $_->{eventType} }
    @{ api(GET => "instances/$id/events?pageSize=500", auth => $t, node => $node)->list };
like $types, qr/^CREATED,(REFRESH_FAILED,){2,}REFRESH_RECOVERED,REFRESH_FAILED,REAUTHENTICATED$/,
    "its events tell the failures, the recovery, the refusal, the re-authentication ($types)";

# --- the answer lost after the provider rotated -------------------------------
$r1 = stored($id)->{'oauth.user.refresh_token'};
fake_mode($fp, 'rotate-drop');
ok wait_until(5, sub { tries_of($r1) >= 1 }), 'the provider rotated and the answer was lost';
fake_mode($fp, 'ok');    # the old refresh token is no longer good there
ok wait_until(6, sub { !is_json_true(get_instance($id)->{valid}) }),
    'the retry with the old token is refused: not valid';
is stored($id)->{'oauth.user.refresh_token'}, $r1, 'the stored refresh token never erased';

# --- no expires_in -----------------------------------------------------------------
fake_mode($fp, 'noexpiry');
$res = create('dropbox', 'code-3');
expect_ok($res, 'a provider that omits expires_in');
is $res->json->{configuration}{'oauth.user.refresh_interval'}, '3600',
    "refresh_interval: the catalog's (3600 s)";

# --- a revocation that fails does not stop the delete --------------------------
fake_mode($fp, 'ok');
$res = create('box', 'code-4');
expect_ok($res, 'box created');
fake_mode($fp, 'slow');
my $t0 = Time::HiRes::time();
expect_ok(api(DELETE => "instances/" . $res->json->{id}, auth => $t, node => $node),
          'DELETE while the revocation endpoint hangs', empty => 1);
ok Time::HiRes::time() - $t0 < 3.5, 'answered within the outbound timeout';
expect_error(api(GET => "instances/" . $res->json->{id}, auth => $t, node => $node), 404, 'deleted');

stop_node($node);
fake_stop($fp);
unlink $params, "$params-wal", "$params-shm" if $driver eq 'sqlite3';
done_testing;
