# Shared helpers for scripts/*.sh — source it, don't run it.
# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts
set -euo pipefail

ES_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
ES_SCRIPTS=$ES_REPO/scripts
# PG=MAJOR picks a server: this host's own if it has that major, otherwise
# the Debian root of scripts/pgroot.sh (es_enter_root).  Without PG, the
# server of PG_CONFIG (default: the pg_config in PATH).
if [ -n "${PG:-}" ] && [ -x "/usr/lib/postgresql/$PG/bin/pg_config" ]; then
	PG_CONFIG=/usr/lib/postgresql/$PG/bin/pg_config
fi
PG_CONFIG=${PG_CONFIG:-pg_config}
# Where scripts/deps.sh unpacks Debian's postgres_exporter when the package is not installed.
ES_EXPORTER=$ES_REPO/tmp_check/tools/usr/bin/prometheus-postgres-exporter
export PG_CONFIG

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as the user that owns the throwaway clusters: PostgreSQL
# refuses to run as root, so root hands over to OS user postgres.
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_own() { if is_root; then chown -R postgres:postgres "$@"; fi; }

# As root, the server and the TAP tests run as postgres, inside the repo.
es_check_pg_access() {
	is_root || return 0
	id postgres >/dev/null 2>&1 || die "running as root needs an OS user 'postgres' to run the server"
	runuser -u postgres -- test -r "$ES_REPO" -a -x "$ES_REPO" -a -r "$ES_REPO/Makefile" ||
		die "OS user postgres cannot read $ES_REPO (servers and TAP tests run as postgres when you are root); make it and its parent directories readable (chmod o+rx), or move the repo"
}

# Paths derived from PG_CONFIG (call after scripts/deps.sh succeeded).
es_pg_paths() {
	PG_BINDIR=$("$PG_CONFIG" --bindir)
	PG_EXTDIR=$("$PG_CONFIG" --sharedir)/extension
	local src
	src=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")   # .../pgxs/src
	PG_REGRESS=$src/test/regress/pg_regress
	PG_ISOLATION_REGRESS=$src/test/isolation/pg_isolation_regress
	PG_PERL_LIB=$src/test/perl
}

# Where a cluster in DIR puts its unix socket: DIR itself, or a short /tmp
# directory when DIR is too long for a socket path (limit ~107 bytes).
es_socket_dir() {
	if [ ${#1} -le 80 ]; then echo "$1"
	else echo "/tmp/es-sock-$(printf %s "$1" | md5sum | cut -c1-12)"; fi
}

# The major version of PG_CONFIG's server; 15, this host's Debian's, when
# there is none yet.  "PostgreSQL 18.1" and "PostgreSQL 19beta1" give 18, 19.
es_pg_major() {
	local v
	v=$("$PG_CONFIG" --version 2>/dev/null) || { echo 15; return; }
	v=${v#PostgreSQL }
	echo "${v%%[!0-9]*}"
}

# The Debian packages of a server and what the suite needs with it.
es_apt_packages() {
	local m
	m=$(es_pg_major)
	echo "postgresql-$m postgresql-server-dev-$m postgresql-$m-pgtap libipc-run-perl"
}

# With PG=MAJOR for a server this host has no package of (17, 18), run
# this script again inside that server's Debian root (scripts/pgroot.sh),
# with the arguments it got.  Returns when the script is to run here.
es_enter_root() {
	[ -n "${PG:-}" ] && [ -z "${ES_IN_ROOT:-}" ] || return 0
	if [ -x "/usr/lib/postgresql/$PG/bin/pg_config" ]; then return 0; fi
	local script=$1 v
	shift
	"$ES_SCRIPTS/pgroot.sh" path "$PG" >/dev/null || exit 1
	# The root starts from an empty environment: pass on only the settings.
	local pass=(PG="$PG" ES_IN_ROOT=1 PG_CONFIG="/usr/lib/postgresql/$PG/bin/pg_config")
	for v in $(compgen -e | grep -E '^(ES_|BENCH_)' || true) CI ENABLE_ASSERTS TERM; do
		if [ -n "${!v:-}" ]; then pass+=("$v=${!v}"); fi
	done
	exec "$ES_SCRIPTS/pgroot.sh" run "$PG" env "${pass[@]}" "$script" "$@"
}
