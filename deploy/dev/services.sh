#!/usr/bin/env bash
# Make PostgreSQL (127.0.0.1:5432) and RabbitMQ (127.0.0.1:5672) available for development and the
# integration tests on a Debian 12 machine, without Docker and without systemd.
#
#   deploy/dev/services.sh
#
# If both already answer, it does nothing. Otherwise it installs what is missing with apt-get
# (postgresql, rabbitmq-server), starts them directly (pg_ctlcluster, rabbitmq-server -detached),
# gives a freshly installed PostgreSQL trust authentication on 127.0.0.1 and ::1, and waits until
# both answer. Safe to run again at any time.
#
# Environment:
#   SERVICES_WAIT_SECONDS  how long to wait for each service to answer (default 60)
set -euo pipefail

readonly PG_HOST=127.0.0.1 PG_PORT=5432
readonly MQ_HOST=127.0.0.1 MQ_PORT=5672
readonly WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"

log() { printf 'services.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || die "not root and sudo is not installed"
  SUDO=(sudo)
fi

# Runs a command as root (directly, or through sudo).
as_root() { "${SUDO[@]}" "$@"; }

tcp_open() {
  local host=$1 port=$2
  timeout 2 bash -c "exec 3<>/dev/tcp/${host}/${port}" >/dev/null 2>&1
}

postgres_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1
  else
    tcp_open "$PG_HOST" "$PG_PORT"
  fi
}

rabbitmq_up() {
  # The AMQP port is what amends needs. `rabbitmq-diagnostics ping` alone can succeed a moment
  # before the listener is open, and needs access to the Erlang cookie (root or the rabbitmq
  # user), so the TCP check decides and the ping only adds certainty where it can run.
  tcp_open "$MQ_HOST" "$MQ_PORT" || return 1
  if command -v rabbitmq-diagnostics >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    timeout 15 rabbitmq-diagnostics -q ping >/dev/null 2>&1
  fi
}

# Waits until "$1" succeeds, at most WAIT_SECONDS.
wait_for() {
  local check=$1 name=$2 deadline=$((SECONDS + WAIT_SECONDS))
  until "$check"; do
    if ((SECONDS >= deadline)); then
      die "$name did not answer within ${WAIT_SECONDS}s"
    fi
    sleep 1
  done
  log "$name is up"
}

if postgres_up && rabbitmq_up; then
  log "PostgreSQL on ${PG_HOST}:${PG_PORT} and RabbitMQ on ${MQ_HOST}:${MQ_PORT} already answer; nothing to do"
  exit 0
fi

# --- install what is missing ------------------------------------------------------------------
missing=()
postgres_fresh=false
if ! compgen -G '/etc/postgresql/*/main' >/dev/null && ! postgres_up; then
  missing+=(postgresql)
  postgres_fresh=true
fi
if ! command -v rabbitmq-server >/dev/null 2>&1 && ! [[ -x /usr/sbin/rabbitmq-server ]] && ! rabbitmq_up; then
  missing+=(rabbitmq-server)
fi
if ((${#missing[@]} > 0)); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # policy-rc.d forbids the packages' maintainer scripts to start services through invoke-rc.d
  # (there is no systemd here); they are started below, directly.
  policy_rc_created=false
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    policy_rc_created=true
  fi
  install_status=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" || install_status=$?
  if [[ $policy_rc_created == true ]]; then
    as_root rm -f /usr/sbin/policy-rc.d
  fi
  ((install_status == 0)) || die "apt-get install ${missing[*]} failed (exit ${install_status})"
fi

# --- PostgreSQL -------------------------------------------------------------------------------
if ! postgres_up; then
  # The newest installed major version, e.g. 15 on Debian 12.
  pg_version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
    sort -V | tail -n 1)
  [[ -n $pg_version ]] || die "no PostgreSQL cluster under /etc/postgresql"
  if [[ ! -d /etc/postgresql/$pg_version/main ]]; then
    log "creating PostgreSQL cluster ${pg_version}/main"
    as_root pg_createcluster "$pg_version" main
    postgres_fresh=true
  fi
  hba=/etc/postgresql/$pg_version/main/pg_hba.conf
  if [[ $postgres_fresh == true ]]; then
    # Development only: anyone on this machine may connect over loopback TCP as any user.
    for net in 127.0.0.1/32 ::1/128; do
      if ! as_root grep -Eq "^host[[:space:]]+all[[:space:]]+all[[:space:]]+${net//./\\.}[[:space:]]+trust" "$hba"; then
        # Rules match first-come: the trust lines go before Debian's scram-sha-256 ones.
        as_root sed -i "1i host all all ${net} trust" "$hba"
      fi
    done
    log "PostgreSQL ${pg_version}: trust authentication on 127.0.0.1 and ::1 (development only)"
  fi
  log "starting PostgreSQL ${pg_version}/main"
  as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start ||
    log "pg_ctlcluster start returned non-zero (it may already be starting)"
  if [[ $postgres_fresh == true ]]; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" main reload || true
  fi
fi

# --- RabbitMQ ---------------------------------------------------------------------------------
if ! rabbitmq_up; then
  if ! tcp_open "$MQ_HOST" "$MQ_PORT"; then
    log "starting RabbitMQ"
    # Debian's wrapper switches to the rabbitmq user itself when run as root.
    as_root rabbitmq-server -detached ||
      log "rabbitmq-server -detached returned non-zero (it may already be starting)"
  fi
fi

wait_for postgres_up "PostgreSQL on ${PG_HOST}:${PG_PORT}"
wait_for rabbitmq_up "RabbitMQ on ${MQ_HOST}:${MQ_PORT}"
log "PostgreSQL and RabbitMQ are ready"
