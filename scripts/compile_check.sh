#!/usr/bin/env bash
# make check-19: build the extension against the next PostgreSQL major, 19,
# as Debian experimental has it (a release candidate), so that its API
# changes do not arrive as a surprise.  Compiled and linked with the
# Makefile's -Wall -Wextra -Werror and 19's own PGXS flags; not run: no
# Debian suite reachable here ships a 19 server that this machine can run
# with the suite's other packages.
#
# Runs in the PostgreSQL 18 root (scripts/pgroot.sh; Debian forky has the
# libc and compiler 19's packages are built for).  The packages
# postgresql-server-dev-19 (headers) and postgresql-client-19 (pg_config
# and PGXS) are downloaded, never installed, and unpacked into
# /var/cache/es-pg19 in the root; the build runs in a copy of the sources.
# Ends with "1 passed, 0 failed" or "0 passed, 1 failed".
source "$(dirname "$0")/lib.sh"

if [ -z "${ES_IN_ROOT:-}" ]; then
	PG=18 es_enter_root "$0" "$@"
fi
cd "$ES_REPO"

cache=/var/cache/es-pg19
# Only the current candidates: what an earlier run downloaded goes first.
rm -rf "$cache/debs"
mkdir -p "$cache/debs"
(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root \
	postgresql-server-dev-19 postgresql-client-19) >/dev/null ||
	die "could not download PostgreSQL 19's packages from Debian experimental"
debs=$(cd "$cache/debs" && ls ./*.deb | sed 's|^\./||')
if [ "$(cat "$cache/unpacked" 2>/dev/null)" != "$debs" ]; then
	rm -rf "$cache/root"
	for d in $debs; do dpkg-deb -x "$cache/debs/$d" "$cache/root"; done
	echo "$debs" >"$cache/unpacked"
fi
pg_config=$cache/root/usr/lib/postgresql/19/bin/pg_config
version=$("$pg_config" --version)

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp -r Makefile event_streaming.control src sql "$build/"
echo "== compile check: $version (${debs//$'\n'/, })"
if make -C "$build" --no-print-directory -j2 PG_CONFIG="$pg_config" >"$build/make.log" 2>&1 &&
	[ -f "$build/event_streaming.so" ]; then
	echo "event_streaming.so built against $version with -Werror"
	echo "1 passed, 0 failed"
else
	grep -E 'error|warning' "$build/make.log" | head -n 40
	echo "the build against $version failed (above: its errors; src/compat.h is where a shim goes)"
	echo "0 passed, 1 failed"
	exit 1
fi
