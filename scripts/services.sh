#!/usr/bin/env bash
# Makes sure the servers the tests use are installed and running on this
# machine: PostgreSQL (127.0.0.1:5432), MariaDB (127.0.0.1:3306), Redis
# (127.0.0.1:6379), Debian's Chromium for the browser tests and Node.js for the
# JS client's tests. Installs what is
# missing from Debian's packages (needs root), starts what is stopped, and
# waits until each answers. Safe to run again. Used by .ci/run.
set -euo pipefail

log() { echo "services: $*"; }
apt_updated=0
need_pkg() { # need_pkg <command-to-test> <debian packages...>
  local probe=$1; shift
  if ! command -v "$probe" >/dev/null 2>&1 && [ ! -x "$probe" ]; then
    if [ "$(id -u)" != 0 ]; then log "missing $probe and not root: install $* yourself"; return 1; fi
    if [ $apt_updated = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get update -qq; apt_updated=1; fi
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}
wait_for() { # wait_for <name> <command...>
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then log "$name is up"; return 0; fi
    sleep 0.5
  done
  log "$name did not come up"; return 1
}

# --- PostgreSQL ---
need_pkg pg_ctlcluster postgresql
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  if [ -z "$ver" ] || [ ! -d "/etc/postgresql/$ver/main" ]; then
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    pg_createcluster "$ver" main >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
fi
wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
# trust auth for local TCP connections from the test user, and a 'test' database
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  log "enabling trust auth on loopback in $hba"
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
  sleep 1
fi
psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='test'" | grep -q 1 ||
  psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test'

# --- MariaDB ---
need_pkg /usr/sbin/mariadbd mariadb-server
if ! mariadb-admin -uroot -h127.0.0.1 --protocol=tcp ping >/dev/null 2>&1; then
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
wait_for MariaDB mariadb-admin -uroot -h127.0.0.1 --protocol=tcp ping
mariadb -uroot -h127.0.0.1 --protocol=tcp -e 'create database if not exists test' 2>/dev/null ||
  mariadb -uroot -e "create database if not exists test; alter user 'root'@'localhost' identified via mysql_native_password using password('') or unix_socket;"

# --- Redis ---
need_pkg redis-server redis-server
if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
fi
wait_for Redis sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'

# --- Node.js (runs the embedded JS client against the server in httpadapter's tests) ---
need_pkg node nodejs

# --- Chromium (browser end-to-end tests) ---
need_pkg /usr/bin/chromium chromium
log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
