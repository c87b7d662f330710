package CETest::OAuth;
# CETest::OAuth: the suite's OAuth 2 authorization server (npm's
# oidc-provider, t/oauth/provider.mjs, started by scripts/test.sh) as a
# user's browser and a test see it. CETest exports every function here.
#
#   oauth_url()              its base URL ('' when the suite runs without one)
#   oauth_client($name)      {'oauth.callback.url', 'oauth.api.key',
#                            'oauth.api.secret'} of client ce-client (default),
#                            ce-fast (short-lived access tokens) or ce-static
#                            (short-lived too, refresh tokens not rotated) or
#                            ce-node (4-second tokens, rotated: t/35's nodes)
#   oauth_code($url)         follows an authorization URL as a browser would:
#                            the provider's login and consent pages, submitted;
#                            returns the code the redirect carries (dies
#                            when there is none)
#   oauth_stats()            what the provider counted (GET /test/stats)
use strict;
use warnings;

use Exporter 'import';
use HTTP::Cookies ();
use JSON::PP ();
use LWP::UserAgent ();
use URI ();

use Apache::Test ();

our @EXPORT = qw(oauth_url oauth_client oauth_code oauth_stats);

my %SECRET = ('ce-client' => 'ce-client-secret-7Qm2', 'ce-fast' => 'ce-fast-secret-9Xa1',
              'ce-static' => 'ce-static-secret-3Kd8', 'ce-node' => 'ce-node-secret-5Hq4');
my $CALLBACK = 'https://app.example.test/cb';

sub oauth_url { Apache::Test::vars('ce_oauth_url') // '' }

sub oauth_client {
    my $name = shift // 'ce-client';
    die "CETest::OAuth: no client $name\n" unless $SECRET{$name};
    return { 'oauth.callback.url' => $CALLBACK, 'oauth.api.key' => $name,
             'oauth.api.secret' => $SECRET{$name} };
}

# One browser: cookies kept, redirects looked at one by one.
sub browser {
    return LWP::UserAgent->new(cookie_jar => HTTP::Cookies->new, max_redirect => 0,
                               timeout => 10, agent => 'CETest browser');
}

sub oauth_code {
    my($url) = @_;
    my $ua = browser();
    my $res = $ua->get($url);
    for my $step (1 .. 12) {
        my $loc = $res->header('Location');
        if ($res->is_redirect && $loc) {
            my $next = URI->new_abs($loc, $res->request->uri);
            if (index($next, $CALLBACK) == 0) {
                my %q = $next->query_form;
                return $q{code} if defined $q{code};
                die "CETest::OAuth: the provider redirected without a code: "
                    . ($q{error} // '?') . ' ' . ($q{error_description} // '') . "\n";
            }
            $res = $ua->get($next);
            next;
        }
        my $page = $res->decoded_content // '';
        my($action) = $page =~ /<form[^>]*action="([^"]+)"/;
        my($prompt) = $page =~ /name="prompt" value="(\w+)"/;
        die "CETest::OAuth: no form on the provider's page (status " . $res->code . ")\n"
            unless $res->is_success && $action && $prompt;
        my $to = URI->new_abs($action, $res->request->uri);
        $res = $prompt eq 'login'
            ? $ua->post($to, { prompt => 'login', login => 'ann', password => 'any' })
            : $ua->post($to, { prompt => $prompt });
    }
    die "CETest::OAuth: no code after 12 steps\n";
}

sub oauth_stats {
    my $res = LWP::UserAgent->new(timeout => 10)->get(oauth_url() . '/test/stats');
    die "CETest::OAuth: stats: " . $res->status_line . "\n" unless $res->is_success;
    return JSON::PP->new->decode($res->decoded_content);
}

1;
