#!/usr/bin/env bash
# The flink-go Hadoop test bed: a real Hadoop (MiniDFSCluster: 1 NameNode + 1 DataNode,
# MiniYARNCluster: 1 ResourceManager + 2 NodeManagers) in one JVM on the loopback interface.
#
#   minicluster.sh fetch      resolve the Hadoop jars with Maven and compile the launcher (idempotent)
#   minicluster.sh start      start in the background (or reuse a running one); print the conf dir
#   minicluster.sh stop       stop the cluster this work dir runs (graceful, then SIGKILL)
#   minicluster.sh status     exit 0 and describe it when running and ready, 1 otherwise
#   minicluster.sh conf-dir   print the HADOOP_CONF_DIR of the running cluster (exit 1 if none)
#
# Environment:
#   FLINK_GO_CACHE                 cache root (default ~/.cache/flink-go); jars go to hadoop-<ver>/lib
#   FLINK_GO_MC_MODE               simple (default: HDFS + YARN, SIMPLE auth) or kerberos (a MiniKdc,
#                                  a Kerberized HDFS and a secure YARN; FLINK_GO_MC_KERBEROS_YARN=0
#                                  leaves YARN out; work dir <work>/kerberos) or ha (an
#                                  HDFS HA nameservice with 2 NameNodes, no YARN; <work>/ha)
#   FLINK_GO_HADOOP_WORK           work dir: pid, log, conf, data (default testing/hadoop/work)
#   FLINK_GO_HADOOP_START_TIMEOUT  seconds to wait for READY (default 240)
#   FLINK_GO_HADOOP_XMX            JVM heap (default 1g)
#   FLINK_GO_MC_NODEMANAGERS, FLINK_GO_MC_NM_MEMORY_MB, FLINK_GO_MC_NM_VCORES, FLINK_GO_MC_NN_PORT,
#   FLINK_GO_MC_NM_EXPIRY_MS, FLINK_GO_MC_OWNER_PID, FLINK_GO_MC_KERBEROS_YARN
#                                  passed to the launcher (see src/MiniCluster.java)
# Several clusters can run at once, each in its own work dir with ephemeral ports (the Go test
# bed's StartPrivate does this); they share the jars and the compiled launcher in the cache.
# Progress goes to stderr; `start` and `conf-dir` print only the conf dir on stdout, so
#   export HADOOP_CONF_DIR=$(testing/hadoop/minicluster.sh start)
# works.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HADOOP_VERSION=3.4.1
CACHE="${FLINK_GO_CACHE:-$HOME/.cache/flink-go}"
HDIR="$CACHE/hadoop-$HADOOP_VERSION"
LIB="$HDIR/lib"
MODE="${FLINK_GO_MC_MODE:-simple}"
case "$MODE" in
  simple) WORK="${FLINK_GO_HADOOP_WORK:-$HERE/work}"; MODE_ARGS=() ;;
  kerberos) WORK="${FLINK_GO_HADOOP_WORK:-$HERE/work}/kerberos"; MODE_ARGS=(--kerberos) ;;
  ha) WORK="${FLINK_GO_HADOOP_WORK:-$HERE/work}/ha"; MODE_ARGS=(--ha) ;;
  *) echo "minicluster: ERROR: FLINK_GO_MC_MODE=$MODE: want simple, kerberos or ha" >&2; exit 2 ;;
esac
START_TIMEOUT="${FLINK_GO_HADOOP_START_TIMEOUT:-240}"
XMX="${FLINK_GO_HADOOP_XMX:-1g}"
MAIN_CLASS=MiniCluster

say() { echo "minicluster: $*" >&2; }
die() { echo "minicluster: ERROR: $*" >&2; exit 1; }

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; return; fi
  command -v java || die "java not found: install a JDK 17 (scripts/install-test-deps.sh does) or set JAVA_HOME"
}
javac_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then echo "$JAVA_HOME/bin/javac"; return; fi
  command -v javac || die "javac not found: install openjdk-17-jdk-headless (scripts/install-test-deps.sh does)"
}

# hash_of hashes the files' contents only (not their paths), so every clone of the repository
# shares the cached jars and launcher instead of re-resolving them over each other.
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# fetch: the jars (keyed by the pom's hash) and the compiled launcher (keyed by the source's hash).
fetch() {
  local pom_hash src_hash
  pom_hash=$(hash_of "$HERE/pom.xml")
  mkdir -p "$HDIR"
  if [ -f "$HDIR/lib.stamp" ] && [ "$(cat "$HDIR/lib.stamp")" = "$pom_hash" ] && [ -d "$LIB" ]; then
    say "Hadoop $HADOOP_VERSION jars present in $LIB ($(ls "$LIB" | wc -l) jars)"
  else
    command -v mvn >/dev/null || die "mvn not found: install maven (scripts/install-test-deps.sh does)"
    say "resolving Hadoop $HADOOP_VERSION mini-cluster jars with Maven into $LIB (first time: 1-3 min)"
    rm -rf "$LIB.tmp"
    if ! mvn -B -q -f "$HERE/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$LIB.tmp" -DincludeScope=runtime >"$HDIR/mvn.log" 2>&1; then
      tail -30 "$HDIR/mvn.log" >&2
      die "Maven could not resolve the Hadoop jars (log: $HDIR/mvn.log); is Maven Central reachable?"
    fi
    rm -rf "$LIB"
    mv "$LIB.tmp" "$LIB"
    echo "$pom_hash" >"$HDIR/lib.stamp"
    say "$(ls "$LIB" | wc -l) jars, $(du -sh "$LIB" | cut -f1)"
  fi
  src_hash=$(hash_of "$HERE/src/$MAIN_CLASS.java")
  local classes="$HDIR/classes-$src_hash"
  if [ ! -f "$classes/$MAIN_CLASS.class" ]; then
    say "compiling the launcher into $classes"
    rm -rf "$classes.tmp" && mkdir -p "$classes.tmp"
    "$(javac_bin)" -nowarn -d "$classes.tmp" -cp "$LIB/*" "$HERE/src/$MAIN_CLASS.java" \
      || die "javac failed on $HERE/src/$MAIN_CLASS.java"
    rm -rf "$classes" && mv "$classes.tmp" "$classes"
  fi
  echo "$classes" >"$HDIR/classes.current"
}

# locked_fetch is fetch under the cache's lock (fd 8, released on return): clusters of other
# work dirs may start at the same time and must not compile into the same directory at once.
locked_fetch() {
  if command -v flock >/dev/null 2>&1; then
    exec 8>"$HDIR/.lock"
    flock -w 600 8 || die "could not lock $HDIR/.lock within 600s"
  fi
  fetched || fetch
  exec 8>&-
}

fetched() {
  [ -f "$HDIR/lib.stamp" ] && [ "$(cat "$HDIR/lib.stamp")" = "$(hash_of "$HERE/pom.xml")" ] &&
    [ -f "$HDIR/classes-$(hash_of "$HERE/src/$MAIN_CLASS.java")/$MAIN_CLASS.class" ]
}

# The pid from the pid file, if that process is alive and is our launcher.
running_pid() {
  [ -f "$WORK/pid" ] || return 1
  local pid
  pid=$(cat "$WORK/pid")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  # Exact match ("... MiniCluster <work> " or "... <work> --kerberos "): the Kerberos work dir
  # lies below the simple one.
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$MAIN_CLASS $WORK ${MODE_ARGS[*]}" || return 1
  echo "$pid"
}

status() {
  local pid
  if pid=$(running_pid); then
    if [ -f "$WORK/ready" ]; then
      say "running: pid $pid, conf $WORK/conf"
      warn_stale "$pid"
      [ -f "$WORK/conf/cluster.properties" ] && grep -v '^#' "$WORK/conf/cluster.properties" >&2
      return 0
    fi
    say "starting: pid $pid (not ready yet; log $WORK/minicluster.log)"
    return 1
  fi
  say "not running"
  return 1
}

# Warn when the running JVM was launched from an older launcher build than the checked-out source.
warn_stale() { # pid
  local want
  want="classes-$(hash_of "$HERE/src/$MAIN_CLASS.java")"
  if ! tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "/$want:"; then
    say "WARNING: the running cluster was started by an older launcher than src/$MAIN_CLASS.java;"
    say "         restart it to pick up changes: $0 stop && $0 start"
  fi
}

start() {
  local pid
  if pid=$(running_pid); then
    if [ -f "$WORK/ready" ]; then
      say "already running (pid $pid)"
      warn_stale "$pid"
      echo "$WORK/conf"
      return 0
    fi
    say "a start is under way (pid $pid); waiting for it"
  else
    fetched || locked_fetch
    local java classes opens=()
    java=$(java_bin)
    classes=$(cat "$HDIR/classes.current")
    [ -f "$classes/$MAIN_CLASS.class" ] || { locked_fetch; classes=$(cat "$HDIR/classes.current"); }
    # JDK 17: Hadoop's Guice/cglib and reflection need these packages opened.
    for p in java.io java.lang java.lang.reflect java.math java.net java.nio java.text java.util \
        java.util.concurrent java.util.concurrent.atomic java.util.regex java.util.zip \
        sun.nio.ch sun.security.util sun.security.x509 jdk.internal.misc; do
      opens+=("--add-opens" "java.base/$p=ALL-UNNAMED")
    done
    mkdir -p "$WORK"
    # A fresh cluster every start: old HDFS/YARN data would only confuse tests.
    rm -rf "$WORK/dfs" "$WORK/target" "$WORK/kdc" "$WORK/jvm-conf" "$WORK/active" "$WORK/failover" "$WORK"/stop-nm-* "$WORK"/nm-*-stopped "$WORK/conf" "$WORK/ready" "$WORK/stop" "$WORK/autostarted" "$WORK/users"
    # <work>/jvm-conf is on the JVM's classpath, first: the Kerberos mode writes the cluster's
    # client site files there for the NodeManagers' resource localizer (src/MiniCluster.java).
    # It must exist when the JVM starts.
    mkdir -p "$WORK/jvm-conf"
    say "starting Hadoop $HADOOP_VERSION mini-cluster, $MODE mode (log: $WORK/minicluster.log)"
    (
      cd "$WORK"
      exec 9>&- 8>&- # do not hand the start/stop or cache lock to the JVM
      exec setsid "$java" -Xmx"$XMX" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true \
        "${opens[@]}" -cp "$WORK/jvm-conf:$classes:$LIB/*" "$MAIN_CLASS" "$WORK" "${MODE_ARGS[@]}" \
        >"$WORK/minicluster.log" 2>&1 </dev/null
    ) &
    pid=$!
    echo "$pid" >"$WORK/pid"
  fi
  local start_s=$SECONDS next=$((SECONDS + 10))
  while [ ! -f "$WORK/ready" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -40 "$WORK/minicluster.log" >&2 || true
      rm -f "$WORK/pid"
      die "the mini-cluster exited during start-up (log: $WORK/minicluster.log)"
    fi
    if [ $((SECONDS - start_s)) -ge "$START_TIMEOUT" ]; then
      tail -20 "$WORK/minicluster.log" >&2 || true
      stop >/dev/null 2>&1 || true
      die "not READY after ${START_TIMEOUT}s (log: $WORK/minicluster.log); raise FLINK_GO_HADOOP_START_TIMEOUT?"
    fi
    if [ "$SECONDS" -ge "$next" ]; then
      say "waiting for READY ($((SECONDS - start_s))s): $(grep -o 'flink-go-minicluster: .*' "$WORK/minicluster.log" | tail -1)"
      next=$((SECONDS + 10))
    fi
    sleep 0.5
  done
  say "READY after $((SECONDS - start_s))s: HADOOP_CONF_DIR=$WORK/conf"
  echo "$WORK/conf"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    say "not running"
    rm -f "$WORK/pid" "$WORK/ready"
    return 0
  fi
  say "stopping pid $pid"
  touch "$WORK/stop"
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "no clean stop after 30s: SIGTERM"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
  fi
  if kill -0 "$pid" 2>/dev/null; then
    say "still alive: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$WORK/pid" "$WORK/ready" "$WORK/stop" "$WORK/autostarted" "$WORK/users"
  say "stopped"
}

conf_dir() {
  if running_pid >/dev/null && [ -f "$WORK/ready" ]; then
    echo "$WORK/conf"
    return 0
  fi
  say "no running mini-cluster in $WORK"
  return 1
}

# Serialise fetch/start/stop: test packages run in parallel and each may ask for the cluster.
lock() {
  mkdir -p "$WORK" "$HDIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$1"
    flock -w 600 9 || die "could not lock $1 within 600s"
  fi
}

case "${1:-}" in
  fetch) lock "$HDIR/.lock"; fetch ;;
  start) lock "$WORK/.lock"; start ;;
  stop) lock "$WORK/.lock"; stop ;;
  status) status ;;
  conf-dir) conf_dir ;;
  *) echo "usage: $0 fetch|start|stop|status|conf-dir" >&2; exit 2 ;;
esac
