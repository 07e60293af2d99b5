#!/usr/bin/perl
# TLSA Manager: WHM CGI shim (installed as
# /usr/local/cpanel/whostmgr/docroot/cgi/tlsa_manager/index.cgi, mode 0700 root).
#
# cpsrvd has already authenticated the WHM user and runs this as root. The shim only checks that
# the user name has the shape of a cPanel user name (root, or an account name as
# Cpanel/Validate/Username/Core.pm accepts one), passes it on, and the daemon decides what that
# user may see (root everything, a reseller its accounts' domains: issue 28). It forwards the request to the tlsa-manager daemon over its root-only unix socket
# (HTTP/1.0) and writes the answer back in CGI form. It is Perl with core modules only because
# Perl starts in a few milliseconds and is on every cPanel server; a Node shim would add ~40 ms
# to every page. It never logs request bodies and passes no environment through except the
# request fields listed in request_head().
#
# Pages inside WHM (issue 16): when WHM's cached chrome (header/footer, as cPanel's PHP helper
# WHM.php reads it) is on disk, the shim asks the daemon for the page body (X-TLSA-Chrome: whm)
# and puts WHM's header and footer around every answer the daemon marks as a fragment
# (X-TLSA-Fragment: 1), with the placeholders filled in: the security token, the user, the page
# title and the nonce of the daemon's own CSP. Everything else (JSON, CSV, job progress, static
# files, plain-text refusals) is relayed as it is. Without the chrome files the daemon renders
# its own full pages, as before. The shim's own pages (refused, service down, bad gateway) use
# the same chrome.
#
# The final Content-Security-Policy (issue 23): the shim assembles the page, so it sets the policy
# the browser applies. It keeps the daemon's policy (its nonce covers the product's script and
# WHM's nonce'd inline bits) and adds, for the chrome only, the sha256 hash of each inline
# <script> and <style> element of WHM's header and footer that carries no nonce (hashed after the
# placeholders are filled, as the browser sees them) and of each style="…" attribute (with
# 'unsafe-hashes', which lets a hash match an attribute). Nothing of the daemon's page body is
# hashed: the product's own pages keep no inline code without the nonce and no inline style.
use strict;
use warnings;
use IO::Socket::UNIX ();
use Socket qw(SOCK_STREAM);
use Digest::SHA ();
use MIME::Base64 ();

# Overridable for tests; cpsrvd does not set these, and visitors cannot set CGI environment.
my $SOCKET = $ENV{TLSA_MANAGER_SOCKET} || '/run/tlsa-manager/web.sock';
my $CHROME_ROOT = $ENV{TLSA_MANAGER_ROOT} || '/';
$CHROME_ROOT =~ s{/+\z}{};

# The daemon accepts far less (200 kB forms); this only bounds the shim's memory.
my $MAX_BODY = 8 * 1024 * 1024;
# Long jobs run in the background in the daemon; a page that takes this long is hung.
my $TIMEOUT = 120;
# A page body the shim holds to wrap in WHM's chrome; pages are far smaller (the domain list pages).
my $MAX_FRAGMENT = 32 * 1024 * 1024;

binmode STDIN;
binmode STDOUT;
# A daemon that hangs up early must give an error page, not kill the shim mid-write.
$SIG{PIPE} = 'IGNORE';

exit main();

sub main {
    my $user = defined $ENV{REMOTE_USER} ? $ENV{REMOTE_USER} : '';
    # Lower-case letters, digits, - . _, at most 16, not starting with - or . (cPanel's own rule):
    # anything else never names a WHM user and never reaches the daemon.
    if ($user !~ /\A[a-z0-9_][a-z0-9._-]{0,15}\z/) {
        return page(403, 'Forbidden', 'TLSA Manager is for root and resellers',
            '<p>You are logged in to WHM as <strong>' . esc($user eq '' ? '(nobody)' : $user) . '</strong>, '
          . 'which is not a user name TLSA Manager can answer for.</p>'
          . '<p>Fix: log in to WHM as root or as a reseller.</p>');
    }
    my $method = defined $ENV{REQUEST_METHOD} ? $ENV{REQUEST_METHOD} : 'GET';
    return page(400, 'Bad Request', 'Bad request', '<p>The request method is not valid.</p>')
        unless $method =~ /\A[A-Z]{1,16}\z/;

    my ($body, $problem) = read_body();
    return page(@$problem) if $problem;

    my $chrome = chrome_files();
    my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $SOCKET);
    return service_down("$!") unless $sock;
    binmode $sock;

    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm $TIMEOUT;
    my $ok = eval {
        write_all($sock, request_head($method, defined $body ? length $body : undef, $chrome, $user) . (defined $body ? $body : ''));
        relay($sock, $chrome);
        1;
    };
    alarm 0;
    return 0 if $ok;
    my $err = $@;
    return 0 if $err =~ /\Arelayed\b/;    # headers already sent: nothing more we can say
    return page(504, 'Gateway Timeout', 'TLSA Manager did not answer in time',
        '<p>The TLSA Manager service took longer than ' . $TIMEOUT . ' seconds to answer.</p>'
      . '<p>Fix: try again; if it keeps happening, look at <code>journalctl -u tlsa-manager -n 100</code>.</p>')
        if $err eq "timeout\n";
    return page(502, 'Bad Gateway', 'TLSA Manager gave an invalid answer',
        '<p>The TLSA Manager service answered, but not with a valid response (' . esc(clean($err)) . ').</p>'
      . '<p>Fix: restart it with <code>systemctl restart tlsa-manager</code>; if that does not help, '
      . 'look at <code>journalctl -u tlsa-manager -n 100</code>.</p>');
}

# CONTENT_LENGTH bytes from stdin (undef when there is no body). Returns (body, problem).
sub read_body {
    my $len = defined $ENV{CONTENT_LENGTH} ? $ENV{CONTENT_LENGTH} : '';
    return (undef, undef) if $len eq '';
    return (undef, [400, 'Bad Request', 'Bad request', '<p>CONTENT_LENGTH is not a number.</p>'])
        unless $len =~ /\A\d{1,15}\z/;
    return (undef, [413, 'Payload Too Large', 'Request too large', '<p>The request body is larger than TLSA Manager accepts.</p>'])
        if $len > $MAX_BODY;
    my $body = '';
    while (length $body < $len) {
        my $n = sysread(STDIN, $body, $len - length $body, length $body);
        last unless $n;
    }
    return (undef, [400, 'Bad Request', 'Bad request', '<p>The request body ended early.</p>'])
        if length $body != $len;
    return ($body, undef);
}

# The HTTP/1.0 request line and headers for the daemon. Only these request fields cross over.
sub request_head {
    my ($method, $length, $chrome, $user) = @_;
    my $qs = urlsafe(defined $ENV{QUERY_STRING} ? $ENV{QUERY_STRING} : '');
    my $path_info = defined $ENV{PATH_INFO} ? $ENV{PATH_INFO} : '';
    # The daemon routes by ?route= (cpsrvd may not pass PATH_INFO) and also by path.
    my $path = ($path_info =~ m{\A/} && $qs !~ /(?:\A|&)route=/) ? pathsafe($path_info) : '/';
    my $head = "$method $path" . ($qs eq '' ? '' : "?$qs") . " HTTP/1.0\r\n"
             . "Host: tlsa-manager\r\n"
             . "Connection: close\r\n"
             . "X-TLSA-Remote-User: $user\r\n";
    my $token = defined $ENV{cp_security_token} ? $ENV{cp_security_token} : '';
    $head .= "X-TLSA-Security-Token: $token\r\n" if $token =~ m{\A/cpsess\d{1,20}\z};
    $head .= 'Cookie: ' . clean($ENV{HTTP_COOKIE}) . "\r\n" if defined $ENV{HTTP_COOKIE} && $ENV{HTTP_COOKIE} ne '';
    $head .= 'Content-Type: ' . clean($ENV{CONTENT_TYPE}) . "\r\n" if defined $ENV{CONTENT_TYPE} && $ENV{CONTENT_TYPE} ne '';
    $head .= "Content-Length: $length\r\n" if defined $length;
    # The daemon then sends page bodies (marked as fragments) for the shim to wrap.
    $head .= "X-TLSA-Chrome: whm\r\n" if $chrome;
    return "$head\r\n";
}

# Copy the daemon's response to stdout as a CGI response (Status: line, headers, body); a page
# fragment is put inside WHM's chrome ($chrome: the unfilled header and footer, or undef).
sub relay {
    my ($sock, $chrome) = @_;
    my $buf = '';
    my $end;
    while (($end = index($buf, "\r\n\r\n")) < 0) {
        my $n = sysread($sock, $buf, 65536, length $buf);
        die "connection closed before the response headers\n" unless $n;
        die "response headers too large\n" if length $buf > 65536;
    }
    my ($status_line, @lines) = split /\r\n/, substr($buf, 0, $end);
    my ($code, $reason) = $status_line =~ m{\AHTTP/1\.[01] (\d{3})(?: ([^\r\n]*))?\z}
        or die "no HTTP status line\n";
    my $out = "Status: $code " . (defined $reason && $reason ne '' ? $reason : 'Status') . "\r\n";
    my %ours;
    my $csp;
    my $wrap = $chrome && grep { /\AX-TLSA-Fragment:[ \t]*1[ \t]*\z/i } @lines;
    for my $line (@lines) {
        my ($name, $value) = $line =~ /\A([!#\$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*\z/ or die "malformed response header\n";
        # Hop-by-hop headers belong to the socket connection, not to cpsrvd's response.
        next if $name =~ /\A(?:connection|keep-alive|transfer-encoding|proxy-connection|upgrade)\z/i;
        # The daemon's notes to the shim never reach the browser.
        if ($name =~ /\AX-TLSA-/i) { $ours{lc $name} = $value; next; }
        # A wrapped page is longer than the daemon's body.
        next if $wrap && $name =~ /\AContent-Length\z/i;
        # A wrapped page gets the daemon's policy plus the chrome's hashes (below).
        if ($wrap && $name =~ /\AContent-Security-Policy\z/i) { $csp = $value; next; }
        $out .= "$line\r\n";
    }
    my $rest = substr($buf, $end + 4);
    if ($wrap) {
        my $fragment = read_rest($sock, $rest);
        my ($header, $footer) = fill_chrome($chrome, percent_decode($ours{'x-tlsa-title'}), $ours{'x-tlsa-nonce'});
        # Without the daemon's policy (never expected) a closed one, not just the hashes.
        $out .= 'Content-Security-Policy: ' . chrome_policy(defined $csp ? $csp : "default-src 'none'", $header . $footer) . "\r\n";
        eval { write_all(\*STDOUT, "$out\r\n$header$fragment$footer"); 1 } or die "relayed\n";
        return;
    }
    $out .= "\r\n" . $rest;
    eval { write_all(\*STDOUT, $out); 1 } or die "relayed\n";
    # HTTP/1.0: the daemon closes the connection after the body, so stream until EOF.
    while (1) {
        my $chunk = '';
        my $n = sysread($sock, $chunk, 65536);
        die "relayed\n" unless defined $n;
        last if $n == 0;
        eval { write_all(\*STDOUT, $chunk); 1 } or die "relayed\n";
    }
    return;
}

# The rest of the daemon's answer (it closes the connection after the body), bounded.
sub read_rest {
    my ($sock, $body) = @_;
    while (1) {
        my $n = sysread($sock, $body, 65536, length $body);
        die "connection failed while reading the page\n" unless defined $n;
        last if $n == 0;
        die "page too large to wrap\n" if length $body > $MAX_FRAGMENT;
    }
    return $body;
}

sub write_all {
    my ($fh, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite($fh, $data, length($data) - $off, $off);
        die "write failed: $!\n" unless defined $n;
        $off += $n;
    }
    return;
}

sub service_down {
    my ($why) = @_;
    return page(503, 'Service Unavailable', "TLSA Manager's service is not running",
        '<p>The WHM plugin is installed, but the background service that does the work is not answering '
      . 'on <code>' . esc($SOCKET) . '</code> (' . esc($why) . ').</p>'
      . '<p>Fix: as root, run</p><pre>systemctl start tlsa-manager</pre>'
      . '<p>If it does not stay up, <code>systemctl status tlsa-manager</code> and '
      . '<code>journalctl -u tlsa-manager -n 100</code> say why.</p>'
      . '<p>Until it runs, TLSA records are still kept right by the cPanel hooks and the '
      . '<code>tlsa-manager-reconcile.timer</code>, which do not need this service.</p>');
}

# A page made by the shim itself, inside WHM's cached chrome when it is available.
sub page {
    my ($code, $reason, $title, $html) = @_;
    my $chrome = chrome_files();
    # No CSP is sent with these pages; the nonce only fills the header's placeholders.
    my ($header, $footer) = $chrome ? fill_chrome($chrome, $title, sprintf('%08x%08x', int(rand(0xffffffff)), $$)) : ();
    my $doc = defined $header
        ? $header . '<div class="tlsa-manager-shim"><h1>' . esc($title) . "</h1>\n$html</div>\n" . $footer
        : own_layout($title, $html);
    write_all(\*STDOUT, "Status: $code $reason\r\nContent-Type: text/html; charset=utf-8\r\n"
        . "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n$doc");
    return 0;
}

# WHM's generated header and footer as cPanel's PHP helper (/usr/local/cpanel/php/WHM.php) finds
# them: cache_keys.json maps the WHM user to a cache key; the header is <key>_<skipsupport>_<skipheader>.html,
# the footer footer.html (docs/reference-notes.md, "WHM's chrome"). skipheader=1 (WHM's page
# title block hidden: the product shows its own heading and breadcrumb) is preferred, the
# default <key>_0_0.html taken when that variant was never generated. Returns
# [header, footer] unfilled, or undef (missing, unreadable or empty: the plain layout is used).
sub chrome_files {
    my $dir = "$CHROME_ROOT/var/cpanel/caches";
    my $keys = slurp("$dir/_generated_header_files/cache_keys.json");
    return unless defined $keys;
    my $user = defined $ENV{REMOTE_USER} ? $ENV{REMOTE_USER} : '';
    my $key = eval { require JSON::PP; my $k = JSON::PP::decode_json($keys); ref $k eq 'HASH' ? $k->{$user} : undef };
    return unless defined $key && !ref $key && $key =~ /\A[A-Za-z0-9_.-]+\z/;
    my ($header) = grep { defined && length } map { slurp("$dir/_generated_header_files/${key}_$_.html") } qw(0_1 0_0);
    my $footer = slurp("$dir/_generated_footer_files/footer.html");
    return unless defined $header && defined $footer && length $footer;
    return [$header, $footer];
}

# The placeholders WHM.php replaces, filled the same way but escaped: the security token (only a
# valid one), the user, the page title, and the nonce (without one the nonce attribute is
# removed, as WHM.php does, so the browser refuses those inline bits instead of running them).
sub fill_chrome {
    my ($chrome, $title, $nonce) = @_;
    my ($header, $footer) = @$chrome;
    my $user = defined $ENV{REMOTE_USER} ? $ENV{REMOTE_USER} : '';
    my $token = defined $ENV{cp_security_token} && $ENV{cp_security_token} =~ m{\A/cpsess\d{1,20}\z}
        ? $ENV{cp_security_token} : '';
    $title = 'TLSA Manager' unless defined $title && $title ne '';
    my $nonce_attr = defined $nonce && $nonce =~ m{\A[A-Za-z0-9+/_-]{8,128}={0,2}\z} ? qq{nonce="$nonce"} : '';
    for my $text ($header, $footer) {
        $text =~ s{/cpsess0000000000}{$token}g;
        $text =~ s{cpuser00000000000}{esc($user)}ge;
        $text =~ s{Results of Your Request}{esc($title)}ge;
        $text =~ s{nonce="00000000000"}{$nonce_attr}g;
    }
    # The document title. _defheader.tmpl (L305) prints "WHM [<host>] [% header %] - <version>"
    # before it sets the generic "Results of Your Request" (L796, _X_0 variants only), so the
    # cached title has an empty gap where a page's name goes: the shim puts the product's title
    # there, as WHM does for its own pages. A title of another shape is left as it is.
    my $t = esc($title);
    $header =~ s{(<title>[ \t]*WHM \[[^\]<]*\])[ \t]+(-[ \t])}{$1 $t $2};
    return ($header, $footer);
}

# The daemon's CSP with the chrome's inline code and styles added by hash (see the top of this
# file). $chrome is the filled header and footer; the daemon's page body is not part of it.
sub chrome_policy {
    my ($policy, $chrome) = @_;
    my (%script, %style, %attr);
    # Comments, whole <script>/<style> elements, other start tags, in document order (a script
    # that only sits in a comment never runs, so it gets no hash).
    while ($chrome =~ m{<!--.*?-->|<(script|style)\b((?:[^>"']|"[^"]*"|'[^']*')*)>(.*?)</\1\s*>|<[A-Za-z][^\s/>]*((?:[^>"']|"[^"]*"|'[^']*')*)>}gis) {
        my ($tag, $attrs, $body, $other) = ($1, $2, $3, $4);
        my $attributes = defined $tag ? $attrs : $other;
        next unless defined $attributes;
        if (defined $tag && $attrs !~ /(?:\A|\s)nonce\s*=/i && !($tag =~ /\Ascript\z/i && $attrs =~ /(?:\A|\s)src\s*=/i)) {
            (lc $tag eq 'script' ? \%script : \%style)->{ csp_hash($body) } = 1;
        }
        if ($attributes =~ /(?:\A|\s)style\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/i) {
            my $value = attribute_text(defined $1 ? $1 : defined $2 ? $2 : $3);
            $attr{ csp_hash($value) } = 1 if defined $value;
        }
    }
    my @directives = grep { /\S/ } map { s/\A\s+|\s+\z//gr } split /;/, $policy;
    my %add = (
        'script-src' => [sort keys %script],
        'style-src'  => [sort(keys %style), (%attr ? ("'unsafe-hashes'", sort keys %attr) : ())],
    );
    for my $name (sort keys %add) {
        next unless @{ $add{$name} };
        my ($i) = grep { $directives[$_] =~ /\A\Q$name\E(?:\s|\z)/i } 0 .. $#directives;
        if (defined $i) { $directives[$i] .= ' ' . join ' ', @{ $add{$name} } }
        else { push @directives, join ' ', $name, @{ $add{$name} } }
    }
    return join '; ', @directives;
}

# 'sha256-…' of an element's text or an attribute's value as the browser hashes it: UTF-8 (the
# page's charset; the cached files are UTF-8 and are passed through as bytes) with the line
# breaks the HTML parser normalizes to LF.
sub csp_hash {
    my ($text) = @_;
    $text =~ s/\r\n?/\n/g;
    return "'sha256-" . MIME::Base64::encode_base64(Digest::SHA::sha256($text), '') . "'";
}

# An attribute's value after the character references a browser decodes; undef when it holds one
# the shim does not know (its hash would not match, so none is added).
sub attribute_text {
    my ($s) = @_;
    my %named = (amp => '&', lt => '<', gt => '>', quot => '"', apos => "'");
    # A reference without its ';' (legacy forms the browser may still decode): not guessed at.
    return undef if $s =~ /&(?!#\d{1,7};|#[xX][0-9A-Fa-f]{1,6};|[A-Za-z]+;)[A-Za-z#]/;
    my $ok = 1;
    $s =~ s{&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]+));}{
        my $c = defined $1 ? chr $1 : defined $2 ? chr hex $2 : exists $named{$3} ? $named{$3} : do { $ok = 0; '' };
        utf8::encode($c);
        $c;
    }ge;
    return $ok ? $s : undef;
}

sub percent_decode {
    my ($s) = @_;
    return undef unless defined $s;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return clean($s);
}

sub own_layout {
    my ($title, $html) = @_;
    my $t = esc($title);
    return <<"HTML";
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>$t</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2630}
main{max-width:46rem;margin:3rem auto;padding:1.5rem 2rem;background:#fff;border:1px solid #d5dbe1;border-radius:6px}
h1{font-size:1.4rem;margin-top:0}pre,code{background:#eef1f4;border-radius:3px;padding:.1em .3em}pre{padding:.6em 1em}</style>
</head><body><main><h1>$t</h1>
$html</main></body></html>
HTML
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return;
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

# One line, no control characters: safe inside a header or a message.
sub clean {
    my ($s) = @_;
    $s = '' unless defined $s;
    $s =~ s/[\x00-\x1f\x7f]+/ /g;
    return $s;
}

# QUERY_STRING arrives encoded: only encode what cannot appear in a request target
# (spaces, controls, '#', 8-bit bytes).
sub urlsafe {
    my ($s) = @_;
    $s =~ s{([^A-Za-z0-9\-._~!\$&'()*+,;=:@/?%])}{sprintf '%%%02X', ord $1}ge;
    return $s;
}

# PATH_INFO arrives decoded: encode everything that is not a plain path character.
sub pathsafe {
    my ($s) = @_;
    $s =~ s{([^A-Za-z0-9\-._~!\$&'()*+,;=:@/])}{sprintf '%%%02X', ord $1}ge;
    return $s;
}

sub esc {
    my ($s) = @_;
    $s = '' unless defined $s;
    $s =~ s/&/&amp;/g;
    $s =~ s/</&lt;/g;
    $s =~ s/>/&gt;/g;
    $s =~ s/"/&quot;/g;
    $s =~ s/'/&#39;/g;
    return $s;
}
