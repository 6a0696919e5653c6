#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on loopback for the tests and benchmarks.
#
#   scripts/postgres.sh install        installs Debian's postgresql-15 when missing (as root)
#   scripts/postgres.sh start DIR      initdb + start a cluster in DIR on a free port; writes DIR/env
#   scripts/postgres.sh standby PRIMARY_DIR DIR
#                                      a streaming standby of that cluster (pg_basebackup -R) in DIR on a free port;
#                                      writes DIR/env like start (same password: the standby is a copy)
#   scripts/postgres.sh stop DIR       stops the cluster and deletes DIR
#
# DIR/env holds the connection for the tests (HM_PG_HOST, HM_PG_PORT, HM_PG_USER, HM_PG_PASSWORD, HM_PG_BIN):
# the superuser's password is random per cluster, and TCP connections need it (scram-sha-256), so tests can
# also check what a wrong password does. initdb and pg_ctl refuse to run as root: as root, every server
# command runs as the 'postgres' user. The cluster listens on 127.0.0.1 only and has WAL archiving enabled
# (archive_command is set by the tests that need it).
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

install() {
  if [ -x "$PGBIN/initdb" ]; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "postgresql-15 is missing and installing it needs root: sudo apt-get install -y postgresql-15" >&2
    exit 1
  fi
  echo "installing postgresql-15 (apt)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # The package creates and may start its own cluster 15/main on port 5432; ours never uses it.
  apt-get install -y -qq postgresql-15 >/dev/null
}

free_port() {
  local port
  for _ in $(seq 200); do
    port=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

start() {
  local dir=$1
  install
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  local password
  password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
  as_pg mkdir -p "$dir/sock"
  printf '%s\n' "$password" | as_pg tee "$dir/pwfile" >/dev/null
  as_pg chmod 600 "$dir/pwfile"
  as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
  as_pg rm -f "$dir/pwfile"
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    cat <<CONF | as_pg tee "$dir/data/postgresql.auto.conf" >/dev/null
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
wal_level = replica
max_wal_senders = 10
archive_mode = on
archive_command = '/bin/true'
shared_buffers = '128MB'
max_wal_size = '1GB'
fsync = on
CONF
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
      break
    fi
    [ "$attempt" = 5 ] && { cat "$dir/server.log" >&2; exit 1; }
  done
  cat >"$dir/env" <<ENV
HM_PG_HOST=127.0.0.1
HM_PG_PORT=$port
HM_PG_USER=postgres
HM_PG_PASSWORD=$password
HM_PG_BIN=$PGBIN
HM_PG_DATA=$dir/data
ENV
  chmod 600 "$dir/env"
  echo "postgres 15 up on 127.0.0.1:$port (data $dir/data)" >&2
}

standby() {
  local primary=$1 dir=$2
  # shellcheck disable=SC1091
  . "$primary/env"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_pg mkdir -p "$dir/sock"
  PGPASSWORD=$HM_PG_PASSWORD as_pg "$PGBIN/pg_basebackup" -h "$HM_PG_HOST" -p "$HM_PG_PORT" -U "$HM_PG_USER" \
    -D "$dir/data" -R -X stream -c fast --no-password
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    printf '%s\n' "port = $port" "unix_socket_directories = '$dir/sock'" "archive_mode = off" \
      | as_pg tee -a "$dir/data/postgresql.auto.conf" >/dev/null
    if as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
      break
    fi
    [ "$attempt" = 5 ] && { cat "$dir/server.log" >&2; exit 1; }
  done
  sed -e "s/^HM_PG_PORT=.*/HM_PG_PORT=$port/" -e "s|^HM_PG_DATA=.*|HM_PG_DATA=$dir/data|" "$primary/env" >"$dir/env"
  chmod 600 "$dir/env"
  echo "standby of $HM_PG_HOST:$HM_PG_PORT up on 127.0.0.1:$port (data $dir/data)" >&2
}

stop() {
  local dir=$1
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: postgres.sh start DIR}" ;;
  standby) standby "${2:?usage: postgres.sh standby PRIMARY_DIR DIR}" "${3:?usage: postgres.sh standby PRIMARY_DIR DIR}" ;;
  stop) stop "${2:?usage: postgres.sh stop DIR}" ;;
  *) sed -n '2,17p' "$0"; exit 2 ;;
esac
