#!/usr/bin/perl
# Test stand-in for cPanel's cpwrapd (Cpanel/AdminBin/Server/Backend.pm): listens on a unix
# socket, learns each caller's uid from the socket's peer credentials (SO_PEERCRED), and runs
# <admin dir>/<namespace>/<module> as root with that uid as its first argument, the function on
# the first line of its input, then "." and the serialized [metadata, arguments]; the adminbin's
# ".\n"-prefixed answer goes back to the caller. Namespace and module must be plain words. The
# adminbin runs under this Perl (its shebang names cPanel's), with PERL5LIB from the environment.
use strict;
use warnings;
use IO::Socket::UNIX ();
use Socket qw(SOCK_STREAM SOL_SOCKET SO_PEERCRED SOMAXCONN);
use JSON::PP ();
use IPC::Open2 ();

my ( $path, $admin_dir ) = @ARGV;
unlink $path;
my $srv = IO::Socket::UNIX->new( Type => SOCK_STREAM, Local => $path, Listen => SOMAXCONN ) or die "listen: $!\n";
chmod 0666, $path;
$SIG{CHLD} = 'IGNORE';
print "ready\n";
STDOUT->flush;
while ( my $c = $srv->accept ) {
    my $pid = fork;
    if ( !defined $pid || $pid ) { close $c; next; }
    my ( undef, $uid ) = unpack 'iII', getsockopt( $c, SOL_SOCKET, SO_PEERCRED );
    local $/;
    my $req = JSON::PP::decode_json( scalar <$c> );
    my ( $ns, $mod, $fn ) = @{$req}{qw(namespace module function)};
    if ( grep { !defined $_ || !/\A[A-Za-z0-9_]+\z/ } $ns, $mod, $fn ) { print {$c} '{"status":0,"error_string":"bad request"}'; exit 0 }
    my $pid2 = IPC::Open2::open2( my $out, my $in, $^X, "$admin_dir/$ns/$mod", $uid );
    print {$in} "$fn\n.\n", JSON::PP->new->encode( $req->{data} );
    close $in;
    my $answer = <$out>;
    waitpid $pid2, 0;
    $answer = '' unless defined $answer;
    $answer =~ s/\A\.\n//;
    print {$c} ( length $answer ? $answer : '{"status":0,"error_string":"no answer"}' );
    exit 0;
}
