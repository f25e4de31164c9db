#!/usr/bin/env bash
# bench/chaos.sh -- the chaos workload of test/t/014_chaos.pl, long: appenders
# (expected versions, idempotent retries, batches, transactions), a queue
# producer, two consumers, a subscription reader and a projection run by the
# background worker, under load, while the server is killed over and over.
#
#   make install && make bench-chaos         (or: bench/chaos.sh)
#   ES_CHAOS_CYCLES=10 bench/chaos.sh        (a shorter run)
#
# Each cycle is a SIGKILL of the worker (the postmaster then restarts every
# process: crash recovery) and a SIGKILL of the postmaster (every other cycle
# of the postmaster and all its children at once), each followed by the
# test's full check of what the clients were acknowledged against what the
# server holds (see the head of test/t/014_chaos.pl).  The script runs that
# TAP test with prove, with ES_CHAOS_CYCLES=50 unless set, on the test's own
# throwaway cluster under bench/out/chaos (as OS user postgres when run as
# root), and prints the totals checked, the run time and PASS or FAIL (exit
# status 1 on FAIL).  The whole TAP output is in bench/out/chaos/prove.log,
# the summary in bench/out/chaos/last-run.txt, the server log and the
# clients' logs under bench/out/chaos/tmp_check.
#
# The cluster loads the installed library at each start, so also after each
# postmaster kill: a 'make install' during the run changes what is tested
# from then on (the summary says so when the library changed).
#
# Environment:
#   ES_CHAOS_CYCLES        kill cycles                                  (default 50)
#   ES_CHAOS_LOAD_SECONDS  mean seconds of load before each kill        (default 2.5)
#   PG_CONFIG              first pg_config in PATH
set -euo pipefail

OUT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out/chaos
RESULT=$OUT/last-run.txt
CYCLES=${ES_CHAOS_CYCLES:-50}
LOAD=${ES_CHAOS_LOAD_SECONDS:-2.5}
[[ $CYCLES =~ ^[1-9][0-9]*$ ]] || { echo "bench: ES_CHAOS_CYCLES must be a positive integer" >&2; exit 1; }
[[ $LOAD =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "bench: ES_CHAOS_LOAD_SECONDS must be a number" >&2; exit 1; }

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$BENCH_DIR/.." && pwd)
PGXS_SRC=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")   # .../pgxs/src
PERL_LIB=$PGXS_SRC/test/perl
PG_REGRESS_BIN=$PGXS_SRC/test/regress/pg_regress
[[ -f $PERL_LIB/PostgreSQL/Test/Cluster.pm && -x $PG_REGRESS_BIN ]] ||
    die "the PGXS test files are not in $PGXS_SRC (package postgresql-server-dev-15)"
command -v prove >/dev/null 2>&1 || die "prove (perl) not found"
perl -MIPC::Run -e1 2>/dev/null || die "perl module IPC::Run not found (package libipc-run-perl)"
if [[ $(id -u) -eq 0 ]]; then
    runuser -u "$OS_USER" -- test -r "$REPO/test/t/014_chaos.pl" ||
        die "OS user $OS_USER cannot read $REPO/test/t/014_chaos.pl"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
if [[ $(id -u) -eq 0 ]]; then chown "$OS_USER" "$OUT"; fi

SO_MD5=$(so_md5)
echo "chaos: $CYCLES cycles, load ${LOAD} s before each kill, library md5 $SO_MD5; TAP output: $OUT/prove.log"
t0=$(date +%s)
rc=0
# TESTDIR places the output up to 15, TESTDATADIR and TESTLOGDIR from 16 on.
(cd "$REPO" && as_server env PATH="$PGBIN:$PATH" PG_REGRESS="$PG_REGRESS_BIN" TESTDIR="$OUT" \
    TESTDATADIR="$OUT/tmp_check" TESTLOGDIR="$OUT/tmp_check/log" ES_CHAOS_CYCLES="$CYCLES" ES_CHAOS_LOAD_SECONDS="$LOAD" \
    prove -v -I "$PERL_LIB" test/t/014_chaos.pl) >"$OUT/prove.log" 2>&1 || rc=$?
secs=$(($(date +%s) - t0))

{
    echo "chaos run finished $(date -u '+%Y-%m-%d %H:%M:%S UTC'): $CYCLES cycles, $((secs / 60)) min $((secs % 60)) s," \
        "$(nproc) cores, library md5 $SO_MD5"
    grep -E '^# (checked|calls without an answer)' "$OUT/prove.log" | sed 's/^# //' || true
    grep -E '^Files=' "$OUT/prove.log" || true
    if ((rc == 0)); then
        echo "PASS"
    else
        grep -E '^(not ok|Bailout|# Looks like|Dubious)' "$OUT/prove.log" | head -n 30 || true
        echo "FAIL (prove exit $rc; see $OUT/prove.log and $OUT/tmp_check/log)"
    fi
} | tee "$RESULT"
note_so_changed
exit $rc
