package Cpanel::iContact;
# Demo/test stand-in for cPanel's Cpanel::iContact (installed at <root>/usr/local/cpanel/Cpanel/).
# Built after cPanel 11.120's Cpanel/iContact.pm `icontact` and Cpanel/iContact/EventImportance.pm:
# named arguments application/app, event_name, subject (CR/LF/FF removed), message. Who gets it
# (iContact.pm `icontact`, the loop that marks contacts to send):
#   - the event's importance: EventImportance.pm `get_event_importance` over
#     <root>/var/cpanel/icontact_event_importance.json ({app: {'*': n, event: n}}; High 1,
#     Medium 2, Low 3, Disabled 0): the event's own entry, else the application's '*', and Low for
#     an application the file does not list ($DEFAULT_IMPORTANCE);
#   - the contact methods of <root>/etc/wwwacct.conf (CONTACTEMAIL, CONTACTPAGER, CONTACTPUSHBULLET,
#     CONTACTUIN lines; `_loadcontactsettings`), each with the level it receives
#     (`augment_contacts_with_default_levels`: e-mail All (3), pager High only (1), Pushbullet and
#     ICQ High and Medium only (2)), overridden by <root>/var/cpanel/clevels.conf lines
#     `CONTACTxxx <level>`; a method is skipped when its level is below the event's importance
#     (`level < importance`, so Disabled (0) reaches nobody);
#   - e-mail falls back to root@<hostname> when CONTACTEMAIL is empty (here: nobody, undef).
# Returns { notifications => [ { type, contact } ] } for the methods that got it, or undef when
# none did; delivery errors land in @LAST_ERRORS. Every call is logged as one JSON line in
# <root>/var/log/stub-calls.jsonl (with the importance used and the methods sent to).
# <root>/var/cpanel/icontact-fail (a file) makes the delivery fail, so tests can see a failing channel.
use strict;
use warnings;
use JSON::PP ();
use File::Basename qw(dirname);
use File::Spec ();
use File::Path qw(make_path);

our @LAST_ERRORS;
my $ROOT = File::Spec->rel2abs( dirname(__FILE__) . '/../../../..' );
my %DEFAULT_LEVEL = ( CONTACTEMAIL => 3, CONTACTPAGER => 1, CONTACTPUSHBULLET => 2, CONTACTUIN => 2 );
my %TYPE = ( CONTACTEMAIL => 'Email', CONTACTPAGER => 'Pager', CONTACTPUSHBULLET => 'Pushbullet', CONTACTUIN => 'Oscar' );

sub _importance {
    my ( $app, $event ) = @_;
    my $data = {};
    if ( open my $fh, '<', "$ROOT/var/cpanel/icontact_event_importance.json" ) {
        local $/;
        my $text = <$fh>;
        close $fh;
        $data = eval { JSON::PP::decode_json($text) } || {};
    }
    return 3 unless ref $data->{$app} eq 'HASH';
    return $data->{$app}{$event} if defined $event && length $event && exists $data->{$app}{$event};
    return $data->{$app}{'*'};
}

sub icontact {
    my %args = @_;
    @LAST_ERRORS = ();
    my $app = delete $args{application} || delete $args{app} || 'Notice';
    my $subject = $args{subject} || 'General Notice';
    $subject =~ s/[\r\n\f]*//g;
    my $importance = _importance( $app, $args{event_name} );
    $importance = 3 unless defined $importance;

    my %contacts;
    # Line by line whatever the caller set $/ to.
    local $/ = "\n";
    if ( open my $fh, '<', "$ROOT/etc/wwwacct.conf" ) {
        while ( my $line = <$fh> ) {
            next unless $line =~ /^(CONTACT[A-Z]+)\s+(\S.*?)\s*$/;
            my ( $type, $list ) = ( $1, $2 );
            push @{ $contacts{$type} }, split /\s*,\s*/, $list;
        }
        close $fh;
    }
    my %level = %DEFAULT_LEVEL;
    if ( open my $fh, '<', "$ROOT/var/cpanel/clevels.conf" ) {
        while ( my $line = <$fh> ) {
            $level{$1} = $2 if $line =~ /^(CONTACT\S+)\s+(\S+)/;
        }
        close $fh;
    }
    my @sent = grep { exists $TYPE{$_} && !( defined $level{$_} && int( $level{$_} ) < int($importance) ) } sort keys %contacts;

    my %call = ( application => $app, event_name => $args{event_name}, subject => $subject, message => $args{message}, importance => $importance, sent_to => [ map { $TYPE{$_} } @sent ] );
    make_path("$ROOT/var/log");
    if ( open my $log, '>>', "$ROOT/var/log/stub-calls.jsonl" ) {
        print {$log} JSON::PP->new->canonical->encode( { stub => 'Cpanel::iContact::icontact', args => \%call, time => time() } ), "\n";
        close $log;
    }
    return undef unless @sent;
    if ( -e "$ROOT/var/cpanel/icontact-fail" ) {
        push @LAST_ERRORS, 'Failed to send notification of type “Email”: the demo stub was told to fail';
        return { notifications => [] };
    }
    return { notifications => [ map { { type => $TYPE{$_}, contact => $contacts{$_} } } @sent ] };
}

1;
