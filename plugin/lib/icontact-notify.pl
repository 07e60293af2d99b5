#!/usr/local/cpanel/3rdparty/bin/perl
# Raises one TLSA Manager alert through cPanel's own notification system (iContact): WHM sends it
# to the server contacts per WHM » Server Contacts » Contact Manager (e-mail, Pushbullet, Slack,
# Post to URL…) and keeps it in the notification history. See docs/reference-notes.md.
#   icontact-notify.pl < {"subject": "...", "message": "...", "event_name": "DomainDegraded"}
# The application is TLSAManager; its importance in Contact Manager is set by install.sh and the
# settings page (whmapi1 set_application_contact_importance). Event names are alphanumeric, as WHM
# API 1 requires for per-event importance (Whostmgr/API/1/Contact.pm), so each kind can be tuned.
# Prints one JSON line {"ok":1,"notifications":N} or {"ok":0,"error":"..."}; exit 0 / 1.
use strict;
use warnings;
use JSON::PP ();
use Cpanel::iContact ();

my $input = do { local $/; <STDIN> };
my $msg = eval { JSON::PP::decode_json( defined $input ? $input : '' ) };
if ( ref $msg ne 'HASH' || !length( $msg->{subject} // '' ) ) {
    print JSON::PP::encode_json( { ok => 0, error => 'expected a JSON object with subject and message on stdin' } ), "\n";
    exit 1;
}
( my $subject = $msg->{subject} ) =~ s/[\r\n\f]+/ /g;
my $result = eval {
    Cpanel::iContact::icontact(
        application => 'TLSAManager',
        event_name  => ( ( $msg->{event_name} // '' ) =~ /\A[0-9A-Za-z]{1,64}\z/ ? $msg->{event_name} : 'Alert' ),
        subject     => $subject,
        message     => ( $msg->{message} // $subject ),
        quiet       => 0,
    );
};
my $err = $@;
my @errors = @Cpanel::iContact::LAST_ERRORS;
if ( $err || @errors ) {
    my $text = $err ? "$err" : join( '; ', @errors );
    $text =~ s/\s+/ /g;
    print JSON::PP::encode_json( { ok => 0, error => substr( $text, 0, 400 ) } ), "\n";
    exit 1;
}
# undef: no contact method wants it (Contact Manager levels); cPanel still keeps it in its history.
my $sent = ref $result eq 'HASH' && ref $result->{notifications} eq 'ARRAY' ? scalar @{ $result->{notifications} } : 0;
print JSON::PP::encode_json( { ok => 1, notifications => $sent } ), "\n";
exit 0;
