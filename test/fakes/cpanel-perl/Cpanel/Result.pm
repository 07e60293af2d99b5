package Cpanel::Result;
# Test stand-in: `data` and `error` of cPanel's Cpanel/Result.pm (what a UAPI function fills).
use strict;
use warnings;
sub new   { return bless { data => undef, errors => [] }, shift }
sub data  { my ( $self, $d ) = @_; $self->{data} = $d if @_ > 1; return $self->{data} }
sub error { my ( $self, $fmt, @a ) = @_; ( my $m = $fmt ) =~ s/\[_(\d+)\]/$a[$1 - 1]/g; push @{ $self->{errors} }, $m; return }
1;
