#!/bin/sh
# install-flink-go.sh: Amazon EMR bootstrap action that installs flink-go on a node.
#
# EMR runs it on every node (also nodes added later), as the hadoop user, before the
# applications are installed. It downloads the flink-go binary and its SHA-256 checksum,
# verifies the binary, and installs:
#   /usr/lib/flink-go/bin/flink-go       the binary
#   /usr/lib/flink-go/flink-go.sha256    the checksum of the installed binary
#   /usr/lib/flink-go/conf -> /etc/flink-go/conf
#   /usr/bin/flink-go -> /usr/lib/flink-go/bin/flink-go
#   /etc/flink-go/conf/                  configuration directory (config.yaml with --config)
# Running it again with the same binary changes nothing; with a new binary it replaces the old
# one atomically. Any failure exits non-zero with a message (EMR then fails the node).
#
# Usage:
#   install-flink-go.sh --source s3://bucket/prefix [--config URL] [--binary-name NAME]
#     --source        where "flink-go" and "flink-go.sha256" are (s3://, https://, http://,
#                     file:// or a directory); 'flink-go emr publish' uploads them
#     --config        a config.yaml to install into /etc/flink-go/conf
#     --binary-name   the object name of the binary under --source (default flink-go)
#
# Environment:
#   FLINK_GO_BOOTSTRAP_ROOT        prefix of every installed path (default /; tests use a
#                                  scratch directory)
#   FLINK_GO_BOOTSTRAP_LOG         log file (default <root>/var/log/flink-go/bootstrap.log;
#                                  EMR also keeps stdout/stderr under
#                                  /mnt/var/log/bootstrap-actions/<n>/)
#   FLINK_GO_BOOTSTRAP_DOWNLOADER  auto (default: the aws CLI when present, else curl), aws,
#                                  or curl
#   AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
#                                  S3 endpoint for curl (path-style); the aws CLI reads them too
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION
#                                  credentials for curl to sign with (SigV4); without them curl
#                                  reads public objects only
set -eu

ROOT=${FLINK_GO_BOOTSTRAP_ROOT:-/}
ROOT=${ROOT%/}
HOME_DIR="$ROOT/usr/lib/flink-go"
BIN_LINK="$ROOT/usr/bin/flink-go"
CONF_DIR="$ROOT/etc/flink-go/conf"
LOG_FILE=${FLINK_GO_BOOTSTRAP_LOG:-"$ROOT/var/log/flink-go/bootstrap.log"}
DOWNLOADER=${FLINK_GO_BOOTSTRAP_DOWNLOADER:-auto}

SOURCE=""
CONFIG=""
BINARY_NAME="flink-go"
SUDO=""
TMP=""

log() {
  line="$(date -u +%Y-%m-%dT%H:%M:%SZ) install-flink-go: $*"
  printf '%s\n' "$line" >&2
  if [ -n "$LOG_FILE" ]; then
    printf '%s\n' "$line" 2>/dev/null >>"$LOG_FILE" || true
  fi
}

die() {
  log "ERROR: $*"
  exit 1
}

cleanup() {
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then
    rm -rf "$TMP"
  fi
}

usage() {
  die "usage: install-flink-go.sh --source s3://bucket/prefix [--config URL] [--binary-name NAME]"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --source) [ $# -ge 2 ] || usage; SOURCE=$2; shift 2 ;;
    --source=*) SOURCE=${1#--source=}; shift ;;
    --config) [ $# -ge 2 ] || usage; CONFIG=$2; shift 2 ;;
    --config=*) CONFIG=${1#--config=}; shift ;;
    --binary-name) [ $# -ge 2 ] || usage; BINARY_NAME=$2; shift 2 ;;
    --binary-name=*) BINARY_NAME=${1#--binary-name=}; shift ;;
    -h|--help) sed -n '2,35p' "$0" >&2; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[ -n "$SOURCE" ] || usage
SOURCE=${SOURCE%/}

# The log directory is created before anything else so that every message is kept.
if [ -n "$LOG_FILE" ]; then
  mkdir -p "$(dirname "$LOG_FILE")" 2>/dev/null || sudo -n mkdir -p "$(dirname "$LOG_FILE")" 2>/dev/null || true
  if [ ! -w "$(dirname "$LOG_FILE")" ] && command -v sudo >/dev/null 2>&1; then
    sudo -n chown "$(id -u):$(id -g)" "$(dirname "$LOG_FILE")" 2>/dev/null || true
  fi
fi

# Installing under /usr needs root: EMR runs bootstrap actions as hadoop, with password-less sudo.
parent=$ROOT
[ -n "$parent" ] || parent=/
if [ "$(id -u)" != 0 ] && [ ! -w "$parent" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    die "cannot write under $parent as $(id -un) and password-less sudo is not available"
  fi
fi

trap cleanup EXIT
trap 'die "interrupted"' INT TERM
TMP=$(mktemp -d "${TMPDIR:-/tmp}/install-flink-go.XXXXXX") || die "cannot create a temporary directory in ${TMPDIR:-/tmp}"

if [ "$DOWNLOADER" = auto ]; then
  if command -v aws >/dev/null 2>&1; then DOWNLOADER=aws; else DOWNLOADER=curl; fi
fi
case "$DOWNLOADER" in
  aws) command -v aws >/dev/null 2>&1 || die "FLINK_GO_BOOTSTRAP_DOWNLOADER=aws but the aws CLI is not installed" ;;
  curl) command -v curl >/dev/null 2>&1 || die "curl is not installed (and no aws CLI)" ;;
  *) die "FLINK_GO_BOOTSTRAP_DOWNLOADER must be auto, aws or curl, not '$DOWNLOADER'" ;;
esac

# fetch URL DEST: downloads one object or file.
fetch() {
  src=$1
  dest=$2
  case "$src" in
    s3://*)
      if [ "$DOWNLOADER" = aws ]; then
        aws s3 cp --only-show-errors "$src" "$dest" >>"$TMP/fetch.err" 2>&1 ||
          die "downloading $src failed (does the object exist, and may the instance role read it?): $(tail -n 3 "$TMP/fetch.err")"
      else
        path=${src#s3://}
        bucket=${path%%/*}
        key=${path#*/}
        endpoint=${AWS_ENDPOINT_URL_S3:-${AWS_ENDPOINT_URL:-}}
        if [ -n "$endpoint" ]; then
          url="${endpoint%/}/$bucket/$key"
        else
          url="https://$bucket.s3.amazonaws.com/$key"
        fi
        # With credentials in the environment, curl signs the request (SigV4, curl >= 7.75);
        # they go through a mode-600 config file, never the command line.
        : >"$TMP/curl.cfg"
        chmod 600 "$TMP/curl.cfg"
        if [ -n "${AWS_ACCESS_KEY_ID:-}" ] && [ -n "${AWS_SECRET_ACCESS_KEY:-}" ]; then
          region=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
          {
            printf 'aws-sigv4 = "aws:amz:%s:s3"\n' "$region"
            printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
            if [ -n "${AWS_SESSION_TOKEN:-}" ]; then
              printf 'header = "x-amz-security-token: %s"\n' "$AWS_SESSION_TOKEN"
            fi
          } >>"$TMP/curl.cfg"
        fi
        curl -K "$TMP/curl.cfg" -fsSL --retry 3 --retry-delay 2 -o "$dest" "$url" 2>>"$TMP/fetch.err" ||
          die "downloading $src from $url failed (without the aws CLI, curl reads public objects, or signs with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): $(tail -n 3 "$TMP/fetch.err")"
      fi
      ;;
    http://*|https://*)
      curl -fsSL --retry 3 --retry-delay 2 -o "$dest" "$src" 2>>"$TMP/fetch.err" ||
        die "downloading $src failed: $(tail -n 3 "$TMP/fetch.err")"
      ;;
    file://*)
      cp "${src#file://}" "$dest" 2>>"$TMP/fetch.err" || die "copying $src failed: $(tail -n 3 "$TMP/fetch.err")"
      ;;
    /*)
      cp "$src" "$dest" 2>>"$TMP/fetch.err" || die "copying $src failed: $(tail -n 3 "$TMP/fetch.err")"
      ;;
    *)
      die "unsupported source '$src' (use s3://, https://, http://, file:// or an absolute path)"
      ;;
  esac
}

# sha256 FILE: prints the file's SHA-256 in hex.
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 "$1" | sed 's/^.*= *//'
  else
    die "neither sha256sum nor openssl is installed: cannot verify the download"
  fi
}

if ! command -v sha256sum >/dev/null 2>&1 && ! command -v openssl >/dev/null 2>&1; then
  die "neither sha256sum nor openssl is installed: cannot verify the download"
fi

log "installing flink-go from $SOURCE into $HOME_DIR (downloader: $DOWNLOADER, user: $(id -un))"

fetch "$SOURCE/$BINARY_NAME.sha256" "$TMP/flink-go.sha256"
expected=$(cut -d' ' -f1 "$TMP/flink-go.sha256" | head -n 1 | tr 'A-F' 'a-f')
case "$expected" in
  *[!0-9a-f]*|"") die "$SOURCE/$BINARY_NAME.sha256 does not start with a SHA-256 hex digest" ;;
esac
[ "${#expected}" -eq 64 ] || die "$SOURCE/$BINARY_NAME.sha256 does not start with a SHA-256 hex digest (got ${#expected} characters)"

installed="$HOME_DIR/bin/flink-go"
if [ -f "$installed" ] && [ "$(sha256 "$installed")" = "$expected" ]; then
  log "flink-go $expected is already installed"
else
  fetch "$SOURCE/$BINARY_NAME" "$TMP/flink-go"
  actual=$(sha256 "$TMP/flink-go")
  if [ "$actual" != "$expected" ]; then
    die "checksum mismatch for $SOURCE/$BINARY_NAME: expected $expected, got $actual (binary and checksum from different uploads? run 'flink-go emr publish' again)"
  fi
  chmod 755 "$TMP/flink-go"
  # The binary must run on this node (architecture, libc) before it replaces a working one.
  if ! "$TMP/flink-go" --help >"$TMP/run.out" 2>&1; then
    die "the downloaded flink-go does not run on this node ($(uname -m)): $(tail -n 3 "$TMP/run.out")"
  fi
  $SUDO mkdir -p "$HOME_DIR/bin" || die "cannot create $HOME_DIR/bin"
  $SUDO cp "$TMP/flink-go" "$HOME_DIR/bin/.flink-go.new" || die "cannot copy the binary into $HOME_DIR/bin"
  $SUDO chmod 755 "$HOME_DIR/bin/.flink-go.new"
  $SUDO mv -f "$HOME_DIR/bin/.flink-go.new" "$installed" || die "cannot move the binary into place at $installed"
  log "installed flink-go $expected"
fi
printf '%s  flink-go\n' "$expected" >"$TMP/installed.sha256"
if ! cmp -s "$TMP/installed.sha256" "$HOME_DIR/flink-go.sha256" 2>/dev/null; then
  $SUDO cp "$TMP/installed.sha256" "$HOME_DIR/flink-go.sha256" || die "cannot write $HOME_DIR/flink-go.sha256"
fi

$SUDO mkdir -p "$CONF_DIR" "$(dirname "$BIN_LINK")" || die "cannot create $CONF_DIR"
if [ ! -L "$HOME_DIR/conf" ] || [ "$(readlink "$HOME_DIR/conf")" != "$CONF_DIR" ]; then
  if [ -e "$HOME_DIR/conf" ] && [ ! -L "$HOME_DIR/conf" ]; then
    die "$HOME_DIR/conf exists and is not a link to $CONF_DIR: move it away"
  fi
  $SUDO ln -sfn "$CONF_DIR" "$HOME_DIR/conf" || die "cannot link $HOME_DIR/conf"
fi
if [ ! -L "$BIN_LINK" ] || [ "$(readlink "$BIN_LINK")" != "$installed" ]; then
  if [ -e "$BIN_LINK" ] && [ ! -L "$BIN_LINK" ]; then
    die "$BIN_LINK exists and is not a link: remove it, or it shadows flink-go"
  fi
  $SUDO ln -sfn "$installed" "$BIN_LINK" || die "cannot link $BIN_LINK"
fi

if [ -n "$CONFIG" ]; then
  fetch "$CONFIG" "$TMP/config.yaml"
  if [ -f "$CONF_DIR/config.yaml" ] && cmp -s "$TMP/config.yaml" "$CONF_DIR/config.yaml"; then
    log "configuration $CONF_DIR/config.yaml is up to date"
  else
    $SUDO cp "$TMP/config.yaml" "$CONF_DIR/config.yaml" || die "cannot write $CONF_DIR/config.yaml"
    $SUDO chmod 644 "$CONF_DIR/config.yaml"
    log "installed configuration $CONF_DIR/config.yaml from $CONFIG"
  fi
fi

log "done: $BIN_LINK -> $installed"
