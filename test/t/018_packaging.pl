# Packaging: META.json, make dist, and a clean install from the distribution.
#
# (a) META.json is valid JSON with the keys PGXN's META spec 1.0.0 requires;
#     the distribution's version and the extension's are default_version of
#     event_streaming.control, and the file it names for the extension exists.
# (b) make dist, in a clone of the repository with the working tree's
#     changes committed on top (so the test sees what the tree would
#     release), writes event_streaming-<version>.zip: every entry under
#     event_streaming-<version>/, with what a build and a user need and
#     nothing ignored or export-ignored.  In the unpacked distribution, which
#     is no git checkout, make dist fails and says so.
# (c) From the unpacked distribution, make (with the Makefile's -Werror) and
#     make install with PG_CONFIG naming a private copy of the server (a
#     PostgreSQL installation is relocatable: the copy's pg_config names
#     paths in the copy) put the library and the scripts into the copy and
#     leave the system's server untouched.  A cluster run from the copy's
#     binaries preloads the copy's library, creates the extension at the
#     control file's version, appends and reads an event, and enqueues,
#     dequeues and acks a message.  make with PG_CONFIG naming a missing
#     file fails and says so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Cwd qw(abs_path);
use Digest::SHA;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use FindBin;
use JSON::PP;

my $repo = abs_path("$FindBin::RealBin/../..");
my $tmp  = PostgreSQL::Test::Utils::tempdir('packaging');

for my $tool (qw(git unzip))
{
	system("command -v $tool >/dev/null") == 0
	  or BAIL_OUT("$tool is not installed: apt-get install -y $tool");
}

# The plain build a user makes, even inside make test-sanitize or ENABLE_ASSERTS=1.
delete @ENV{qw(ES_SANITIZE ENABLE_ASSERTS)};

sub lines_of { my ($out) = run_command($_[0]); return split /\n/, $out; }

# --- (a) META.json
my ($version) = slurp_file("$repo/event_streaming.control") =~ /^default_version\s*=\s*'([^']+)'/m;
ok(defined $version, "event_streaming.control has a default_version");
my $meta = eval { decode_json(slurp_file("$repo/META.json")) };
ok($meta, 'META.json is valid JSON') or diag($@);
ok(exists $meta->{$_}, "META.json has $_")
  for qw(name version abstract maintainer license provides meta-spec);
is($meta->{'meta-spec'}{version}, '1.0.0', 'META.json follows META spec 1.0.0');
is($meta->{version}, $version, 'META.json version is the control file default_version');
my $provided = $meta->{provides}{event_streaming};
is($provided->{version}, $version, 'META.json provides event_streaming at the control file default_version');
ok(-f "$repo/$provided->{file}", "the file META.json names for the extension, $provided->{file}, exists");
ok(-f "$repo/$provided->{docfile}", "its docfile, $provided->{docfile}, exists");

# --- (b) make dist in a clone
# The repository may belong to another OS user, which git refuses unless
# told (safe.directory); the clone's own upload-pack is told so.
my $clone = "$tmp/clone";
command_ok(
	[ 'git', 'clone', '-q', '--no-checkout', '--no-local',
	  '--upload-pack', q{git -c safe.directory='*' upload-pack}, $repo, $clone ],
	'git clone');
command_ok([ 'git', "--git-dir=$clone/.git", "--work-tree=$repo", 'add', '-A' ],
	"the clone's index takes the working tree");
command_ok(
	[ 'git', '-C', $clone, '-c', 'user.name=018_packaging', '-c', 'user.email=packaging@localhost',
	  'commit', '-q', '--allow-empty', '-m', 'the working tree' ],
	'commit it');
command_ok([ 'git', '-C', $clone, 'reset', '-q', '--hard' ], 'check it out');
command_ok([ 'make', '-C', $clone, 'dist' ], 'make dist');

my $zip    = "$clone/event_streaming-$version.zip";
my $prefix = "event_streaming-$version/";
ok(-f $zip, "make dist wrote event_streaming-$version.zip") or die "no distribution to go on with\n";
my @entries = lines_of([ 'unzip', '-Z1', $zip ]);
is_deeply([ grep { index($_, $prefix) != 0 } @entries ], [], "every entry is under $prefix");
my %in_zip = map { substr($_, length $prefix) => 1 } grep { !m{/$} } @entries;
my @committed = lines_of([ 'git', '-C', $clone, 'ls-files' ]);
is_deeply([ sort keys %in_zip ], [ sort grep { !m{^(\.ci/|\.gitignore$|\.gitattributes$)} } @committed ],
	'it holds every committed file but .ci/, .gitignore and .gitattributes');
is_deeply(
	[ grep { !$in_zip{$_} } qw(event_streaming.control Makefile META.json README.md LICENSE src/event_streaming.c),
		$provided->{file} ],
	[], "among them the control file, the Makefile, META.json, README.md, LICENSE, src/ and $provided->{file}");
is_deeply([ grep { m{^(tmp_check|bench/out)/|\.(o|so|bc|zip)$} } keys %in_zip ], [],
	'and nothing from tmp_check, bench/out or a build');

my $dist = "$tmp/unpacked/event_streaming-$version";
command_ok([ 'unzip', '-q', $zip, '-d', "$tmp/unpacked" ], 'unzip the distribution');
{
	# Keep git from finding the checkout the test directory may lie in.
	local $ENV{GIT_CEILING_DIRECTORIES} = $tmp;
	command_fails_like([ 'make', '-C', $dist, 'dist' ], qr/is not a git checkout/,
		'make dist outside a git checkout');
}

# --- (c) a clean install into a private copy of the server
# The copy mirrors the installation's directories under $root, as
# scripts/sanitize.sh does: the server's prefix (bin, lib), share and include.
my %sys = map { $_ => (lines_of([ 'pg_config', "--$_" ]))[0] }
  qw(bindir sharedir includedir pkglibdir);
my $root = "$tmp/root";
for my $dir (dirname($sys{bindir}), $sys{sharedir}, $sys{includedir})
{
	make_path($root . dirname($dir));
	command_ok([ 'cp', '-a', $dir, "$root$dir" ], "copy $dir");
}
my $bindir = "$root$sys{bindir}";
# scripts/sanitize.sh's copy runs bin/postgres through a wrapper: take the real binary.
rename("$bindir/postgres.real", "$bindir/postgres") if -e "$bindir/postgres.real";
my $pg_config = "$bindir/pg_config";
my %copy = map { $_ => (lines_of([ $pg_config, "--$_" ]))[0] } qw(sharedir pkglibdir);
is($copy{sharedir},  "$root$sys{sharedir}",  "the copy's pg_config --sharedir is in the copy");
is($copy{pkglibdir}, "$root$sys{pkglibdir}", "the copy's pg_config --pkglibdir is in the copy");
# The system's event_streaming files (library, bitcode, control file, scripts):
# the copy starts without them.
sub system_files
{
	return lines_of([ 'find', $sys{sharedir}, $sys{pkglibdir}, '-path', '*event_streaming*', '-type', 'f' ]);
}
unlink map { "$root$_" } system_files();

# Their times, sizes and contents.
sub system_install
{
	return { map { my @st = stat $_; $_ => "$st[9] $st[7] " . Digest::SHA->new(256)->addfile($_)->hexdigest }
		  system_files() };
}
my $before = system_install();

command_fails_like([ 'make', '-C', $dist, 'PG_CONFIG=/nonexistent/pg_config' ],
	qr{/nonexistent/pg_config not found}, 'make with PG_CONFIG naming a missing file');
command_checks_all([ 'make', '-C', $dist, "PG_CONFIG=$pg_config" ],
	0, [qr/ -Werror /], [], 'make in the distribution, with -Werror');
command_ok([ 'make', '-C', $dist, 'install', "PG_CONFIG=$pg_config" ], 'make install into the copy');

my @scripts = map { s{^sql/}{}r } grep { m{^sql/event_streaming--.*\.sql$} } keys %in_zip;
ok(-f "$copy{pkglibdir}/event_streaming.so", 'the library is in the copy');
is_deeply([ grep { !-f "$copy{sharedir}/extension/$_" } 'event_streaming.control', @scripts ], [],
	'the control file and the ' . scalar(@scripts) . ' SQL scripts are in the copy');
is_deeply(system_install(), $before, "the system's event_streaming files are untouched");

my $node = PostgreSQL::Test::Cluster->new('packaging', install_path => dirname($bindir));
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'event_streaming'");
$node->start;
sub sq { return $node->safe_psql('postgres', $_[0]); }

my ($postmaster) = slurp_file($node->data_dir . '/postmaster.pid') =~ /^(\d+)/;
like(slurp_file("/proc/$postmaster/maps"), qr{\Q$copy{pkglibdir}\E/event_streaming\.so$}m,
	"the server runs the copy's library");
sq('CREATE EXTENSION event_streaming');
is(sq(q{SELECT extversion FROM pg_extension WHERE extname = 'event_streaming'}), $version,
	'CREATE EXTENSION makes the control file default_version');
is(sq(q{SELECT es.append('order-1', 'Placed', '{"n": 1}')}), '0', 'append an event');
is(sq(q{SELECT stream_offset, event_type, data->>'n' FROM es.read_stream('order-1')}), '0|Placed|1',
	'read it back');
is(sq(q{
SELECT es.create_queue('jobs');
SELECT es.enqueue('jobs', '{"job": 7}') > 0;
SELECT es.ack('jobs', message_id, receipt), payload->>'job' FROM es.dequeue('jobs', 'worker');
SELECT count(*) FROM es.messages;}),
	"t\nt\nt|7\n0", 'enqueue, dequeue and ack a message');

$node->stop;
done_testing();
