# Every SQL example of the documentation runs as written, and docs/api.md
# documents the whole API.
#
# The convention that README.md and docs/*.md follow:
#
# - Every ```sql block is run.  The blocks of one file run in order, each in
#   a psql session of its own (psql -X -q, ON_ERROR_STOP, so psql
#   meta-commands work), all in database postgres of a fresh cluster made for
#   that file: roles and state carry over from block to block within a file,
#   never from one file to another.  The cluster preloads the library,
#   its worker serves postgres (event_streaming.databases = 'postgres',
#   naptime 100 ms), and its time zone is UTC.
# - A file's blocks create the extension themselves (CREATE EXTENSION
#   event_streaming;).  A file none of whose blocks says CREATE EXTENSION
#   event_streaming gets it created before its first block.
# - A block whose first line is "-- error: SQLSTATE" must fail with exactly
#   that SQLSTATE (e.g. "-- error: ES001"); the statement that fails should
#   be its last, since nothing after it runs.
# - A ```sql block followed (after blank lines only) by a ```text block:
#   the text block is the block's expected standard output, compared
#   exactly but for trailing white space: psql's default aligned format with
#   headers and row counts, no command tags (psql -q).  Use it only for
#   results that do not depend on time, chance or the worker.
# - "\watch N" runs the query once.
# - Signatures and other SQL that is not meant to run go in a fence without
#   a language (or any language but sql); ```sh, ```conf, ```yaml etc. are
#   not run either.
#
# Each block is one test, "<file> block N (line L)"; a failure shows the
# block and psql's errors.  ES_DOCS picks the files (paths from the
# repository's top, separated by spaces or commas), e.g.
# ES_DOCS=docs/api.md.  When docs/api.md runs, the test also checks that
# every function, procedure and view of schema es in the installed extension
# has an entry there (a heading naming es.<name>), and that every es.<name>
# in a heading exists.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use File::Basename qw(basename);
use FindBin;

my $repo = "$FindBin::RealBin/../..";
my @files =
  $ENV{ES_DOCS}
  ? split(/[\s,]+/, $ENV{ES_DOCS})
  : ('README.md', map { "docs/" . basename($_) } sort glob("$repo/docs/*.md"));

# The fenced blocks of a Markdown file, in order: {lang, code, line} (line:
# of the opening fence), and for a sql block the text block after it as
# {expected}.  Fences may be indented (in list items); the indentation is
# removed from the code.  Also returns the headings outside fences.
sub parse_markdown
{
	my ($path) = @_;
	my @lines = split /\n/, slurp_file($path);
	my (@blocks, @headings);
	for (my $i = 0; $i < @lines; $i++)
	{
		if ($lines[$i] =~ /^#+\s+(.*)/)
		{
			push @headings, $1;
			next;
		}
		next unless $lines[$i] =~ /^(\s*)```\s*([\w-]*)\s*$/;
		my ($indent, $lang, $start) = ($1, $2, $i + 1);
		my @code;
		while (++$i < @lines && $lines[$i] !~ /^\s*```\s*$/)
		{
			push @code, $lines[$i] =~ s/^\Q$indent\E//r;
		}
		my $block = { lang => $lang, code => join('', map { "$_\n" } @code), line => $start };
		if ($lang eq 'text' && @blocks && $blocks[-1]{lang} eq 'sql' && $blocks[-1]{follows} == $start)
		{
			$blocks[-1]{expected} = $block->{code};
			next;
		}
		# Where a text block would have to start to be this block's output.
		my $next = $i + 1;
		$next++ while $next < @lines && $lines[$next] =~ /^\s*$/;
		$block->{follows} = $next + 1;
		push @blocks, $block;
	}
	return (\@blocks, \@headings);
}

# Output lines without trailing white space, without trailing empty lines.
sub normalize
{
	my ($text) = @_;
	return join("\n", map { s/\s+$//r } split /\n/, $text) =~ s/\s+\z//r;
}

# Run one block in its own psql session: (exit code, stdout, stderr).
sub run_block
{
	my ($node, $sql) = @_;
	$sql =~ s/\\watch\b[^\n]*/;/g;
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[
			$node->installed_command('psql'), '-X', '-q',
			'-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
			'-d', $node->connstr('postgres') . ' client_encoding=UTF8', '-f', '-'
		],
		'<', \$sql, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

# What is wrong with a block's run, or undef.
sub check_block
{
	my ($block, $ret, $out, $err) = @_;
	my ($want_state) = $block->{code} =~ /\A--\s*error:\s*([0-9A-Z]{5})\s*\n/;
	my ($state) = $err =~ /(?:ERROR|FATAL):  ([0-9A-Z]{5}): /;
	if (defined $want_state)
	{
		return "it succeeded, but should fail with $want_state" if $ret == 0;
		return "it failed with " . ($state // 'no SQLSTATE') . ", not $want_state"
		  if ($state // '') ne $want_state;
	}
	elsif ($ret != 0)
	{
		return "it failed";
	}
	if (defined $block->{expected} && normalize($out) ne normalize($block->{expected}))
	{
		return "its output differs\n--- expected:\n"
		  . normalize($block->{expected})
		  . "\n--- got:\n"
		  . normalize($out);
	}
	return undef;
}

# docs/api.md names every function, procedure and view of schema es in a
# heading, and nothing else.
sub check_api_entries
{
	my ($node, $headings) = @_;
	my %documented = map { $_ => 1 } map { /\bes\.(\w+)/g } @$headings;
	my @api = split /\n/, $node->safe_psql(
		'postgres', q{
		SELECT proname FROM pg_proc WHERE pronamespace = 'es'::regnamespace
		UNION SELECT relname FROM pg_class WHERE relnamespace = 'es'::regnamespace AND relkind = 'v'
		ORDER BY 1});
	my %exists = map { $_ => 1 } split /\n/, $node->safe_psql(
		'postgres', q{
		SELECT proname FROM pg_proc WHERE pronamespace = 'es'::regnamespace
		UNION SELECT relname FROM pg_class WHERE relnamespace = 'es'::regnamespace
		UNION SELECT typname FROM pg_type WHERE typnamespace = 'es'::regnamespace});
	my @missing = grep { !$documented{$_} } @api;
	my @unknown = grep { !$exists{$_} } sort keys %documented;
	is("@missing", '', 'docs/api.md has an entry for every function, procedure and view of schema es')
	  or diag('no heading names es.' . join(', es.', @missing));
	is("@unknown", '', 'every es.<name> in a heading of docs/api.md exists')
	  or diag('not in schema es: es.' . join(', es.', @unknown));
	return;
}

for my $file (@files)
{
	my $path = "$repo/$file";
	ok(-f $path, "$file exists") or next;
	my ($blocks, $headings) = parse_markdown($path);
	my @sql = grep { $_->{lang} eq 'sql' } @$blocks;
	note "$file: " . scalar(@sql) . " SQL blocks";
	next unless @sql || $file eq 'docs/api.md';

	my $node = PostgreSQL::Test::Cluster->new('docs_' . ($file =~ s/\W/_/gr));
	$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
	$node->append_conf(
		'postgresql.conf', q{
shared_preload_libraries = 'event_streaming'
event_streaming.databases = 'postgres'
event_streaming.naptime = '100ms'
timezone = 'UTC'
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION event_streaming')
	  unless grep { $_->{code} =~ /\bCREATE\s+EXTENSION\s+(IF\s+NOT\s+EXISTS\s+)?event_streaming\b/i } @sql;

	for my $n (1 .. @sql)
	{
		my $block = $sql[ $n - 1 ];
		my $name = "$file block $n (line $block->{line})";
		my ($ret, $out, $err) = run_block($node, $block->{code});
		my $problem = check_block($block, $ret, $out, $err);
		ok(!defined $problem, $name)
		  or diag("$name: $problem\n--- block:\n$block->{code}" . ($err eq '' ? '' : "--- psql:\n$err"));
	}
	check_api_entries($node, $headings) if $file eq 'docs/api.md';
	$node->stop;
}

done_testing();
