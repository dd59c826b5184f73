#!/usr/bin/env bash
# Makes sure the servers the tests use answer on this machine: PostgreSQL
# (127.0.0.1:5432), MariaDB (127.0.0.1:3306), Redis (127.0.0.1:6379), plus
# Node.js (httpadapter's JS client tests) and Chromium (the e2e browser
# tests). Used by scripts/test.sh and .ci/run. Safe to run again.
#
# Probe first: a server that already answers on its port is left alone, and
# no Debian tool is needed for it (it may be a container, another distro's
# package, a server started by hand). Only a server that does not answer is
# installed from Debian's packages (needs root) and started.
#
# What it may change on the machine (docs/testing.md has the details):
#   - apt-get install postgresql, mariadb-server, redis-server, nodejs,
#     chromium (only what is missing: a server whose port answers is not
#     installed; redis-server is also installed for its binaries, which
#     redisstore's fault tests run, when they are not on PATH);
#   - PostgreSQL: three "trust" lines at the top of the newest cluster's
#     pg_hba.conf (127.0.0.1/32, ::1/128, local), if user postgres cannot
#     connect without a password, and a database named test;
#   - MariaDB: a database named test and, if root cannot connect over TCP
#     without a password, root@localhost's authentication set to an empty
#     password or unix_socket;
#   - starts the servers it installed (not as system services).
#
# SERVICES_DRY_RUN=1 prints what would be installed, started or changed,
# and changes nothing.
#
# Exit status: 0 when PostgreSQL, MariaDB and Redis answer at the end (a
# missing Node.js or Chromium is only reported: the tests that need them
# skip, or fail under CI=true); 1 otherwise, after trying every server.
set -uo pipefail

log() { echo "services: $*"; }
dry_run=${SERVICES_DRY_RUN:-0}
failed=()

# run runs a command that changes the machine, or prints it in a dry run.
run() {
  if [ "$dry_run" = 1 ]; then log "dry run, would run: $*" >&2; return 0; fi
  "$@"
}

have() { command -v "$1" >/dev/null 2>&1; }

# port_open: something accepts TCP connections on 127.0.0.1:<port>. Bash's
# /dev/tcp needs no client tool.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_updated=0
# install <debian packages...>: installs with apt-get, as root only.
install() {
  if [ "$dry_run" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then log "not root: install $* yourself"; return 1; fi
    if ! have apt-get; then log "no apt-get: install $* yourself"; return 1; fi
  fi
  if [ $apt_updated = 0 ]; then
    DEBIAN_FRONTEND=noninteractive run apt-get update -qq || return 1
    apt_updated=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive run apt-get install -y -qq "$@" >/dev/null
}

# wait_for_port <name> <port>: up to 30 s.
wait_for_port() {
  if [ "$dry_run" = 1 ]; then return 0; fi
  for _ in $(seq 1 60); do
    if port_open "$2"; then log "$1 is up"; return 0; fi
    sleep 0.5
  done
  log "$1 did not come up on 127.0.0.1:$2"
  return 1
}

newest() { ls "$1" 2>/dev/null | sort -V | tail -n1; }

# --- PostgreSQL ---
postgres() {
  if port_open 5432; then
    log "PostgreSQL answers on 127.0.0.1:5432: left as it is"
  else
    have pg_ctlcluster || install postgresql || return 1
    local ver
    ver=$(newest /etc/postgresql)
    if [ -z "$ver" ] || [ ! -d "/etc/postgresql/$ver/main" ]; then
      ver=$(newest /usr/lib/postgresql)
      run pg_createcluster "$ver" main >/dev/null || return 1
    fi
    run pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    wait_for_port PostgreSQL 5432 || return 1
  fi
  if ! have psql; then
    log "no psql: not checking trust auth and the 'test' database (the tests report it if they cannot connect)"
    return 0
  fi
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    local ver hba
    ver=$(newest /etc/postgresql)
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    if [ -z "$ver" ] || [ ! -f "$hba" ] || ! have pg_ctlcluster; then
      log "user postgres cannot connect without a password, and this is not a Debian cluster: allow it (trust on loopback) yourself"
      return 1
    fi
    log "enabling trust auth on loopback in $hba"
    run sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba" || return 1
    run pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || return 1
    [ "$dry_run" = 1 ] || sleep 1
  fi
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='test'" 2>/dev/null | grep -q 1; then
    run psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test' || return 1
  fi
}

# --- MariaDB ---
mariadb_server() {
  if port_open 3306; then
    log "MariaDB answers on 127.0.0.1:3306: left as it is"
  else
    [ -x /usr/sbin/mariadbd ] || install mariadb-server || return 1
    run mkdir -p /run/mysqld && { run chown mysql:mysql /run/mysqld 2>/dev/null || true; }
    run start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || return 1
    wait_for_port MariaDB 3306 || return 1
  fi
  if ! have mariadb; then
    log "no mariadb client: not checking root access and the 'test' database (the tests report it if they cannot connect)"
    return 0
  fi
  if mariadb -uroot -h127.0.0.1 --protocol=tcp -e 'select 1' >/dev/null 2>&1; then
    run mariadb -uroot -h127.0.0.1 --protocol=tcp -e 'create database if not exists test'
    return
  fi
  # root over TCP needs a password: over the local socket (unix_socket auth,
  # as root), create the database and allow root without a password.
  log "letting root connect over TCP without a password (MariaDB root@localhost)"
  run mariadb -uroot -e "create database if not exists test; alter user 'root'@'localhost' identified via mysql_native_password using password('') or unix_socket;"
}

# --- Redis ---
redis() {
  if port_open 6379; then
    log "Redis answers on 127.0.0.1:6379: left as it is"
    return 0
  fi
  have redis-server || install redis-server || return 1
  run redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no || return 1
  wait_for_port Redis 6379
}

postgres || failed+=(PostgreSQL)
mariadb_server || failed+=(MariaDB)
redis || failed+=(Redis)

# --- Tools only some tests need: reported, never fatal ---
if have node; then
  log "node: $(node --version 2>/dev/null)"
else
  install nodejs || log "Node.js missing: httpadapter's JS client tests will skip (fail under CI=true)"
fi
# redisstore's fault, crash and cluster tests start their own redis-server
# processes (and redis-cli for the cluster), even when a Redis answers on 6379.
if ! have redis-server || ! have redis-cli; then
  install redis-server || log "redis-server/redis-cli missing: redisstore's fault, crash and cluster tests will skip (fail under CI=true)"
fi
if have chromium || [ -x /usr/bin/chromium ] || [ -n "${WEBAUTHNKIT_CHROMIUM:-}" ]; then
  log "chromium: ${WEBAUTHNKIT_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"
else
  install chromium || log "Chromium missing: the e2e browser tests will skip (fail under CI=true)"
fi

if [ ${#failed[@]} -gt 0 ]; then
  log "not available: ${failed[*]} (their tests will skip, or fail under CI=true)"
  exit 1
fi
