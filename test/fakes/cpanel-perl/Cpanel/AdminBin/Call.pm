package Cpanel::AdminBin::Call;

# Test stand-in for cPanel 11.120's Cpanel/AdminBin/Call.pm `call` (_call_wrap sends namespace,
# module, function and data [ {wantarray}, \@args ] to cpwrapd; _parse_cpwrapd_response returns
# payload->[0] in scalar context, dies with error_string when status is 0). cpwrapd itself is the
# test's fake (test/fakes/cpanel-perl/cpwrapd.pl): it learns the caller's uid from the socket's
# peer credentials, as cPanel's cpwrapd does, never from the request.
use strict;
use warnings;
use JSON::PP ();
use IO::Socket::UNIX ();
use Socket qw(SOCK_STREAM);

sub call {
    my ( $namespace, $module, $function, @args ) = @_;
    my $sock = IO::Socket::UNIX->new( Type => SOCK_STREAM, Peer => $ENV{TLSA_TEST_CPWRAPD} ) or die "cpwrapd: $!\n";
    print {$sock} JSON::PP->new->canonical->encode( { namespace => $namespace, module => $module, function => $function, data => [ { wantarray => ( wantarray ? 1 : 0 ) }, \@args ] } ), "\n";
    shutdown( $sock, 1 );
    local $/;
    my $answer = <$sock>;
    my $r = JSON::PP::decode_json($answer);
    die( ( $r->{error_string} // 'AdminBinError' ) . "\n" ) if !$r->{status};
    return wantarray ? @{ $r->{payload} } : $r->{payload}[0];
}

1;
