#!/usr/bin/perl
# Adds or removes TLSA Manager's TLS-RPT router and transport in cPanel's /etc/exim.conf.local,
# the file WHM's Exim Configuration Manager » Advanced Editor saves and /scripts/buildeximconf
# splices into /etc/exim.conf (it survives cPanel and Exim updates; docs/reference-notes.md).
#   exim-local.pl add    FILE ROUTER_BLOCK TRANSPORT_BLOCK   (new content on stdout)
#   exim-local.pl remove FILE                                (new content on stdout)
# Exit 0 with the new content, 10 when it equals the file as it is (nothing to do), 1 on error.
# FILE may be missing (empty). The file is a list of sections: a line "@NAME@" (or "%NAME%")
# starts one and every following line belongs to it. Our lines sit between "# BEGIN tlsa-manager
# tlsrpt" and "# END tlsa-manager tlsrpt" right after the @ROUTERSTART@ / @TRANSPORTSTART@ line;
# a section line we had to add ourselves is marked on the BEGIN line ("+section") and goes with
# our block. Every other line is kept as it is, in its place. "add" first removes any block of
# ours, so running it again (or a newer release's) never duplicates. Perl with core modules only:
# it must work in uninstall.sh even when Node.js is gone.
use strict;
use warnings;

my $BEGIN = '# BEGIN tlsa-manager tlsrpt';
my $END   = '# END tlsa-manager tlsrpt';

sub slurp {
    my ($file, $missing_ok) = @_;
    if (!-e $file) {
        return '' if $missing_ok;
        die "$file does not exist\n";
    }
    open my $fh, '<:raw', $file or die "cannot read $file: $!\n";
    local $/;
    my $text = <$fh>;
    return defined $text ? $text : '';
}

# The lines of TEXT without our blocks (and without the section lines we added).
sub without_ours {
    my (@lines) = @_;
    my @out;
    my $inside = 0;
    for my $line (@lines) {
        if (!$inside && index($line, $BEGIN) == 0) {
            $inside = 1;
            pop @out if $line =~ /\+section/ && @out && $out[-1] =~ /^[\@%][^\@%]+[\@%]\s*$/;
            next;
        }
        if ($inside) {
            $inside = 0 if index($line, $END) == 0;
            next;
        }
        push @out, $line;
    }
    die "an unterminated \"$BEGIN\" block (no \"$END\" line): edit the file by hand\n" if $inside;
    return @out;
}

sub block_lines {
    my ($file) = @_;
    my $text = slurp($file, 0);
    $text =~ s/\n+\z//;
    die "$file: the block must not contain section lines (\@NAME\@)\n" if $text =~ /^[\@%][^\@%]+[\@%]/m;
    return split /\n/, $text, -1;
}

# Insert BLOCK right after the line "@SECTION@"; add the section at the end when there is none.
sub insert_after_section {
    my ($section, $lines, $block) = @_;
    for my $i (0 .. $#$lines) {
        if ($lines->[$i] =~ /^\@\Q$section\E\@\s*$/) {
            splice @$lines, $i + 1, 0, $BEGIN, @$block, $END;
            return;
        }
    }
    push @$lines, "\@$section\@", "$BEGIN +section", @$block, $END;
}

my ($cmd, $file, $router, $transport) = @ARGV;
die "usage: exim-local.pl add FILE ROUTER_BLOCK TRANSPORT_BLOCK | remove FILE\n"
    unless defined $file && (($cmd eq 'add' && defined $transport) || ($cmd eq 'remove' && !defined $router));

my $text = slurp($file, 1);
my $trailing_newline = $text eq '' || $text =~ /\n\z/;
my @lines = split /\n/, $text, -1;
pop @lines if @lines && $lines[-1] eq '' && $text =~ /\n\z/;
@lines = without_ours(@lines);
if ($cmd eq 'add') {
    insert_after_section('ROUTERSTART', \@lines, [block_lines($router)]);
    insert_after_section('TRANSPORTSTART', \@lines, [block_lines($transport)]);
}
my $out = join("\n", @lines);
$out .= "\n" if @lines && ($trailing_newline || $cmd eq 'add');
print $out;
exit($out eq $text ? 10 : 0);
