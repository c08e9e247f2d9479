#!/usr/bin/env bash
# The local stack: Apache Kafka (KRaft), FerretDB (MongoDB wire protocol on SQLite) and
# Redis, installed from package registries and run as plain processes on 127.0.0.1.
#
#   stack/stack.sh install   fetch / build what is missing (cached, git-ignored)
#   stack/stack.sh up        install, start what is not running, wait until healthy
#   stack/stack.sh down      stop everything this script started
#   stack/stack.sh status    one line per server; exit 1 if any is down
#   stack/stack.sh reset     down, then delete the data (not the downloads)
#   stack/stack.sh stop|start kafka|ferretdb|redis   one server (fault tests use these)
#   stack/stack.sh services up|down|status    the newsflow services (publication's Related indexer
#                                             a process of its own) and the reader site, from .venv
#   stack/stack.sh browser   install Chromium (Debian's) for the browser tests, when missing
#
# Every port and folder can be changed through the environment (see the defaults below).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${NEWSFLOW_CACHE_DIR:-$ROOT/.cache}
RUN=${NEWSFLOW_RUN_DIR:-$ROOT/.run}
LOGS=$RUN/logs

KAFKA_PORT=${NEWSFLOW_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${NEWSFLOW_KAFKA_CONTROLLER_PORT:-9093}
FERRETDB_PORT=${NEWSFLOW_FERRETDB_PORT:-27017}
FERRETDB_DEBUG_PORT=${NEWSFLOW_FERRETDB_DEBUG_PORT:-8088}
REDIS_PORT=${NEWSFLOW_REDIS_PORT:-6379}
INGEST_PORT=${NEWSFLOW_INGEST_PORT:-8001}
PUBLICATION_PORT=${NEWSFLOW_PUBLICATION_PORT:-8002}
ENRICHMENT_PORT=${NEWSFLOW_ENRICHMENT_PORT:-8003}
SITE_PORT=${NEWSFLOW_SITE_PORT:-8004}
RELATED_PORT=${NEWSFLOW_RELATED_PORT:-8005}
# the reader site started here comes with a simulated readership (views a minute; 0: none)
SITE_SIMULATED_READERS=${NEWSFLOW_SITE_SIMULATED_READERS:-300}
HEALTH_TIMEOUT=${NEWSFLOW_HEALTH_TIMEOUT:-90}

KAFKA_VERSION=4.1.1
FERRETDB_VERSION=v1.24.2
KAFKA_LIBS=$CACHE/kafka-$KAFKA_VERSION/libs
FERRETDB_PATCHES=$ROOT/stack/ferretdb
# the build is cached under a name that changes with the patches applied to it
FERRETDB_BUILD=ferretdb-$FERRETDB_VERSION-$(cat "$FERRETDB_PATCHES"/*.patch | sha256sum | cut -c1-8)
FERRETDB_BIN=$CACHE/$FERRETDB_BUILD/ferretdb

SERVERS=(kafka ferretdb redis)
# related: publication's Related indexer, `newsflow-publication related`, one per deployment
SERVICES=(ingest enrichment publication related site)

say() { printf '%s\n' "$*" >&2; }
die() { say "stack: $*"; exit 1; }

# --- install -----------------------------------------------------------------

install_kafka() {
  local pom_hash
  pom_hash=$(sha256sum "$ROOT/stack/kafka/pom.xml" | cut -c1-16)
  [ "$(cat "$KAFKA_LIBS/.pom-hash" 2>/dev/null)" = "$pom_hash" ] && return
  command -v mvn >/dev/null || die "kafka: mvn not found (install Maven: apt-get install maven)"
  say "stack: fetching Apache Kafka $KAFKA_VERSION jars from Maven Central"
  rm -rf "$KAFKA_LIBS.tmp"
  mvn -q -B -Dstyle.color=never -f "$ROOT/stack/kafka/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.tmp"
  echo "$pom_hash" >"$KAFKA_LIBS.tmp/.pom-hash"
  rm -rf "$KAFKA_LIBS" && mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
}

# FerretDB reads build/version/version.txt at start and panics when it is missing; the
# module zip does not carry it, so build from a copy of the module source with it written,
# and with the fixes in stack/ferretdb/*.patch applied (each says why).
install_ferretdb() {
  [ -x "$FERRETDB_BIN" ] && return
  command -v go >/dev/null || die "ferretdb: go not found"
  say "stack: building FerretDB $FERRETDB_VERSION from the Go module proxy (first time only)"
  local src dir
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  dir=$CACHE/$FERRETDB_BUILD/src
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r "$src"/. "$dir" && chmod -R u+w "$dir"
  for p in "$FERRETDB_PATCHES"/*.patch; do
    patch -s -p1 -d "$dir" <"$p" || die "ferretdb: $p does not apply"
  done
  echo "$FERRETDB_VERSION" >"$dir/build/version/version.txt"
  echo "newsflow-local" >"$dir/build/version/package.txt"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -tags ferretdb_no_postgresql \
    -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb)
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
}

install_redis() {
  command -v redis-server >/dev/null && return
  say "stack: installing Redis from Debian packages"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
}

# The browser tests drive Debian's Chromium (Playwright's own download is not needed).
cmd_browser() {
  command -v chromium >/dev/null && return
  say "stack: installing Chromium from Debian packages (browser tests)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  command -v chromium >/dev/null || die "chromium: not installed"
}

cmd_install() {
  mkdir -p "$CACHE"
  install_kafka
  install_ferretdb
  install_redis
}

# --- processes ---------------------------------------------------------------

pidfile() { echo "$RUN/$1.pid"; }

running() {
  local f pid
  f=$(pidfile "$1")
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

healthy() {
  case $1 in
    kafka) port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$LOGS/kafka.log" 2>/dev/null ;;
    ferretdb) port_open "$FERRETDB_PORT" ;;
    redis) [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] ;;
    ingest | enrichment | publication | related | site) port_open "$(port_of "$1")" ;;
  esac
}

port_of() {
  case $1 in
    kafka) echo "$KAFKA_PORT" ;;
    ferretdb) echo "$FERRETDB_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
    ingest) echo "$INGEST_PORT" ;;
    publication) echo "$PUBLICATION_PORT" ;;
    enrichment) echo "$ENRICHMENT_PORT" ;;
    site) echo "$SITE_PORT" ;;
    related) echo "$RELATED_PORT" ;;
  esac
}

spawn() { # name command...
  local name=$1
  shift
  : >"$LOGS/$name.log"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
}

kafka_config() {
  local dir=$RUN/kafka
  mkdir -p "$dir"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.min.cleanable.ratio=0.1
EOF
  cat >"$dir/log4j2.properties" <<EOF
rootLogger.level=INFO
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.state.name=state.change.logger
logger.state.level=WARN
EOF
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null)
    java -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$KAFKA_LIBS/*" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" >>"$LOGS/kafka-format.log" 2>&1 ||
      { tail -n 20 "$LOGS/kafka-format.log" >&2; die "kafka: storage format failed"; }
  fi
}

start_kafka() {
  kafka_config
  spawn kafka java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$RUN/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$RUN/kafka/server.properties"
}

# FerretDB spends about a third of its CPU in Go's garbage collector at the default GOGC=100
# while inserting article-sized documents (a replay is bound by it). GOGC=800 lets the heap
# grow to 9x what is live before collecting, and GOMEMLIMIT caps it (the collector works
# harder near the cap instead): about 30% less CPU per inserted document for up to ~1 GiB of
# memory. Only memory is traded: what is written and when it is synced is unchanged.
FERRETDB_GOGC=${NEWSFLOW_FERRETDB_GOGC:-800}
FERRETDB_GOMEMLIMIT=${NEWSFLOW_FERRETDB_GOMEMLIMIT:-1GiB}

start_ferretdb() {
  mkdir -p "$RUN/ferretdb/data"
  spawn ferretdb env GOGC="$FERRETDB_GOGC" GOMEMLIMIT="$FERRETDB_GOMEMLIMIT" \
    "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$RUN/ferretdb/data/" \
    --state-dir="$RUN/ferretdb" --listen-addr="127.0.0.1:$FERRETDB_PORT" \
    --debug-addr="127.0.0.1:$FERRETDB_DEBUG_PORT" --telemetry=disable --log-level=warn
}

start_redis() {
  mkdir -p "$RUN/redis"
  spawn redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$RUN/redis" \
    --appendonly yes --appendfsync everysec --save "" --daemonize no --protected-mode yes
}

start_service() {
  local name=$1 program=$1
  [ "$name" = related ] && program=publication
  [ -x "$ROOT/.venv/bin/newsflow-$program" ] || die "$name: not installed (run: make install)"
  case $name in
    site)
      spawn site env NEWSFLOW_SITE_SIMULATED_READERS="$SITE_SIMULATED_READERS" \
        NEWSFLOW_SITE_API_URL="${NEWSFLOW_SITE_API_URL:-http://127.0.0.1:$PUBLICATION_PORT}" \
        "$ROOT/.venv/bin/newsflow-site" serve
      ;;
    related) spawn related "$ROOT/.venv/bin/newsflow-publication" related ;;
    *) spawn "$name" "$ROOT/.venv/bin/newsflow-$name" serve ;;
  esac
}

start_one() {
  local name=$1
  if running "$name" && healthy "$name"; then return; fi
  if ! running "$name" && port_open "$(port_of "$name")"; then
    die "$name: port $(port_of "$name") is taken by another process (set NEWSFLOW_${name^^}_PORT)"
  fi
  if running "$name"; then return; fi
  case $name in
    ingest | enrichment | publication | related | site) start_service "$name" ;;
    *) "start_$name" ;;
  esac
}

wait_healthy() {
  local name=$1 deadline=$((SECONDS + HEALTH_TIMEOUT))
  until healthy "$name"; do
    if ! running "$name" || [ $SECONDS -ge $deadline ]; then
      say "stack: $name did not come up (log: $LOGS/$name.log); last lines:"
      tail -n 25 "$LOGS/$name.log" >&2 || true
      return 1
    fi
    sleep 0.3
  done
}

stop_one() {
  local name=$1 f pid
  f=$(pidfile "$name")
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

cmd_up() {
  cmd_install
  mkdir -p "$LOGS"
  local name failed=0
  for name in "${SERVERS[@]}"; do start_one "$name"; done
  for name in "${SERVERS[@]}"; do wait_healthy "$name" || failed=1; done
  [ $failed -eq 0 ] || exit 1
  cmd_status
}

cmd_down() {
  local name
  for name in "${SERVERS[@]}"; do stop_one "$name"; done
  say "stack: stopped"
}

cmd_services() {
  local name failed=0
  mkdir -p "$LOGS"
  case ${1:-} in
    up)
      for name in "${SERVICES[@]}"; do start_one "$name"; done
      for name in "${SERVICES[@]}"; do wait_healthy "$name" || failed=1; done
      [ $failed -eq 0 ] || exit 1
      cmd_status "${SERVICES[@]}"
      ;;
    down) for name in "${SERVICES[@]}"; do stop_one "$name"; done ;;
    status) cmd_status "${SERVICES[@]}" ;;
    *) die "usage: stack.sh services up|down|status" ;;
  esac
}

cmd_status() {
  local name bad=0 names=("$@")
  [ ${#names[@]} -gt 0 ] || names=("${SERVERS[@]}")
  for name in "${names[@]}"; do
    if running "$name" && healthy "$name"; then
      printf '%-12s up    127.0.0.1:%s  pid %s\n' "$name" "$(port_of "$name")" "$(cat "$(pidfile "$name")")"
    else
      printf '%-12s DOWN  127.0.0.1:%s  log %s\n' "$name" "$(port_of "$name")" "$LOGS/$name.log"
      bad=1
    fi
  done
  return $bad
}

server_arg() {
  case ${1:-} in
    kafka | ferretdb | redis | ingest | enrichment | publication | related | site) ;;
    *) die "name a server (kafka, ferretdb, redis) or a service (ingest, enrichment, publication, related, site)" ;;
  esac
}

case ${1:-} in
  install) cmd_install ;;
  browser) cmd_browser ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  services) cmd_services "${2:-}" ;;
  reset) cmd_down && rm -rf "$RUN/kafka" "$RUN/ferretdb" "$RUN/redis" && say "stack: data removed" ;;
  stop) server_arg "${2:-}" && stop_one "$2" ;;
  start) server_arg "${2:-}" && mkdir -p "$LOGS" && start_one "$2" && wait_healthy "$2" ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
