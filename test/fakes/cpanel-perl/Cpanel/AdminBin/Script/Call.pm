package Cpanel::AdminBin::Script::Call;

# Test stand-in for cPanel's AdminBin base class, written after cPanel 11.120's
# Cpanel/AdminBin/Script/Call.pm (dispatch, payload and die shapes), Cpanel/AdminBin/Script.pm
# (`new`: the caller's uid is $ARGV[0], turned into the user name with getpwuid;
# get_caller_username; _read_first_line splits line 1 on whitespace into action and arguments)
# and Cpanel/AdminBin/Script/Full.pm (_read_extended_arguments: an optional "." line, then the
# serialized [metadata, arguments]; _return_admin_payload prints ".\n" and the serialized answer).
# JSON stands in for Cpanel::AdminBin::Serializer. The uid → name lookup reads
# $ENV{TLSA_TEST_PASSWD} (uid:name lines) when set, so a test can give the uid it runs a
# caller under any account name; otherwise the system's getpwuid, as cPanel does.
use strict;
use warnings;
use JSON::PP ();

sub run {
    my ( $class, %opts ) = @_;
    local $SIG{ALRM} = sub { _print( { status => 0, class => '', error_id => undef, error_string => 'timeout' } ); exit 1 };
    alarm( $opts{alarm} || 0 );
    my $self = bless { caller => { _uid => $ARGV[0] } }, $class;
    my $uid  = $self->{caller}{_uid};
    die "not a valid uid\n" if !defined $uid || $uid !~ /\A[0-9]+\z/;
    $self->{caller}{_username} = _name_of($uid);
    die "no user for uid $uid\n" if !defined $self->{caller}{_username};
    my $line1 = readline( \*STDIN );
    $line1 = '' unless defined $line1;
    chomp $line1;
    my ( $action, @args ) = split /\s+/, $line1;
    my $check = readline( \*STDIN );
    my $extended;
    if ( defined $check ) {
        chomp $check;
        if ( length $check ) {
            return _print( { status => 0, class => '', error_id => undef, error_string => 'Malformed extended input' } ) if $check ne '.';
            local $/;
            $extended = JSON::PP::decode_json( scalar readline( \*STDIN ) );
        }
    }
    my ( $meta, $argv ) = $extended ? @$extended : ( {}, \@args );
    my %allowed = map { $_ => 1 } $self->_actions();
    my $method  = $self->can($action) if defined $action && $allowed{$action};
    return _print( { status => 0, class => '', error_id => undef, error_string => "Unknown method: " . ( defined $action ? $action : '' ) } ) if !$method;
    my @out = eval { $meta->{wantarray} ? $self->$method(@$argv) : scalar $self->$method(@$argv) };
    return _print( { status => 0, class => '', error_id => undef, error_string => "$@" } ) if $@;
    return _print( { status => 1, payload => \@out } );
}

sub get_caller_username { return $_[0]{caller}{_username} }
sub get_caller_uid      { return $_[0]{caller}{_uid} }

sub _name_of {
    my ($uid) = @_;
    if ( defined $ENV{TLSA_TEST_PASSWD} ) {
        open my $fh, '<', $ENV{TLSA_TEST_PASSWD} or return undef;
        while ( my $l = <$fh> ) {
            chomp $l;
            my ( $u, $name ) = split /:/, $l, 2;
            return $name if defined $u && $u eq $uid;
        }
        return undef;
    }
    return scalar getpwuid($uid);
}

sub _print {
    my ($r) = @_;
    print ".\n", JSON::PP->new->canonical->encode($r);
    return;
}

1;
