#!/usr/bin/env bash
# Local services for dev and CI, without Docker, on loopback only:
#   Apache Kafka (KRaft, one node, jars from Maven Central), PostgreSQL and Mosquitto (Debian).
#
#   deploy/local/stack.sh up        install what is missing, start what is stopped, wait until
#                                   every service answers (idempotent)
#   deploy/local/stack.sh down      stop all three, keep the data
#   deploy/local/stack.sh status    one line per service; exit 0 only if all answer
#   deploy/local/stack.sh purge     down, then delete the state dir (also: down --purge)
#   deploy/local/stack.sh tools     install the tools the tests run that are no service
#   Each verb takes service names to act on only those: up kafka, down postgres, ….
#
# State: ${IIOT_STACK_HOME:-<repo>/.stack}. Ports: IIOT_STACK_KAFKA_PORT (9092),
# IIOT_STACK_KAFKA_CONTROLLER_PORT (9093), IIOT_STACK_PG_PORT (5432), IIOT_STACK_MQTT_PORT (1883).
# See deploy/local/README.md for roles, passwords and file locations.
# Private stacks of tests only: IIOT_STACK_KAFKA_SCRAM_PASSWORD set when the storage is first
# formatted makes the client listener SASL_PLAINTEXT, SCRAM-SHA-512, user iiot with that
# password (kafka/sasl.properties); with IIOT_STACK_KAFKA_TLS_DIR (server.pem: key and
# certificate chain, PEM) and IIOT_STACK_KAFKA_TLS_PORT also a SASL_SSL listener on that port
# (kafka/sasl-ssl.properties). The shared stack stays PLAINTEXT.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STATE=${IIOT_STACK_HOME:-$REPO/.stack}
KAFKA_PORT=${IIOT_STACK_KAFKA_PORT:-9092}
CONTROLLER_PORT=${IIOT_STACK_KAFKA_CONTROLLER_PORT:-9093}
PG_PORT=${IIOT_STACK_PG_PORT:-5432}
MQTT_PORT=${IIOT_STACK_MQTT_PORT:-1883}
SCRAM_PASSWORD=${IIOT_STACK_KAFKA_SCRAM_PASSWORD:-}
TLS_DIR=${IIOT_STACK_KAFKA_TLS_DIR:-}
TLS_PORT=${IIOT_STACK_KAFKA_TLS_PORT:-}
HOST=127.0.0.1

KAFKA_DIR=$STATE/kafka
KAFKA_LIBS=$KAFKA_DIR/libs
KAFKA_LOG=$KAFKA_DIR/logs/server.log
KAFKA_PID=$KAFKA_DIR/kafka.pid
KAFKA_START_TIMEOUT=90
MQTT_DIR=$STATE/mosquitto
MQTT_PID=$MQTT_DIR/mosquitto.pid

# ---------------------------------------------------------------------------------------------
# helpers

die() { echo "stack: $*" >&2; exit 1; }
note() { echo "stack: $*" >&2; }
now_ms() { date +%s%3N; }
elapsed() { local ms=$(($(now_ms) - $1)); printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100)); }
is_root() { [[ $EUID -eq 0 ]]; }

# Does something accept TCP connections on 127.0.0.1:$1?
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

# Is pid $1 running? A zombie is not: where PID 1 never reaps orphans, `kill -0` would say yes.
alive() { [[ -r /proc/$1/stat ]] && [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) != Z ]]; }

# Is $1 a live process whose command line contains $2? (guards against stale or reused pids)
pid_matches() {
  local pid=$1 marker=$2
  [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

# The pid in file $1 if that process is alive and matches $2; removes a stale file.
live_pid() {
  local file=$1 marker=$2 pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  if pid_matches "$pid" "$marker"; then echo "$pid"; return 0; fi
  rm -f "$file"
  return 1
}

# SIGTERM, wait up to $2 seconds, then SIGKILL.
stop_pid() {
  local pid=$1 timeout=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  note "pid $pid ignored SIGTERM for ${timeout}s, killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

# Substitute @KEY@ placeholders: render TEMPLATE OUT KEY=VALUE...
render() {
  local template=$1 out=$2 kv args=()
  shift 2
  for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${args[@]}" "$template" >"$out.tmp" && mv "$out.tmp" "$out"
}

APT_UPDATED=
apt_install() {
  is_root || die "need root to apt-get install $*"
  if [[ -z $APT_UPDATED ]]; then
    note "apt-get update"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  note "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    die "apt-get install $* failed"
}

# Fail with a clear reason when a port we are about to listen on is taken by someone else.
require_free_port() {
  local name=$1 port=$2
  port_open "$port" && die "$name: port $HOST:$port is already in use by another program"
  return 0
}

# ---------------------------------------------------------------------------------------------
# Kafka

kafka_install() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  local pom=$HERE/kafka/pom.xml stamp=$KAFKA_LIBS/.pom.sha256 want
  want=$(sha256sum "$pom" | cut -d' ' -f1)
  [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
  command -v mvn >/dev/null || apt_install maven
  note "kafka: resolving broker jars with maven (pom changed or libs missing)"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_DIR"
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA_LIBS" >"$KAFKA_DIR/maven.log" 2>&1 || {
    rm -rf "$KAFKA_LIBS"; tail -n 20 "$KAFKA_DIR/maven.log" >&2
    die "kafka: maven could not resolve $pom (see $KAFKA_DIR/maven.log)"
  }
  echo "$want" >"$stamp"
}

kafka_java() {
  java -cp "$KAFKA_LIBS/*" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" "$@"
}

# Write server.properties and format the storage once (a formatted log dir keeps its data).
kafka_prepare() {
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  render "$HERE/kafka/server.properties" "$KAFKA_DIR/server.properties" \
    KAFKA_PORT="$KAFKA_PORT" CONTROLLER_PORT="$CONTROLLER_PORT" DATA_DIR="$KAFKA_DIR/data"
  local scram=()
  if [[ -n $SCRAM_PASSWORD ]]; then  # later keys override the template's (Java properties)
    [[ $SCRAM_PASSWORD =~ ^[A-Za-z0-9_.-]+$ ]] || die "kafka: SCRAM password: letters, digits, _.- only"
    render "$HERE/kafka/sasl.properties" "$KAFKA_DIR/sasl.properties" \
      KAFKA_PORT="$KAFKA_PORT" CONTROLLER_PORT="$CONTROLLER_PORT" SCRAM_PASSWORD="$SCRAM_PASSWORD"
    cat "$KAFKA_DIR/sasl.properties" >>"$KAFKA_DIR/server.properties"
    if [[ -n $TLS_DIR ]]; then
      [[ -f $TLS_DIR/server.pem && $TLS_PORT =~ ^[0-9]+$ ]] ||
        die "kafka: TLS needs \$IIOT_STACK_KAFKA_TLS_DIR/server.pem and IIOT_STACK_KAFKA_TLS_PORT"
      render "$HERE/kafka/sasl-ssl.properties" "$KAFKA_DIR/sasl-ssl.properties" \
        KAFKA_PORT="$KAFKA_PORT" CONTROLLER_PORT="$CONTROLLER_PORT" TLS_PORT="$TLS_PORT" \
        TLS_DIR="$TLS_DIR" SCRAM_PASSWORD="$SCRAM_PASSWORD"
      cat "$KAFKA_DIR/sasl-ssl.properties" >>"$KAFKA_DIR/server.properties"
    fi
    scram=(--add-scram "SCRAM-SHA-512=[name=iiot,password=$SCRAM_PASSWORD]")
  fi
  [[ -f $KAFKA_DIR/data/meta.properties ]] && return 0
  [[ -s $KAFKA_DIR/cluster.id ]] ||
    kafka_java kafka.tools.StorageTool random-uuid >"$KAFKA_DIR/cluster.id" 2>>"$KAFKA_DIR/logs/format.log"
  kafka_java kafka.tools.StorageTool format -t "$(<"$KAFKA_DIR/cluster.id")" \
    -c "$KAFKA_DIR/server.properties" "${scram[@]}" >>"$KAFKA_DIR/logs/format.log" 2>&1 ||
    { tail -n 20 "$KAFKA_DIR/logs/format.log" >&2; die "kafka: formatting the storage failed"; }
}

# A real protocol answer: send ApiVersions v0 and expect our correlation id with error code 0.
kafka_answers() {
  local reply
  # shellcheck disable=SC2016  # $0/$1 expand in the inner bash
  reply=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    # size 18: api_key 18, api_version 0, correlation_id 0x1107, client_id "stack.sh"
    printf "\x00\x00\x00\x12\x00\x12\x00\x00\x00\x00\x11\x07\x00\x08stack.sh" >&3
    head -c 10 <&3 | od -An -tx1 | tr -d " \n"' "$HOST" "$KAFKA_PORT" 2>/dev/null) || return 1
  # reply = size(4) correlation_id(4) error_code(2)
  [[ ${reply:8:12} == "000011070000" ]]
}

kafka_up() {
  local t0 pid offset
  t0=$(now_ms)
  if live_pid "$KAFKA_PID" kafka.Kafka >/dev/null && kafka_answers; then
    echo "kafka     $HOST:$KAFKA_PORT  already running"; return 0
  fi
  kafka_install
  if ! pid=$(live_pid "$KAFKA_PID" kafka.Kafka); then
    require_free_port kafka "$KAFKA_PORT"
    require_free_port kafka-controller "$CONTROLLER_PORT"
    kafka_prepare
    offset=$(stat -c %s "$KAFKA_LOG" 2>/dev/null || echo 0)
    echo "$offset" >"$KAFKA_DIR/log.offset"
    # setsid + nohup: the broker outlives this script and its terminal.
    setsid nohup java -Xmx1g -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -cp "$KAFKA_LIBS/*" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
      -Dlog4j2.configurationFile="$HERE/kafka/log4j2.properties" \
      kafka.Kafka "$KAFKA_DIR/server.properties" \
      </dev/null >>"$KAFKA_DIR/logs/kafka.out" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$KAFKA_PID"
  fi
  kafka_wait "$pid" || {
    echo "--- last lines of $KAFKA_LOG and kafka.out:" >&2
    tail -n 15 "$KAFKA_LOG" >&2 2>/dev/null || true
    tail -n 10 "$KAFKA_DIR/logs/kafka.out" >&2 2>/dev/null || true
    die "kafka: broker did not come up within ${KAFKA_START_TIMEOUT}s (see $KAFKA_DIR/logs)"
  }
  echo "kafka     $HOST:$KAFKA_PORT  up in $(elapsed "$t0")"
}

# Started = the log since this start says so, and the broker answers on its port.
kafka_wait() {
  local pid=$1 offset deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  offset=$(cat "$KAFKA_DIR/log.offset" 2>/dev/null || echo 0)
  while ((SECONDS < deadline)); do
    alive "$pid" || { note "kafka: broker process $pid exited"; return 1; }
    # server.log may have rolled over since the offset was taken: then read it whole.
    (($(stat -c %s "$KAFKA_LOG" 2>/dev/null || echo 0) < offset)) && offset=0
    if tail -c +$((offset + 1)) "$KAFKA_LOG" 2>/dev/null | grep -q 'Kafka Server started' &&
      kafka_answers; then
      return 0
    fi
    sleep 0.25
  done
  return 1
}

kafka_down() {
  local pid
  if pid=$(live_pid "$KAFKA_PID" kafka.Kafka); then
    stop_pid "$pid" 60   # a controlled shutdown of one node takes a few seconds
    rm -f "$KAFKA_PID"
    echo "kafka     stopped"
  else
    echo "kafka     not running"
  fi
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

PG_BIN=
pg_find_bin() {
  local d
  # shellcheck disable=SC2012  # version dirs are plain numbers
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x $d/initdb && -x $d/pg_ctl ]] && { PG_BIN=$d; return 0; }
  done
  return 1
}

pg_install() {
  pg_find_bin && return 0
  apt_install postgresql postgresql-contrib
  pg_find_bin || die "postgres: installed, but no initdb under /usr/lib/postgresql/*/bin"
  # The package may have created and started a Debian cluster (main) on our port: stop it.
  pg_stop_debian_cluster
}

# A Debian-managed cluster online on our port would take it; ours wins on this dev box.
pg_stop_debian_cluster() {
  command -v pg_lsclusters >/dev/null || return 0
  local ver name port status
  while read -r ver name port status _; do
    if [[ $port == "$PG_PORT" && $status == online* ]]; then
      note "postgres: stopping Debian cluster $ver/$name, it holds port $PG_PORT"
      pg_ctlcluster "$ver" "$name" stop || true
    fi
  done < <(pg_lsclusters -h 2>/dev/null)
}

# Where the cluster lives. postgres refuses to run as root, so it runs as the OS user postgres,
# which must reach its data dir: $STATE/pg when it can, else a dir under /var/lib/postgresql
# (linked from $STATE/pg) when $STATE sits below a directory it cannot enter (e.g. /root).
PG_HOME='' PGDATA_DIR='' PG_SOCKET_DIR='' PG_LOG=''
pg_locate() {  # pg_locate [create]
  if [[ -L $STATE/pg ]]; then
    PG_HOME=$(readlink "$STATE/pg")
  elif [[ ${1:-} != create || -d $STATE/pg ]] || as_pg test -x "$STATE" 2>/dev/null; then
    PG_HOME=$STATE/pg
  else
    PG_HOME=/var/lib/postgresql/iiot-stack-$(echo -n "$STATE" | sha256sum | cut -c1-12)
    mkdir -p "$PG_HOME"
    ln -sfn "$PG_HOME" "$STATE/pg"
    note "postgres: $STATE is not reachable by user postgres; cluster lives in $PG_HOME"
  fi
  PGDATA_DIR=$PG_HOME/data
  PG_SOCKET_DIR=$PG_HOME/run
  PG_LOG=$PG_HOME/postgres.log
  # A unix socket path is limited to 107 bytes.
  if ((${#PG_SOCKET_DIR} + 20 > 107)); then
    PG_SOCKET_DIR=/tmp/iiot-stack-pg-$(echo -n "$STATE" | sha256sum | cut -c1-12)
  fi
}

as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_ctl_() { as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" "$@"; }
pg_running() { [[ -f $PGDATA_DIR/postmaster.pid ]] && pg_ctl_ status >/dev/null 2>&1; }

# TCP, password auth, as the writer: what the Python side will do.
pg_answers() {
  "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 3 &&
    PGPASSWORD=iiot_writer PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -q -A -t -h "$HOST" \
      -p "$PG_PORT" -U iiot_writer -d iiot -c 'SELECT 1' 2>/dev/null | grep -qx 1
}

pg_init() {
  [[ -f $PGDATA_DIR/PG_VERSION ]] && return 0
  local pwfile
  mkdir -p "$PG_HOME"
  is_root && chown postgres: "$PG_HOME"
  pwfile=$(as_pg mktemp)
  as_pg sh -c "echo postgres >'$pwfile'"
  as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --pwfile="$pwfile" -E UTF8 \
    --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 >"$PG_HOME/initdb.log" 2>&1 ||
    { as_pg rm -f "$pwfile"; tail -n 20 "$PG_HOME/initdb.log" >&2; die "postgres: initdb failed"; }
  as_pg rm -f "$pwfile"
  echo "include 'postgresql.local.conf'" | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
}

# Config comes from deploy/local/postgres on every start, so port changes apply.
pg_configure() {
  local tmp
  as_pg mkdir -p "$PG_SOCKET_DIR"
  tmp=$(mktemp)
  render "$HERE/postgres/postgresql.local.conf" "$tmp" PORT="$PG_PORT" SOCKET_DIR="$PG_SOCKET_DIR"
  as_pg tee "$PGDATA_DIR/postgresql.local.conf" <"$tmp" >/dev/null
  as_pg tee "$PGDATA_DIR/pg_hba.conf" <"$HERE/postgres/pg_hba.conf" >/dev/null
  rm -f "$tmp"
}

pg_bootstrap() {
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$PG_PORT" -U postgres \
    -d postgres <"$HERE/postgres/bootstrap.sql" >"$PG_HOME/bootstrap.log" 2>&1 ||
    { tail -n 20 "$PG_HOME/bootstrap.log" >&2; die "postgres: bootstrap of roles/database failed"; }
  sha256sum <"$HERE/postgres/bootstrap.sql" | as_pg tee "$PG_HOME/bootstrap.sha256" >/dev/null
}

# A running cluster gets bootstrap.sql again when the file changed since it was last applied
# (new roles or grants reach existing dev stacks and CI machines on their next `up`).
pg_bootstrap_if_changed() {
  local applied wanted
  applied=$(cat "$PG_HOME/bootstrap.sha256" 2>/dev/null || true)
  wanted=$(sha256sum <"$HERE/postgres/bootstrap.sql")
  [[ $applied == "$wanted" ]] ||
    { pg_bootstrap; note "postgres: roles and grants updated from bootstrap.sql"; }
}

pg_up() {
  local t0 i
  t0=$(now_ms)
  pg_install
  pg_locate create
  if pg_running && pg_answers; then
    pg_bootstrap_if_changed
    echo "postgres  $HOST:$PG_PORT  already running"; return 0
  fi
  if ! pg_running; then
    pg_stop_debian_cluster
    require_free_port postgres "$PG_PORT"
    pg_init
    pg_configure
    # pg_ctl -w returns once the server accepts connections (or fails to start).
    pg_ctl_ start -w -t 60 -l "$PG_LOG" >/dev/null 9>&- ||
      { tail -n 15 "$PG_LOG" >&2; die "postgres: server did not start (see $PG_LOG)"; }
  fi
  pg_bootstrap
  for ((i = 0; i < 40; i++)); do pg_answers && break; sleep 0.25; done
  pg_answers || die "postgres: SELECT 1 as iiot_writer over TCP failed (see $PG_LOG)"
  echo "postgres  $HOST:$PG_PORT  up in $(elapsed "$t0")"
}

pg_down() {
  pg_find_bin || { echo "postgres  not installed"; return 0; }
  pg_locate
  if pg_running; then
    pg_ctl_ stop -m fast -w -t 60 >/dev/null || pg_ctl_ stop -m immediate -w >/dev/null || true
    echo "postgres  stopped"
  else
    echo "postgres  not running"
  fi
}

# ---------------------------------------------------------------------------------------------
# Mosquitto

mqtt_install() {
  command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || {
    apt_install mosquitto mosquitto-clients
    mqtt_stop_system_service
  }
  command -v mosquitto_sub >/dev/null || apt_install mosquitto-clients
}

# The Debian package may start its own broker on 1883; ours owns the port.
mqtt_stop_system_service() {
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now mosquitto >/dev/null 2>&1 || true
  elif [[ -x /etc/init.d/mosquitto ]]; then
    /etc/init.d/mosquitto stop >/dev/null 2>&1 || true
  fi
}

mqtt_answers() {
  # shellcheck disable=SC2016  # $SYS is an MQTT topic, not a variable
  timeout 8 mosquitto_sub -h "$HOST" -p "$MQTT_PORT" -t '$SYS/broker/version' -C 1 -W 5 \
    >/dev/null 2>&1
}

mqtt_up() {
  local t0 mosquitto i
  t0=$(now_ms)
  if live_pid "$MQTT_PID" "$MQTT_DIR/mosquitto.conf" >/dev/null && mqtt_answers; then
    echo "mosquitto $HOST:$MQTT_PORT  already running"; return 0
  fi
  mqtt_install
  if ! live_pid "$MQTT_PID" "$MQTT_DIR/mosquitto.conf" >/dev/null; then
    require_free_port mosquitto "$MQTT_PORT"
    mkdir -p "$MQTT_DIR/data"
    render "$HERE/mosquitto/mosquitto.conf" "$MQTT_DIR/mosquitto.conf" \
      PORT="$MQTT_PORT" DIR="$MQTT_DIR"
    mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
    # -d: daemonize; the pid file comes from the config.
    "$mosquitto" -d -c "$MQTT_DIR/mosquitto.conf" >>"$MQTT_DIR/mosquitto.out" 2>&1 9>&- ||
      { tail -n 10 "$MQTT_DIR/mosquitto.log" >&2 2>/dev/null; die "mosquitto: did not start"; }
  fi
  for ((i = 0; i < 20; i++)); do mqtt_answers && break; sleep 0.25; done
  mqtt_answers || {
    tail -n 10 "$MQTT_DIR/mosquitto.log" >&2 2>/dev/null || true
    die "mosquitto: no answer on $HOST:$MQTT_PORT (see $MQTT_DIR/mosquitto.log)"
  }
  echo "mosquitto $HOST:$MQTT_PORT  up in $(elapsed "$t0")"
}

mqtt_down() {
  local pid
  if pid=$(live_pid "$MQTT_PID" "$MQTT_DIR/mosquitto.conf"); then
    stop_pid "$pid" 10
    rm -f "$MQTT_PID"
    echo "mosquitto stopped"
  else
    echo "mosquitto not running"
  fi
}

# ---------------------------------------------------------------------------------------------
# verbs

# One `up`/`down`/`purge` at a time per state dir (parallel CI jobs, impatient humans).
# Services are started with fd 9 closed (9>&-) so they do not keep holding the lock.
lock_state() {
  mkdir -p "$STATE"
  chmod 755 "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "another stack.sh holds $STATE/.lock"
}

# Services named on the command line, or all three. Tests that stop a service on purpose
# (broker outage, database restart) start a private one: own IIOT_STACK_HOME and ports.
SERVICES=()
want() { local s; for s in "${SERVICES[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }

cmd_up() {
  local t0
  t0=$(now_ms)
  lock_state
  want postgres && pg_up
  want mosquitto && mqtt_up
  want kafka && kafka_up
  echo "stack     up in $(elapsed "$t0") (state: $STATE)"
}

cmd_down() {
  lock_state
  want kafka && kafka_down
  want mosquitto && mqtt_down
  want postgres && pg_down
  return 0
}

cmd_status() {
  local ok=0 state
  state=down; kafka_answers && state=up || ok=1
  echo "kafka     $HOST:$KAFKA_PORT  $state"
  state=down
  if pg_find_bin; then pg_locate; pg_answers && state=up; fi
  [[ $state == up ]] || ok=1
  echo "postgres  $HOST:$PG_PORT  $state"
  state=down
  command -v mosquitto_sub >/dev/null && mqtt_answers && state=up
  [[ $state == up ]] || ok=1
  echo "mosquitto $HOST:$MQTT_PORT  $state"
  return $ok
}

cmd_purge() {
  cmd_down
  local pg_target=
  [[ -L $STATE/pg ]] && pg_target=$(readlink "$STATE/pg")
  rm -rf "$STATE"
  [[ -n $pg_target ]] && rm -rf "$pg_target"
  echo "stack     purged $STATE${pg_target:+ and $pg_target}"
}

# Tools the tests call that are no service: Debian's docker-compose validates deploy/compose
# (`docker-compose config` needs no Docker engine); Chromium and its WebDriver print the shift
# report to PDF (`iiot report --pdf`) and open it in tests/integration/test_report.py.
cmd_tools() {
  command -v docker-compose >/dev/null || apt_install docker-compose
  command -v chromium >/dev/null && command -v chromedriver >/dev/null ||
    apt_install chromium chromium-driver fonts-noto-cjk
}

usage() {
  echo "usage: $0 {up|down [--purge]|status|purge|tools} [kafka|postgres|mosquitto ...]" >&2
  exit 2
}

verb=${1:-}
shift || true
purge=false
if [[ ${1:-} == --purge ]]; then purge=true; shift; fi
for service in "$@"; do
  case $service in kafka | postgres | mosquitto) SERVICES+=("$service") ;; *) usage ;; esac
done
[[ ${#SERVICES[@]} -gt 0 ]] || SERVICES=(kafka postgres mosquitto)

case $verb in
  up) cmd_up ;;
  down) if $purge; then cmd_purge; else cmd_down; fi ;;
  status) cmd_status ;;
  purge) cmd_purge ;;
  tools) cmd_tools ;;
  *) usage ;;
esac
