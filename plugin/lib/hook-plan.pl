#!/usr/bin/perl
# Which manage_hooks calls bring cPanel's hook registry to the wanted registrations for ONE hook
# script, so install.sh can run again without duplicates and uninstall.sh removes exactly ours.
#   hook-plan.pl HOOK_PATH WANTED.json CURRENT.json
# WANTED.json: `tlsa-manager hook --describe` output (array of {category, event, stage,
# escalateprivs?, weight?}); "[]" to remove everything. CURRENT.json: `manage_hooks list
# --output=JSON`; entries of other scripts are ignored. Prints tab-separated lines:
#   delete CATEGORY EVENT STAGE
#   add    CATEGORY EVENT STAGE ESCALATEPRIVS(0|1) WEIGHT
# Perl with core modules only: it must work in uninstall.sh even when Node.js is gone.
use strict;
use warnings;
use JSON::PP ();

my ($hook, $wanted_file, $current_file) = @ARGV;
die "usage: hook-plan.pl HOOK_PATH WANTED.json CURRENT.json\n" unless defined $current_file;

sub read_json {
    my ($file, $what) = @_;
    open my $fh, '<:raw', $file or die "cannot read $what ($file): $!\n";
    local $/;
    my $text = <$fh>;
    $text = '' unless defined $text;
    $text =~ s/\A\s+|\s+\z//g;
    return undef if $text eq '';
    my $v = eval { JSON::PP::decode_json($text) };
    die "$what is not valid JSON\n" unless defined $v || $text eq 'null';
    return $v;
}

my $wanted = read_json($wanted_file, 'the wanted hook registrations');
$wanted = [$wanted] if ref $wanted eq 'HASH';
die "the wanted hook registrations are not a JSON array\n" unless ref $wanted eq 'ARRAY';

my (%want, @order);
for my $w (@$wanted) {
    die "a wanted hook registration is not an object\n" unless ref $w eq 'HASH';
    my ($c, $e, $s) = map { defined $_ && !ref $_ ? $_ : '' } @{$w}{qw(category event stage)};
    die "invalid hook category \"$c\"\n" unless $c =~ /\A[A-Za-z]+\z/;
    die "invalid hook event \"$e\"\n" unless $e =~ /\A[A-Za-z0-9_]+(?:::[A-Za-z0-9_]+)*\z/;
    die "invalid hook stage \"$s\"\n" unless $s =~ /\A(?:pre|post)\z/;
    my $weight = defined $w->{weight} && $w->{weight} =~ /\A\d{1,6}\z/ ? $w->{weight} : 100;
    my $esc = $w->{escalateprivs} ? 1 : 0;
    my $key = join "\t", $c, $e, $s;
    push @order, $key unless exists $want{$key};
    $want{$key} = "$esc\t$weight";
}

# Registered entries of our script, found wherever they sit in the listing: the stub (and, as far
# as known, cPanel) lists { category: { event: [ {hook, stage, ...} ] } }; entries that carry
# their own category/event keys are accepted too.
my %have;
sub walk {
    my ($node, $category, $event) = @_;
    if (ref $node eq 'HASH') {
        if (defined $node->{hook} && !ref $node->{hook}) {
            my $c = defined $node->{category} ? $node->{category} : $category;
            my $e = defined $node->{event} ? $node->{event} : $event;
            my $s = defined $node->{stage} ? $node->{stage} : '';
            if ($node->{hook} eq $hook && defined $c && defined $e) {
                $have{join "\t", $c, $e, $s}{ ($node->{escalateprivs} ? 1 : 0) . "\t" . (defined $node->{weight} ? $node->{weight} : 100) } = 1;
            }
            return;
        }
        for my $k (sort keys %$node) {
            if (!defined $category) { walk($node->{$k}, $k, undef) }
            elsif (!defined $event) { walk($node->{$k}, $category, $k) }
            else { walk($node->{$k}, $category, $event) }
        }
    } elsif (ref $node eq 'ARRAY') {
        walk($_, $category, $event) for @$node;
    }
}
walk(read_json($current_file, 'the manage_hooks listing'), undef, undef);

for my $key (sort keys %have) {
    my @attrs = keys %{ $have{$key} };
    # Re-register when the attributes changed (or duplicates exist): delete first, add below.
    my $same = exists $want{$key} && @attrs == 1 && $attrs[0] eq $want{$key};
    print "delete\t$key\n" unless $same;
    delete $have{$key} unless $same;
}
for my $key (@order) {
    print "add\t$key\t$want{$key}\n" unless exists $have{$key};
}
