package Cpanel::API::TLSAManager;

# TLSA Manager: the UAPI module of the account owners' page (issue 28), installed as
# /usr/local/cpanel/Cpanel/API/TLSAManager.pm. Shaped like cPanel's own modules (e.g.
# Cpanel/API/DNSSEC.pm: %API with _needs_feature, functions taking ($args, $result) and
# returning 1 after $result->data). It holds nothing itself: it asks the root AdminBin
# (bin/admin/TLSAManager/Account) through Cpanel::AdminBin::Call::call, which learns the account
# from cPanel, not from these arguments.
use strict;
use warnings;

use Cpanel::AdminBin::Call ();

our %API = (
    _needs_feature => 'tlsa_manager',
    status         => { allow_demo => 1 },
    check          => { allow_demo => 0 },
    set_notify     => { allow_demo => 0 },
);

# uapi TLSAManager status [domain=example.com]
sub status {
    my ( $args, $result ) = @_;
    return _answer( $result, Cpanel::AdminBin::Call::call( 'TLSAManager', 'Account', 'STATUS', scalar $args->get('domain') ) );
}

# uapi TLSAManager check domain=example.com
sub check {
    my ( $args, $result ) = @_;
    return _answer( $result, Cpanel::AdminBin::Call::call( 'TLSAManager', 'Account', 'CHECK_NOW', scalar $args->get('domain') ) );
}

# uapi TLSAManager set_notify enabled=0|1 — the owner's own "e-mail me when I need to act" switch
sub set_notify {
    my ( $args, $result ) = @_;
    my $enabled = $args->get('enabled');
    $enabled = '' unless defined $enabled;
    if ( $enabled !~ /\A[01]\z/ ) {
        $result->error( '[_1]', 'Say enabled=1 or enabled=0.' );
        return 0;
    }
    return _answer( $result, Cpanel::AdminBin::Call::call( 'TLSAManager', 'Account', 'SET_NOTIFY', $enabled ) );
}

sub _answer {
    my ( $result, $answer ) = @_;
    if ( ref $answer eq 'HASH' && $answer->{ok} ) {
        $result->data( $answer->{data} );
        return 1;
    }
    my $message = ref $answer eq 'HASH' && defined $answer->{message} ? $answer->{message} : 'TLSA Manager did not answer.';
    $message .= ' ' . $answer->{fix} if ref $answer eq 'HASH' && defined $answer->{fix};
    $result->error( '[_1]', $message );
    $result->data( { code => ( ref $answer eq 'HASH' ? $answer->{code} : 'no-answer' ) } );
    return 0;
}

1;
