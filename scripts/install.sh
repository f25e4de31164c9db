#!/usr/bin/env bash
# Build and install the extension into the server named by PG_CONFIG.
# Env: PG_CONFIG, ENABLE_ASSERTS (non-empty: build with assertions).
source "$(dirname "$0")/lib.sh"
cd "$ES_REPO"

args=(PG_CONFIG="$PG_CONFIG")
[ -z "${ENABLE_ASSERTS:-}" ] || args+=(ENABLE_ASSERTS="$ENABLE_ASSERTS")

# make can't see a change of build flags: start clean when they differ from
# the last build's.
# The server's version is part of them: src/ is shared by the builds for
# this host's server and for the servers of the Debian roots.
stamp=tmp_check/build-flags
flags="${args[*]} $("$PG_CONFIG" --version)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$flags" ]; then
	make --no-print-directory clean "${args[@]}" >/dev/null
fi
make --no-print-directory "${args[@]}"
mkdir -p tmp_check && echo "$flags" >"$stamp"

es_pg_paths
if ! is_root && ! { [ -w "$PG_EXTDIR" ] && [ -w "$("$PG_CONFIG" --pkglibdir)" ]; }; then
	echo "$(basename "$0"): $PG_EXTDIR is not writable; install with:" >&2
	echo "sudo make install PG_CONFIG=$PG_CONFIG"
	exit 1
fi
make --no-print-directory install "${args[@]}" >/dev/null
echo "installed event_streaming into $("$PG_CONFIG" --pkglibdir)"
