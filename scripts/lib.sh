# Shared helpers for scripts/*.sh — source it, don't run it.
# shellcheck shell=bash disable=SC2034  # its variables are used by the scripts
set -euo pipefail

ES_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
ES_SCRIPTS=$ES_REPO/scripts
ES_APT_PACKAGES="postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libipc-run-perl"
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
