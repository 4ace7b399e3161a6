#!/usr/bin/env bash
# Installs what the tests need, idempotently; `make test` (and `make deps`) call it first.
#   - Debian packages: a JDK 17 and Maven, for the Hadoop mini-cluster (testing/hadoop); curl;
#     krb5-user (kinit) for the Kerberos credential-cache test
#   - the Hadoop jars and the compiled launcher (testing/hadoop/minicluster.sh fetch)
# Runs `apt-get update` at most once, and only when a package is missing. Needs root (or sudo)
# only when something must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "install-test-deps: $*" >&2; }

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
fi

apt_updated=0
apt_install() { # packages...
  if ! command -v apt-get >/dev/null 2>&1; then
    log "ERROR: $* missing and this is not a Debian/Ubuntu system: install them by hand"
    exit 1
  fi
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# has_pkg NAME: the Debian package is installed.
has_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

java_major() { # prints the major version of `java`, or nothing
  local v
  v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -1) || true
  echo "$v"
}

missing=()
jv=""
if command -v java >/dev/null 2>&1 && command -v javac >/dev/null 2>&1; then jv=$(java_major); fi
if [ -n "$jv" ] && [ "$jv" -ge 11 ]; then
  log "JDK present: java $jv ($(command -v java))"
else
  if command -v apt-get >/dev/null 2>&1 && ! has_pkg openjdk-17-jdk-headless; then
    missing+=(openjdk-17-jdk-headless)
  elif ! command -v apt-get >/dev/null 2>&1; then
    log "ERROR: no JDK >= 11 with javac found and no apt-get: install a JDK 17"
    exit 1
  fi
fi
if command -v mvn >/dev/null 2>&1; then
  log "Maven present: $(mvn -B -v 2>/dev/null | head -1)"
else
  missing+=(maven)
fi
if ! command -v curl >/dev/null 2>&1; then missing+=(curl); fi
# kinit fills a Kerberos credential cache for the hdfs package's ccache-login test.
if ! command -v kinit >/dev/null 2>&1; then missing+=(krb5-user); fi

if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi
command -v java >/dev/null || { log "ERROR: java still missing after install"; exit 1; }

log "Hadoop mini-cluster jars"
./testing/hadoop/minicluster.sh fetch
log "done"

# ---- S3 test server (testing/s3/s3server.sh; used by s3fs and testing/s3/s3bed) ----
# MinIO built once from the Go module proxy into ~/.cache/flink-go/minio-<version>/ (moto's server
# from PyPI when MinIO does not build with this Go); cached, so later runs return at once.
log "S3 test server"
./testing/s3/s3server.sh install
log "S3 test server installed"

# ---- EMR test bed (testing/emr; used by the emr and bootstrap packages) ----
# moto's server from PyPI, pinned (it stands in for the EMR and S3 APIs; pip's cache makes
# reinstalls cheap), and shellcheck for the bootstrap action. The aws CLI is optional: without
# it the bootstrap tests use curl only.
log "EMR test bed"
if ! command -v shellcheck >/dev/null 2>&1; then apt_install shellcheck; fi
./testing/emr/moto.sh install
log "EMR test bed installed"
