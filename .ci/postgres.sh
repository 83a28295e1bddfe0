#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the test suite and prints its
# admin DSN on stdout (everything else goes to stderr):
#
#   export KANADE_TEST_POSTGRES=$(.ci/postgres.sh)
#
# Installs Debian's postgresql package when no server binaries are found
# (needs root), initialises a cluster under a fresh /tmp directory, and
# listens on loopback on a free port (PGPORT to choose) with trust auth —
# test-only, never use this for anything else. The tests create and drop one
# database per test through this DSN. Stop it with `.ci/postgres.sh stop`.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

if [ "${1:-}" = stop ]; then
  # Stops the cluster the last start made (best effort).
  dir=$(cat /tmp/kanade-pg.dir 2>/dev/null || true)
  [ -n "$dir" ] && [ -d "$dir/data" ] || exit 0
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  else
    "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  fi
  exit 0
fi

find_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1
}

bindir=$(find_bindir)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  log "installing postgresql from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bindir=$(find_bindir)
fi
# Debian's package may start its own cluster on 5432; ours is separate and
# on another port, so that one does not matter.

port=${PGPORT:-}
if [ -z "$port" ]; then
  for p in $(seq 55432 55532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
  done
fi
[ -n "$port" ] || { log "no free port"; exit 1; }

dir=$(mktemp -d /tmp/kanade-pg.XXXXXX)
echo "$dir" > /tmp/kanade-pg.dir
owner=$(id -un)
run() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: the cluster belongs to the postgres user.
  owner=postgres
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
  chown postgres "$dir"
  run() { runuser -u postgres -- "$@"; }
fi

run "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# Tuned for a disposable test cluster: durability off (fsync/synchronous_commit)
# — the benchmarks in docs/benchmarks.md say which settings they used.
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = ${KANADE_PG_FSYNC:-off}
synchronous_commit = ${KANADE_PG_SYNC_COMMIT:-off}
full_page_writes = ${KANADE_PG_FSYNC:-off}
shared_buffers = 128MB
CONF
run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >&2 \
  || { cat "$dir/server.log" >&2; exit 1; }
log "started PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') in $dir (owner $owner) on 127.0.0.1:$port"
echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
