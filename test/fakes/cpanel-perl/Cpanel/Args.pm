package Cpanel::Args;
# Test stand-in: the `get` of cPanel's Cpanel/Args.pm (one named argument of a UAPI call).
use strict;
use warnings;
sub new { my ( $class, $h ) = @_; return bless { %{ $h || {} } }, $class }
sub get { my ( $self, $k ) = @_; return $self->{$k} }
1;
