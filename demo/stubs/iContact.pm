package Cpanel::iContact;
# Demo/test stand-in for cPanel's Cpanel::iContact (installed at <root>/usr/local/cpanel/Cpanel/).
# Follows the documented interface of icontact(%args) (see docs/reference-notes.md): named
# arguments application/app, event_name, subject (CR/LF/FF removed), message; returns
# { notifications => [ { type, contact } ] } for the contacts of /etc/wwwacct.conf, or undef when
# there is nobody to notify; delivery errors land in @LAST_ERRORS. Every call is logged as one
# JSON line in <root>/var/log/stub-calls.jsonl. <root>/var/cpanel/icontact-fail (a file) makes
# the delivery fail, so tests can see a failing channel.
use strict;
use warnings;
use JSON::PP ();
use File::Basename qw(dirname);
use File::Spec ();
use File::Path qw(make_path);

our @LAST_ERRORS;
my $ROOT = File::Spec->rel2abs( dirname(__FILE__) . '/../../../..' );

sub icontact {
    my %args = @_;
    @LAST_ERRORS = ();
    my $app = delete $args{application} || delete $args{app} || 'Notice';
    my $subject = $args{subject} || 'General Notice';
    $subject =~ s/[\r\n\f]*//g;
    my %call = ( application => $app, event_name => $args{event_name}, subject => $subject, message => $args{message} );
    make_path("$ROOT/var/log");
    if ( open my $log, '>>', "$ROOT/var/log/stub-calls.jsonl" ) {
        print {$log} JSON::PP->new->canonical->encode( { stub => 'Cpanel::iContact::icontact', args => \%call, time => time() } ), "\n";
        close $log;
    }
    my @contacts;
    if ( open my $fh, '<', "$ROOT/etc/wwwacct.conf" ) {
        while ( my $line = <$fh> ) {
            push @contacts, $1 if $line =~ /^CONTACTEMAIL\s+(\S+)/;
        }
        close $fh;
    }
    return undef unless @contacts;
    if ( -e "$ROOT/var/cpanel/icontact-fail" ) {
        push @LAST_ERRORS, 'Failed to send notification of type “Email”: the demo stub was told to fail';
        return { notifications => [] };
    }
    return { notifications => [ { type => 'Email', contact => \@contacts } ] };
}

1;
