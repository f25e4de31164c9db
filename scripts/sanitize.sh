#!/usr/bin/env bash
# make test-sanitize: the whole suite (scripts/test.sh: pg_regress, isolation,
# Perl TAP) against an AddressSanitizer + UndefinedBehaviorSanitizer build of
# the extension.  Exit status 1 if a suite fails or if any sanitizer report
# was written (whatever code it names; each is shown, marked by whether it
# mentions the extension's code).
#
# Nothing is installed into the system's server.  The server runs from a
# private copy under tmp_check/sanitize/root (PostgreSQL finds its lib and
# share directories relative to its binaries, so PG_CONFIG=<copy>/pg_config
# names the copy and make install goes there), and the extension is built,
# with make ES_SANITIZE=1, in a copy of the working tree,
# tmp_check/sanitize/src (so no instrumented object file lands in src/).
# The copy's bin/postgres is a wrapper that runs the real binary with the
# sanitizer runtime preloaded (an uninstrumented server must load it before
# anything else); every server of the suite — the pg_regress/isolation
# cluster of scripts/cluster.sh, the TAP tests' clusters, pg_upgrade's — runs
# through it, and nothing else (psql, perl, the shell) is sanitized.
#
# What it sees: the extension's own code fully (stack, globals, UB) and heap
# blocks from malloc, but not inside PostgreSQL's memory contexts: palloc
# chunks share malloc'd blocks, so an overrun from one chunk into the next of
# the same block goes unseen.  UBSan reports are logged and the run goes on;
# an ASan error ends its process (the postmaster takes it as a crash, so the
# test running fails too).  Reports land in tmp_check/sanitize/logs/report.PID
# (ASan's) and in the server logs (UBSan's: with two runtimes in the process
# only the first writes to log_path); both are searched.
#
# Output: scripts/test.sh's, then every report (its first lines) and a
# count; the suite's own output is under tmp_check/sanitize/src/tmp_check.
# Env: ENABLE_ASSERTS (non-empty: also -DUSE_ASSERT_CHECKING -O0 -g),
#      ES_TEST_PORT (default 54370), PG_CONFIG (the server to copy).
source "$(dirname "$0")/lib.sh"
cd "$ES_REPO"

base=$ES_REPO/tmp_check/sanitize
root=$base/root
src=$base/src
logs=$base/logs
export ES_TEST_PORT=${ES_TEST_PORT:-54370}

"$ES_SCRIPTS/deps.sh"
es_check_pg_access
command -v gcc >/dev/null || die "need gcc"
libasan=$(gcc -print-file-name=libasan.so)
libubsan=$(gcc -print-file-name=libubsan.so)
[ -e "$libasan" ] && [ -e "$libubsan" ] || die "gcc has no libasan/libubsan; apt-get install -y libasan8 libubsan1"

# --- the private server copy ---------------------------------------------------
sys_bindir=$("$PG_CONFIG" --bindir)
sys_sharedir=$("$PG_CONFIG" --sharedir)
sys_includedir=$("$PG_CONFIG" --includedir)
sys_prefix=$(dirname "$sys_bindir")          # e.g. /usr/lib/postgresql/15 (bin, lib)
# Stop servers an interrupted earlier run may have left in the copy.
for pid in "$src"/tmp_check/cluster/data/postmaster.pid "$src"/tmp_check/tap/tmp_check/*/pgdata/postmaster.pid; do
	if [ -f "$pid" ] && [ -x "$root$sys_bindir/pg_ctl" ]; then
		as_pg "$root$sys_bindir/pg_ctl" -D "${pid%/*}" stop -m immediate >/dev/null 2>&1 || true
	fi
done
rm -rf "$root" "$logs"
mkdir -p "$root" "$logs"
for d in "$sys_prefix" "$sys_sharedir" "$sys_includedir"; do
	mkdir -p "$root$(dirname "$d")"
	cp -a "$d" "$root$d"
done
bindir=$root$sys_bindir
PG_CONFIG=$bindir/pg_config
export PG_CONFIG
[ "$("$PG_CONFIG" --sharedir)" = "$root$sys_sharedir" ] ||
	die "the copied pg_config does not relocate: --sharedir is $("$PG_CONFIG" --sharedir), expected $root$sys_sharedir"
[ "$("$PG_CONFIG" --pkglibdir)" = "$root$sys_prefix/lib" ] ||
	die "the copied pg_config does not relocate: --pkglibdir is $("$PG_CONFIG" --pkglibdir)"
# The copy must not keep the event_streaming of the system install.
rm -f "$("$PG_CONFIG" --pkglibdir)"/event_streaming.so "$("$PG_CONFIG" --sharedir)"/extension/event_streaming*

# --- the server wrapper -------------------------------------------------------------
# The options come from __asan_default_options/__ubsan_default_options in a
# small preloaded library, not from ASAN_OPTIONS/UBSAN_OPTIONS: the runtimes
# read the environment from /proc/self/environ, and UBSan does so only at its
# first report, in a backend, where PostgreSQL has overwritten that area with
# the process title.
cat >"$base/options.c" <<EOF
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__asan_default_options(void)
{
	return "log_path=$logs/report:detect_leaks=0:detect_stack_use_after_return=0"
		":verify_asan_link_order=0:allocator_may_return_null=1"
		":quarantine_size_mb=64:malloc_context_size=20:print_cmdline=1";
}
const char *__ubsan_default_options(void)
{
	return "log_path=$logs/report:print_stacktrace=1:halt_on_error=0";
}
EOF
gcc -shared -fPIC -O2 -o "$root/sanitizer_options.so" "$base/options.c"
# Preloading libasan alone hangs the server at start: libasan is then
# initialized after the constructors of the server's libraries, lazily, by
# the first malloc — which libgpg-error's constructor makes inside
# bindtextdomain() (and libp11-kit's inside newlocale()), holding glibc's
# locale locks, which the runtime's start-up corrupts; the next
# bindtextdomain() waits forever.  Of unrelated libraries the later one in
# the search list is initialized first, so the wrapper preloads the server's
# own libraries (ldd's list but glibc's, which must come after the runtime
# that interposes malloc), then libasan and libubsan: the runtimes start
# before any of those constructors (verify_asan_link_order=0 lets libasan
# not be first).
mv "$bindir/postgres" "$bindir/postgres.real"
preload=$(ldd "$bindir/postgres.real" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' |
	grep -vE '/(libc|libm|libpthread|libdl|librt|libresolv|ld-linux[^/]*)\.so' | tr '\n' ' ')
# exec -a: the server takes its own path from argv[0] and writes it to
# postmaster.opts, which pg_ctl restart runs: that must be this wrapper.
cat >"$bindir/postgres" <<EOF
#!/bin/bash
# scripts/sanitize.sh: the server with the sanitizer runtimes preloaded.
export LD_PRELOAD='$root/sanitizer_options.so $preload$libasan $libubsan'
exec -a '$bindir/postgres' '$bindir/postgres.real' "\$@"
EOF
chmod 755 "$bindir/postgres"
pg_own "$logs"
timeout 60 "$bindir/postgres" -V >/dev/null || die "the wrapped server does not run: $bindir/postgres -V"

# --- a copy of the working tree (tracked and new files, not the ignored) -------
rm -rf "$src"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -xf - -C "$src"

# --- build and run the suite ------------------------------------------------------
export ES_SANITIZE=1   # the Makefile adds -fsanitize=address,undefined
changes=$([ -z "$(git status --porcelain -- src sql)" ] || echo ' + working-tree changes')
echo "== sanitize: ASan+UBSan build of $(git rev-parse --short HEAD)$changes${ENABLE_ASSERTS:+, with assertions}"
echo "   server copy $root, tree copy $src"
rc=0
"$src/scripts/test.sh" || rc=$?
if [ "$(nm -D "$("$PG_CONFIG" --pkglibdir)/event_streaming.so" | grep -c __asan_report)" = 0 ]; then
	echo "sanitize: the installed library is not instrumented" >&2
	rc=1
fi

# --- sanitizer reports ------------------------------------------------------------
# ASan's files, and the server logs (and any other text file of the run) for
# reports written to stderr.
echo
echo "== sanitizer reports"
pattern='runtime error: |^==[0-9]+==ERROR: |^SUMMARY: [A-Za-z]+Sanitizer'
mapfile -t files < <({ find "$logs" -type f -size +0; grep -rIlE "$pattern" "$src/tmp_check" 2>/dev/null || true; } | sort -u)
total=0 ours=0
for f in "${files[@]}"; do
	# One report per "runtime error" line (UBSan) or "==PID==ERROR" line (ASan).
	n=$(grep -cE 'runtime error: |^==[0-9]+==ERROR: ' "$f" || true)
	[ "$n" -gt 0 ] || n=1
	total=$((total + n))
	# The extension's frames: its library, or its sources (src/*.c).
	blocks=$(grep -nE -A 30 "$pattern" "$f" || true)
	if grep -qE 'event_streaming\.so|(^|[ /:-])src/[a-z_]+\.c:' <<<"$blocks"; then
		ours=$((ours + n)) tag="the extension's code is in it"
	else
		tag="the extension's code is not in it"
	fi
	echo "-- $f: $n report(s), $tag:"
	head -n 80 <<<"$blocks"
done
echo "$total report(s), $ours in files whose reports name the extension's code; suite exit status $rc"
[ "$total" -eq 0 ] || rc=1
if [ $rc -eq 0 ]; then echo "sanitize: PASS"; else echo "sanitize: FAIL"; fi
exit $rc
