#!/usr/bin/perl
# Renders a Jupiter page template with Template Toolkit the way cPanel's cpanel binary does for
# *.html.tt pages (INCLUDE_PATH = the theme root), with `execute(module, function, args)` answering
# from a JSON file of UAPI results ({ "Module::function": {status, data, errors} }) the test made
# from the real service's answers. Usage: render.pl THEME_DIR PAGE RESULTS.json
use strict;
use warnings;
use Template;
use JSON::PP ();

my ( $theme, $page, $results_file ) = @ARGV;
open my $fh, '<', $results_file or die "$results_file: $!\n";
my $results = JSON::PP::decode_json( do { local $/; <$fh> } );
my $tt = Template->new( { INCLUDE_PATH => $theme, ENCODING => 'utf8' } ) or die Template->error;
my $out = '';
$tt->process( $page, { execute => sub { my ( $m, $f ) = @_; return $results->{"${m}::$f"} // { status => 0, errors => ["no stand-in result for ${m}::$f"] } } }, \$out ) or die $tt->error, "\n";
binmode STDOUT, ':encoding(UTF-8)';
print $out;
