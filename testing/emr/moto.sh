#!/usr/bin/env bash
# The EMR/S3 test bed: moto's server (PyPI moto[server], pinned) on 127.0.0.1.
#   moto.sh install       pip install the pinned moto[server] (skipped when present; pip's cache is used)
#   moto.sh start [PORT]  start moto_server in the background (default port 5055); prints the endpoint
#   moto.sh stop          stop the server started by 'start'
#   moto.sh env           print the environment for clients (eval "$(testing/emr/moto.sh env)")
# Go tests do not need this script: testing/emr/emrbed starts its own server per test package.
set -euo pipefail
cd "$(dirname "$0")"

MOTO_VERSION=5.2.1
WORK=${FLINK_GO_EMR_TESTBED_DIR:-$PWD/work}
PIDFILE=$WORK/moto.pid
PORTFILE=$WORK/moto.port

log() { echo "moto.sh: $*" >&2; }

installed_version() {
  python3 -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}

cmd_install() {
  if [ "$(installed_version)" = "$MOTO_VERSION" ] && command -v moto_server >/dev/null 2>&1 &&
     python3 -c 'import flask, flask_cors' 2>/dev/null; then
    log "moto[server] $MOTO_VERSION present"
    return
  fi
  log "pip install moto[server]==$MOTO_VERSION"
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION"
  command -v moto_server >/dev/null 2>&1 || { log "ERROR: moto_server not on PATH after pip install (is pip's bin directory on PATH?)"; exit 1; }
}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

cmd_start() {
  local port=${1:-5055}
  mkdir -p "$WORK"
  if running; then
    log "already running (pid $(cat "$PIDFILE"), port $(cat "$PORTFILE"))"
    echo "http://127.0.0.1:$(cat "$PORTFILE")"
    return
  fi
  command -v moto_server >/dev/null 2>&1 || { log "ERROR: moto_server not installed: $0 install"; exit 1; }
  nohup moto_server -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
  echo $! >"$PIDFILE"
  echo "$port" >"$PORTFILE"
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/moto-api/data.json" >/dev/null 2>&1; then
      log "started (pid $(cat "$PIDFILE"), log $WORK/moto.log)"
      echo "http://127.0.0.1:$port"
      return
    fi
    running || { log "ERROR: moto_server exited; log:"; tail -n 20 "$WORK/moto.log" >&2; exit 1; }
    sleep 0.1
  done
  log "ERROR: moto_server did not answer on port $port within 10 s"
  exit 1
}

cmd_stop() {
  if running; then
    kill "$(cat "$PIDFILE")"
    log "stopped"
  else
    log "not running"
  fi
  rm -f "$PIDFILE" "$PORTFILE"
}

cmd_env() {
  running || { log "ERROR: not running: $0 start"; exit 1; }
  local ep
  ep="http://127.0.0.1:$(cat "$PORTFILE")"
  cat <<ENV
export AWS_ENDPOINT_URL=$ep AWS_ENDPOINT_URL_EMR=$ep AWS_ENDPOINT_URL_S3=$ep
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true FLINK_GO_EMR_TESTBED_ENDPOINT=$ep
ENV
}

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  *) echo "usage: $0 install|start [PORT]|stop|env" >&2; exit 2 ;;
esac
