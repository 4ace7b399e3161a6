#!/usr/bin/env bash
# A real S3-compatible server on the loopback interface for flink-go's S3 tests.
#
#   s3server.sh install   build/install the server once (cached): MinIO from the Go module proxy,
#                         or, when it does not build, moto's server from PyPI
#   s3server.sh start     start it unless it runs (idempotent); prints the endpoint URL last
#   s3server.sh stop      stop it and delete its data (idempotent)
#   s3server.sh status    exit 0 and print the endpoint when it runs, exit 1 otherwise
#   s3server.sh env       print shell exports (AWS_* and FLINK_GO_S3_*) for the running server
#
# Environment:
#   FLINK_GO_CACHE        cache root (default ~/.cache/flink-go); MinIO goes to minio-<version>/bin
#   FLINK_GO_S3_WORK      state and data (default $FLINK_GO_CACHE/s3server)
#   FLINK_GO_S3_SERVER    minio or moto (default: minio, moto when MinIO cannot be built)
#   FLINK_GO_S3_PORT      port (default: a free one)
#
# The server listens on 127.0.0.1 only, with fixed test credentials (see ACCESS_KEY below).
# state: $WORK/server.properties (kind, endpoint, keys, pid).
set -euo pipefail

MINIO_MODULE=github.com/minio/minio
# MinIO publishes no semver tags: this pseudo-version is the master commit of 2026-02-12.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MOTO_VERSION=5.2.1
ACCESS_KEY=flinkgo-test
SECRET_KEY=flinkgo-test-secret
REGION=eu-central-1

CACHE="${FLINK_GO_CACHE:-$HOME/.cache/flink-go}"
WORK="${FLINK_GO_S3_WORK:-$CACHE/s3server}"
MINIO_BIN="$CACHE/minio-$MINIO_VERSION/bin/minio"
PROPS="$WORK/server.properties"

log() { echo "s3server: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

prop() { # KEY: value from server.properties
  [ -f "$PROPS" ] || return 0
  sed -n "s/^$1=//p" "$PROPS" | tail -1
}

moto_bin() { command -v moto_server 2>/dev/null || true; }

install_minio() {
  if [ -x "$MINIO_BIN" ]; then return 0; fi
  command -v go >/dev/null 2>&1 || { log "go not found: cannot build MinIO"; return 1; }
  mkdir -p "$CACHE"
  exec 8>"$CACHE/minio-$MINIO_VERSION.lock"
  flock 8 # one build at a time; a waiting caller finds the binary afterwards
  if [ -x "$MINIO_BIN" ]; then exec 8>&-; return 0; fi
  log "building MinIO $MINIO_VERSION with $(go version | awk '{print $3}') (a few minutes, once)"
  mkdir -p "$(dirname "$MINIO_BIN")"
  local gl="$CACHE/minio-$MINIO_VERSION/build.log"
  if ! GOBIN="$(dirname "$MINIO_BIN")" GOFLAGS=-trimpath nice -n 10 go install "$MINIO_MODULE@$MINIO_VERSION" >"$gl" 2>&1; then
    log "MinIO did not build (log: $gl)"
    tail -5 "$gl" >&2 || true
    exec 8>&-
    return 2
  fi
  exec 8>&-
  log "MinIO installed: $MINIO_BIN"
}

install_moto() {
  if [ -n "$(moto_bin)" ]; then return 0; fi
  command -v python3 >/dev/null 2>&1 || die "neither MinIO nor python3 for moto is available"
  log "pip install moto[server]==$MOTO_VERSION"
  python3 -m pip install -q "moto[server]==$MOTO_VERSION" >&2 || die "pip install moto[server] failed"
  hash -r
  [ -n "$(moto_bin)" ] || die "moto_server not on PATH after pip install"
}

# kind: which server to use (MinIO unless its build failed before; delete build.failed to retry).
kind() {
  case "${FLINK_GO_S3_SERVER:-}" in
    minio|moto) echo "$FLINK_GO_S3_SERVER"; return ;;
    "") ;;
    *) die "FLINK_GO_S3_SERVER=$FLINK_GO_S3_SERVER: want minio or moto" ;;
  esac
  if [ -x "$MINIO_BIN" ] || [ ! -f "$CACHE/minio-$MINIO_VERSION/build.failed" ]; then echo minio; else echo moto; fi
}

do_install() {
  local k; k=$(kind)
  if [ "$k" = minio ]; then
    local rc=0
    install_minio || rc=$?
    if [ "$rc" = 0 ]; then return 0; fi
    if [ "$rc" = 2 ]; then # a real build failure: do not retry it on every start
      mkdir -p "$CACHE/minio-$MINIO_VERSION"
      : >"$CACHE/minio-$MINIO_VERSION/build.failed"
    fi
    [ -z "${FLINK_GO_S3_SERVER:-}" ] || die "MinIO requested (FLINK_GO_S3_SERVER=minio) but it did not build"
    log "falling back to moto's server"
  fi
  install_moto
}

alive() { # PID
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

ready() { # ENDPOINT KIND: the server answers
  local url="$1/"
  [ "$2" = minio ] && url="$1/minio/health/live"
  curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null
}

free_port() {
  if [ -n "${FLINK_GO_S3_PORT:-}" ]; then echo "$FLINK_GO_S3_PORT"; return; fi
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  local p i
  for i in $(seq 1 50); do # no python3: a random high port nothing answers on
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}

running() { # prints the endpoint when the recorded server runs and answers
  local pid ep k
  pid=$(prop pid); ep=$(prop endpoint); k=$(prop kind)
  if alive "$pid" && [ -n "$ep" ] && ready "$ep" "$k"; then echo "$ep"; return 0; fi
  return 1
}

do_start() {
  mkdir -p "$WORK"
  exec 9>"$WORK/.start.lock"
  flock 9
  local ep
  if ep=$(running); then log "already running: $ep"; echo "$ep"; return 0; fi
  local oldpid; oldpid=$(prop pid)
  if alive "$oldpid"; then log "recorded server (pid $oldpid) does not answer: stopping it"; kill "$oldpid" 2>/dev/null || true; sleep 1; fi
  do_install
  local k port pid
  k=$(kind)
  [ "$k" = minio ] && [ ! -x "$MINIO_BIN" ] && k=moto
  port=$(free_port)
  ep="http://127.0.0.1:$port"
  rm -rf "$WORK/data"
  mkdir -p "$WORK/data"
  if [ "$k" = minio ]; then
    local cport; cport=$(free_port)
    MINIO_ROOT_USER=$ACCESS_KEY MINIO_ROOT_PASSWORD=$SECRET_KEY MINIO_REGION=$REGION \
      MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
      setsid nohup "$MINIO_BIN" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" \
      "$WORK/data" >"$WORK/server.log" 2>&1 </dev/null 9>&- &
    pid=$!
  else
    TEST_SERVER_MODE=true setsid nohup "$(moto_bin)" -H 127.0.0.1 -p "$port" >"$WORK/server.log" 2>&1 </dev/null 9>&- &
    pid=$!
  fi
  {
    echo "kind=$k"
    echo "endpoint=$ep"
    echo "access.key=$ACCESS_KEY"
    echo "secret.key=$SECRET_KEY"
    echo "region=$REGION"
    echo "pid=$pid"
    echo "data=$WORK/data"
  } >"$PROPS"
  local i
  for i in $(seq 1 120); do
    if ready "$ep" "$k"; then
      log "$k ready at $ep (pid $pid, log $WORK/server.log)"
      echo "$ep"
      return 0
    fi
    alive "$pid" || { tail -20 "$WORK/server.log" >&2; die "$k exited during start-up (log $WORK/server.log)"; }
    sleep 0.5
  done
  kill "$pid" 2>/dev/null || true
  die "$k did not answer on $ep within 60 s (log $WORK/server.log)"
}

do_stop() {
  [ -d "$WORK" ] || { log "not running"; return 0; }
  exec 9>"$WORK/.start.lock"
  flock 9
  local pid i; pid=$(prop pid)
  if alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null || true
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  rm -f "$PROPS"
  rm -rf "$WORK/data"
}

do_env() {
  local ep; ep=$(running) || die "not running (s3server.sh start)"
  echo "export FLINK_GO_S3_ENDPOINT=$ep"
  echo "export FLINK_GO_S3_ACCESS_KEY=$(prop access.key)"
  echo "export FLINK_GO_S3_SECRET_KEY=$(prop secret.key)"
  echo "export FLINK_GO_S3_REGION=$(prop region)"
  echo "export AWS_ENDPOINT_URL_S3=$ep"
  echo "export AWS_ACCESS_KEY_ID=$(prop access.key)"
  echo "export AWS_SECRET_ACCESS_KEY=$(prop secret.key)"
  echo "export AWS_REGION=$(prop region)"
}

case "${1:-}" in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  status) if ep=$(running); then echo "$ep"; else log "not running"; exit 1; fi ;;
  env) do_env ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
