#!/usr/bin/env bash
# make test: build, install, then run every suite; one failing doesn't stop
# the others.
#   pg_regress  test/sql/*.sql     expected/<name>.out  cluster in tmp_check/cluster
#   isolation   test/specs/*.spec  expected/<name>.out  same cluster
#   Perl TAP    test/t/*.pl        each test makes its own clusters
#   pg_upgrade  test/pg_upgrade/*.pl  15 upgraded to this server; only where
#                                  both are installed (the roots of PG=17, 18)
# Ends with per-suite counts and the line "N passed, N failed" (N counts test
# files; one that could not run counts as failed).  Exit status 1 if any failed.
# Output in tmp_check/.  Env: ES_TEST_PORT (default 54330), ES_EXTRA_CONF
# (extra postgresql.conf lines for the shared cluster), PG_CONFIG, ENABLE_ASSERTS,
# PG (a server major: 15 here; 17 and 18 in a Debian root, scripts/pgroot.sh).
source "$(dirname "$0")/lib.sh"
es_enter_root "$0" "$@"
cd "$ES_REPO"

out=$ES_REPO/tmp_check
cluster=$out/cluster
port=${ES_TEST_PORT:-54330}
sock=$(es_socket_dir "$cluster")
summary=() problems=() total_passed=0 total_failed=0

# A suite's result: NAME PASSED FAILED.
record() {
	summary+=("$(printf '%-12s %d passed, %d failed' "$1" "$2" "$3")")
	total_passed=$((total_passed + $2)) total_failed=$((total_failed + $3))
}

# The test names in test/SUBDIR/*.EXT, sorted.
names() { local f; for f in test/"$1"/*."$2"; do [ -e "$f" ] && basename "$f" ".$2"; done; true; }

# Whether the driver's OUTPUT says test NAME passed: "test NAME ... ok" up
# to 15, "ok N - NAME" (or "+" in a parallel group) from 16 on.
regress_ok() {
	awk -v t="$1" '($1 == "test" && $2 == t && $3 == "..." && $4 == "ok") ||
		($1 == "ok" && ($3 == "-" || $3 == "+") && $4 == t) { ok = 1 } END { exit !ok }' "$2"
}

# A pg_regress-driven suite: NAME DRIVER DBNAME SUBDIR EXT.  The driver wants
# SUBDIR/ and expected/ side by side under --inputdir, so build that there.
run_regress() {
	local suite=$1 driver=$2 db=$3 sub=$4 ext=$5 dir=$out/$1 passed=0 ran=false n
	local tests
	mapfile -t tests < <(names "$sub" "$ext")
	mkdir -p "$dir/input"
	ln -s "$ES_REPO/test/$sub" "$dir/input/$sub"
	ln -s "$ES_REPO/expected" "$dir/input/expected"
	printf 'test: %s\n' "${tests[@]}" >"$dir/schedule"
	touch "$dir/output"
	if [ ${#tests[@]} -gt 0 ] && $cluster_ok; then
		ran=true
		echo "== $suite: ${#tests[@]} tests"
		# --use-existing: the driver neither drops nor creates the database
		"$PG_BINDIR/createdb" -h "$sock" -p "$port" -U postgres -T template0 "$db" || true
		"$driver" --bindir="$PG_BINDIR" --use-existing --host="$sock" --port="$port" \
			--user=postgres --dbname="$db" --inputdir="$dir/input" --outputdir="$dir" \
			--schedule="$dir/schedule" 2>&1 | tee "$dir/output" || true
	fi
	for n in "${tests[@]}"; do
		if regress_ok "$n" "$dir/output"; then passed=$((passed + 1)); fi
	done
	record "$suite" "$passed" $((${#tests[@]} - passed))
	if [ $passed -lt ${#tests[@]} ] && $ran; then
		if [ -s "$dir/regression.diffs" ]; then
			problems+=("$suite: differences in $dir/regression.diffs (start shown above)")
		fi
		problems+=("$suite: driver output $dir/output; server log $cluster/log")
	fi
}

# Perl TAP in test/SUBDIR/*.pl as suite NAME, one prove run per file so that
# each counts on its own.  As root it runs as postgres (initdb refuses
# root), so the output directory belongs to postgres.  TESTDIR is where 15
# puts it, TESTDATADIR and TESTLOGDIR where 16 and later do: the same place.
run_tap() {
	local suite=$1 sub=$2 dir=$out/tap passed=0 failed=0 n
	mkdir -p "$dir" && pg_own "$dir"
	for n in $(names "$sub" pl); do
		if ! $ready; then
			failed=$((failed + 1))
			continue
		fi
		echo "== $suite: test/$sub/$n.pl"
		if as_pg env PATH="$PG_BINDIR:$PATH" PG_REGRESS="$PG_REGRESS" TESTDIR="$dir" \
			TESTDATADIR="$dir/tmp_check" TESTLOGDIR="$dir/tmp_check/log" \
			prove -I "$PG_PERL_LIB" "test/$sub/$n.pl"; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			problems+=("$suite: test/$sub/$n.pl; log $dir/tmp_check/log/regress_log_$n")
		fi
	done
	record "$suite" "$passed" "$failed"
}

# The pg_upgrade tests (test/pg_upgrade) need PostgreSQL 15 with its headers
# beside a newer server, as the roots of scripts/pgroot.sh have them (make
# test PG=17, PG=18); on a host with one server they do not run, and the
# summary says so instead of counting them.
run_pg_upgrade() {
	if $upgrade_from_15; then
		run_tap pg_upgrade pg_upgrade
	else
		summary+=("$(printf '%-12s not run: needs PostgreSQL 15 beside a newer server (make test PG=17)' pg_upgrade)")
	fi
}

# Stop our servers, including any an interrupted TAP test left behind.
cleanup() {
	trap '' INT TERM   # make sends a second TERM; finish cleaning up first
	"$ES_SCRIPTS/cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
	local pid
	for pid in "$out"/tap/tmp_check/*/pgdata/postmaster.pid; do
		if [ -f "$pid" ]; then as_pg "$PG_BINDIR/pg_ctl" -D "${pid%/*}" stop -m immediate >/dev/null 2>&1 || true; fi
	done
	# Ignored signals stay ignored in every child: the tests must not inherit
	# that (a test's client that ignores SIGTERM is killed only after a grace).
	trap - INT TERM
}

# PostgreSQL 15 beside a newer server (the roots of PG=17, 18) gets its own
# build first, for the pg_upgrade tests; then the server under test's.
old15=/usr/lib/postgresql/15
upgrade_from_15=false
if [ "$(es_pg_major)" -gt 15 ] && [ -x "$old15/bin/postgres" ] && [ -f "$old15/lib/pgxs/src/makefiles/pgxs.mk" ]; then
	upgrade_from_15=true
fi
ready=true cluster_ok=false
(
	if $upgrade_from_15; then PG_CONFIG=$old15/bin/pg_config "$ES_SCRIPTS/install.sh"; fi &&
		"$ES_SCRIPTS/deps.sh" && "$ES_SCRIPTS/install.sh" && es_check_pg_access
) || ready=false
if $ready; then es_pg_paths && cleanup && trap cleanup EXIT; fi
rm -rf "$out/pg_regress" "$out/isolation" "$out/tap"
mkdir -p "$out"
if $ready; then
	if "$ES_SCRIPTS/cluster.sh" start "$cluster" "$port"; then cluster_ok=true
	else problems+=("the test cluster did not start; log: $cluster/log"); fi
else
	problems+=("setup failed (see above): no test could run")
fi

run_regress pg_regress "${PG_REGRESS:-}" contrib_regression sql sql
run_regress isolation "${PG_ISOLATION_REGRESS:-}" isolation_regression specs spec
run_tap "perl TAP" t
run_pg_upgrade
if $ready; then "$ES_SCRIPTS/cluster.sh" stop "$cluster"; fi

if [ ${#problems[@]} -gt 0 ]; then
	echo
	echo "== failures"
	for n in pg_regress isolation; do
		if [ -s "$out/$n/regression.diffs" ]; then
			echo "-- $out/$n/regression.diffs:"
			head -n 200 "$out/$n/regression.diffs"
		fi
	done
	printf '%s\n' "${problems[@]}"
fi
echo
echo "== summary"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
$ready && [ "$total_failed" -eq 0 ] || exit 1
