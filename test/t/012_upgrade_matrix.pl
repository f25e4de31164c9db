# The upgrade matrix: every released version, updated with data to the
# newest in one step, is indistinguishable from a fresh install, keeps its
# data, passes the behaviour suite, and survives pg_dump / pg_restore.
#
# The newest version is event_streaming.control's default_version; the
# released versions are every other version named by the sql/ scripts
# (event_streaming--V.sql, event_streaming--A--B.sql) that is older than it.
# Nothing here names a version: a new release is covered once it has its
# data writer.  For each released version V, in database from_V:
#
#  1. CREATE EXTENSION event_streaming VERSION 'V', then test/upgrade/data-V.sql
#     writes deterministic data through V's own API (it must exist, and it
#     must leave rows in every table and a used value in every sequence of
#     schema es).
#  2. Every es table's rows (sorted, as text) and every es sequence's state
#     are captured; then ALTER EXTENSION event_streaming UPDATE, in one step
#     to the newest version.
#  3. (a) The extension's objects and their definitions (the catalog query of
#     test/t/EsCatalog.pm, also used by 006_upgrade.pl) equal those of a fresh
#     install of the newest version in database "fresh".
#     (b) The same capture, with the columns the tables had under V, reads
#     back identical, for every table that exists in both versions.
#     (c) The pg_regress suite (test/sql/*.sql against expected/*.out, in
#     file-name order, as scripts/test.sh runs it) passes with
#     --use-existing on suite_V, a database updated from V the same way
#     but without the data (some tests list or count everything there is);
#     the catalog still equals the fresh one afterwards.
#  4. pg_dump of from_V, restored (pg_restore) into a new database restored_V:
#     its catalog equals from_V's and the fresh install's, and every es table
#     and sequence reads the same as in from_V.
#
# The fresh install goes through the same triangle: its catalog is taken
# before use, then it gets the newest data writer there is, still compares
# equal, and pg_dump / pg_restore into fresh_restored gives the same catalog
# and the same data.  Every comparison prints the lines only on one side.
use strict;
use warnings;
use Cwd qw(realpath);
use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EsCatalog qw(catalog same_catalog same_text);

my $repo = realpath("$FindBin::RealBin/../..");

# --- the versions, from the repository
sub vcmp
{
	my @a = split /\./, $_[0];
	my @b = split /\./, $_[1];
	while (@a || @b)
	{
		my $c = (shift(@a) // 0) <=> (shift(@b) // 0);
		return $c if $c;
	}
	return 0;
}

my ($newest) = slurp_file("$repo/event_streaming.control") =~ /^\s*default_version\s*=\s*'([^']+)'/m
  or BAIL_OUT("no default_version in $repo/event_streaming.control");
my %in_chain;
opendir(my $dh, "$repo/sql") or BAIL_OUT("cannot read $repo/sql: $!");
for my $f (readdir $dh)
{
	next unless $f =~ /^event_streaming--(\d[\w.]*?)(?:--(\d[\w.]*?))?\.sql$/;
	$in_chain{$_} = 1 for grep { defined } $1, $2;
}
closedir $dh;
ok($in_chain{$newest}, "the newest version, $newest, has a script in sql/");
my @released = sort { vcmp($a, $b) } grep { vcmp($_, $newest) < 0 } keys %in_chain;
ok(@released > 0, 'there are released versions to upgrade from');
note "newest: $newest; released: @released";

# The data writer of each version, and the newest one there is (for the
# fresh install).
my %data_file = map { $_ => "$repo/test/upgrade/data-$_.sql" } @released, $newest;
my ($newest_writer) = grep { -f $data_file{$_} } reverse @released, $newest;

# --- the cluster, set up like scripts/cluster.sh's (the expected output of
# the pg_regress suite assumes its locale and prepared transactions)
my $node = PostgreSQL::Test::Cluster->new('upgrade_matrix');
$node->init(extra => [ '-E', 'UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'event_streaming'\nmax_prepared_transactions = 10\n");
$node->start;

is($node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'event_streaming'}),
	$newest, "the installed extension's default version is the repository's ($newest)")
  or BAIL_OUT("the installed extension is not the repository's newest version: run make install");

sub extversion
{
	return $node->safe_psql($_[0], q{SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'});
}

sub create_db { $node->safe_psql('postgres', qq{CREATE DATABASE "$_[0]"}); }

# A statement that must succeed, as a test (its error as the diagnostic).
sub ok_sql
{
	my ($db, $sql, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($rc, $out, $err) = $node->psql($db, $sql);
	return 1 if ok($rc == 0, $name);
	diag($err);
	return 0;
}

# Run a data writer with psql (it may \ir the earlier ones).
sub write_data
{
	my ($db, $file, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($out, $err);
	my $ok = IPC::Run::run([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db), '-f', $file ],
		'>', \$out, '2>', \$err);
	note "psql -f $file:\n$out$err";
	ok($ok, $name) or diag("psql -f $file failed:\n$err");
}

# The tables and sequences of schema es, each with its live columns.
sub es_relations
{
	my ($db) = @_;
	my %rel;
	for my $line (split /\n/, $node->safe_psql($db, q{
		SELECT c.relname, c.relkind,
		       coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
		                  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
		  FROM pg_class c WHERE c.relnamespace = 'es'::regnamespace AND c.relkind IN ('r', 'p', 'S')}))
	{
		my ($name, $kind, $cols) = split /\|/, $line, 3;
		$rel{$name} = { kind => $kind, cols => [ split /, /, $cols ] };
	}
	return \%rel;
}

# All the data of the given relations, as sorted lines "table: row" (a row
# as its text form, the given columns only, newlines escaped), with a
# "table: #rows=N" line each, and "sequence: last_value=N is_called=B".
sub data_dump
{
	my ($db, $rel) = @_;
	my @parts;
	for my $name (sort keys %$rel)
	{
		my $r = $rel->{$name};
		if ($r->{kind} eq 'S')
		{
			push @parts, qq{SELECT '$name', 'last_value=' || last_value || ' is_called=' || is_called FROM es."$name"};
		}
		else
		{
			my $cols = join ', ', @{ $r->{cols} };
			push @parts, qq{SELECT '$name', '#rows=' || count(*) FROM es."$name"},
			  qq{SELECT '$name', replace(r::text, E'\\n', '\\n') FROM (SELECT $cols FROM es."$name") r};
		}
	}
	return '' unless @parts;
	return $node->safe_psql($db, "SELECT rel || ': ' || line FROM (\n"
		  . join("\nUNION ALL\n", @parts) . "\n) d (rel, line) ORDER BY rel COLLATE \"C\", line COLLATE \"C\"");
}

# pg_dump of $src restored into a new database $dst.
sub dump_restore
{
	my ($src, $dst) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $file = $node->basedir . "/$src.dump";
	command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr($src), '-f', $file ], "pg_dump $src");
	create_db($dst);
	command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr($dst), $file ], "pg_restore into $dst");
}

# The pg_regress suite of test/sql, as scripts/test.sh's run_regress runs it,
# on an existing database.
my $pg_regress = $ENV{PG_REGRESS};
my $bindir = $node->config_data('--bindir');
my @regress_tests = map { m{([^/]+)\.sql$} } sort glob("$repo/test/sql/*.sql");
sub run_regress
{
	my ($db) = @_;
	my $dir = $node->basedir . "/regress_$db";
	mkdir $dir;
	mkdir "$dir/input";
	symlink("$repo/test/sql", "$dir/input/sql") or die "symlink: $!";
	symlink("$repo/expected", "$dir/input/expected") or die "symlink: $!";
	open my $fh, '>', "$dir/schedule" or die "$dir/schedule: $!";
	print $fh "test: $_\n" for @regress_tests;
	close $fh;
	my ($out, $err);
	IPC::Run::run([ $pg_regress, "--bindir=$bindir", '--use-existing', '--host=' . $node->host, '--port=' . $node->port,
			"--dbname=$db", "--inputdir=$dir/input", "--outputdir=$dir", "--schedule=$dir/schedule" ],
		'>', \$out, '2>', \$err);
	note "pg_regress on $db:\n$out$err";
	my @failed;
	for my $t (@regress_tests)
	{
		# "test NAME ... ok" up to 15, "ok N - NAME" from 16 on
		push @failed, $t unless $out =~ /^(?:test \Q$t\E\s+\.\.\. ok\b|ok \d+\s+[-+] \Q$t\E\s)/m;
	}
	return if is(join(' ', @failed), '', "$db: the pg_regress suite passes (" . scalar(@regress_tests) . ' tests)');
	diag("pg_regress on $db:\n$out$err");
	return unless -s "$dir/regression.diffs";
	my @diffs = split /\n/, slurp_file("$dir/regression.diffs");
	splice @diffs, 400, @diffs - 400, "... (" . (@diffs - 400) . " more lines)" if @diffs > 400;
	diag("$dir/regression.diffs:\n" . join "\n", @diffs);
}

# --- the baseline: a fresh install of the newest version
create_db('fresh');
$node->safe_psql('fresh', q{CREATE EXTENSION event_streaming});
is(extversion('fresh'), $newest, "a fresh install is $newest");
my $fresh_cat = catalog($node, 'fresh');
note 'catalog lines compared: ' . scalar(my @l = split /\n/, $fresh_cat);
like($fresh_cat, qr/^extension event_streaming: version=\Q$newest\E /m, 'the catalog names the version');
for my $section (qw(member column constraint index view function functiondef type sequence extconfig relation schema))
{
	like($fresh_cat, qr/^$section /m, "the catalog comparison has a $section section");
}

# --- each released version, updated with its data
for my $v (@released)
{
	my $db = "from_$v";
	ok(-f $data_file{$v}, "$v has a data writer, test/upgrade/data-$v.sql") or next;

	# 1. install V and write through its API
	create_db($db);
	ok_sql($db, qq{CREATE EXTENSION event_streaming VERSION '$v'}, "$db: CREATE EXTENSION event_streaming VERSION '$v'") or next;
	is(extversion($db), $v, "$db: installed $v");
	write_data($db, $data_file{$v}, "$db: data-$v.sql runs under $v");

	# 2. capture, then update in one step
	my $rel_v = es_relations($db);
	my $before = data_dump($db, $rel_v);
	my @empty = $before =~ /^(\S+): (?:#rows=0|last_value=\S+ is_called=f)$/mg;
	is("@empty", '', "$db: data-$v.sql leaves data in every table and sequence of $v (" . scalar(keys %$rel_v) . ')');
	ok_sql($db, q{ALTER EXTENSION event_streaming UPDATE}, "$db: ALTER EXTENSION event_streaming UPDATE") or next;
	is(extversion($db), $newest, "$db: ALTER EXTENSION UPDATE brings $v to $newest in one step");

	# 3a. the objects of a fresh install
	same_catalog(catalog($node, $db), $fresh_cat, "$v -> $newest: exactly the objects of a fresh $newest install",
		'the fresh install', "$db");

	# 3b. the data, as read under V, for every table that is still there
	my $rel_now = es_relations($db);
	my (%both, @lost);
	for my $name (sort keys %$rel_v)
	{
		if (!$rel_now->{$name})
		{
			note "$db: es.$name is gone after the update; its data is not compared";
			next;
		}
		my %now = map { $_ => 1 } @{ $rel_now->{$name}{cols} };
		my @gone = grep { !$now{$_} } @{ $rel_v->{$name}{cols} };
		push @lost, map { "$name.$_" } @gone;
		$both{$name} = $rel_v->{$name} unless @gone;
	}
	is("@lost", '', "$v -> $newest: no column of a kept table is dropped");
	my $want = join "\n", grep { /^(\S+): / && $both{$1} } split /\n/, $before;
	same_text(data_dump($db, \%both), $want, "$v -> $newest: every es table and sequence reads back identical",
		'data lines', "$db before the update", 'after it');

	# 3c. the behaviour suite on a database updated from V the same way.
	# Not on from_V itself: some tests of the suite count or list
	# everything there is (all streams, all queues, absolute positions),
	# so the data written above would change their output, not their
	# verdict.
	my $suite_db = "suite_$v";
	create_db($suite_db);
	ok_sql($suite_db, qq{CREATE EXTENSION event_streaming VERSION '$v'}, "$suite_db: installed $v");
	ok_sql($suite_db, q{ALTER EXTENSION event_streaming UPDATE}, "$suite_db: updated to $newest");
	run_regress($suite_db);
	same_catalog(catalog($node, $suite_db), $fresh_cat, "$v -> $newest: still the objects of a fresh install after the suite",
		'the fresh install', "$suite_db");

	# 4. dump and restore
	my $restored = "restored_$v";
	dump_restore($db, $restored);
	my $upgraded_cat = catalog($node, $db);
	my $restored_cat = catalog($node, $restored);
	same_catalog($restored_cat, $upgraded_cat, "$v -> $newest -> dump/restore: the objects of the updated database",
		"$db", "$restored");
	same_catalog($restored_cat, $fresh_cat, "$v -> $newest -> dump/restore: the objects of a fresh install",
		'the fresh install', "$restored");
	same_text(data_dump($restored, es_relations($restored)), data_dump($db, es_relations($db)),
		"$v -> $newest -> dump/restore: every es table and sequence restored identical", 'data lines', "$db", "$restored");
}

# --- the fresh install through the same triangle
ok($newest_writer, 'there is a data writer for the fresh install')
  and write_data('fresh', $data_file{$newest_writer}, "fresh: data-$newest_writer.sql runs under $newest");
same_catalog(catalog($node, 'fresh'), $fresh_cat, 'a fresh install still compares equal after use');
dump_restore('fresh', 'fresh_restored');
my $fresh_restored_cat = catalog($node, 'fresh_restored');
same_catalog($fresh_restored_cat, $fresh_cat, 'fresh -> dump/restore: the objects of a fresh install',
	'the fresh install', 'fresh_restored');
my $fresh_data = data_dump('fresh', es_relations('fresh'));
like($fresh_data, qr/^events: \(/m, 'the fresh install has events to compare');
same_text(data_dump('fresh_restored', es_relations('fresh_restored')), $fresh_data, 'fresh -> dump/restore: every es table and sequence restored identical',
	'data lines', 'fresh', 'fresh_restored');

$node->stop;
done_testing();
