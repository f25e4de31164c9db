# Shared by the Perl TAP tests that wait for the background worker
# (test/t/013_evolution_worker.pl, test/t/015_privileges.pl).
#
#   use FindBin; use lib $FindBin::RealBin;
#   use EsPoll qw(poll_until);
#
#   poll_until($node, $db, $sql, $want, $secs)
#       run $sql in $db every 50 ms until it returns $want (true), or until
#       $secs have passed (false, with the last answer as a diagnostic)
package EsPoll;

use strict;
use warnings;
use Exporter 'import';
use Test::More;
use Time::HiRes qw(time usleep);

our @EXPORT_OK = qw(poll_until);

sub poll_until
{
	my ($node, $db, $sql, $want, $secs) = @_;
	my $deadline = time + $secs;
	my $got = '';
	while (time < $deadline)
	{
		my ($ret, $out) = $node->psql($db, $sql);
		return 1 if $ret == 0 && $out eq $want;
		$got = $out;
		usleep(50_000);
	}
	diag("poll: $sql\n  want: $want\n  got:  $got");
	return 0;
}

1;
