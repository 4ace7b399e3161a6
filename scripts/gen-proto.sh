#!/usr/bin/env bash
# Regenerates the checked-in Go code for every .proto file in the repository.
#   scripts/gen-proto.sh          regenerate
#   scripts/gen-proto.sh --check  fail if the checked-in code differs from what protoc makes
# Each .proto is compiled with --go_opt=paths=source_relative, so its .pb.go lands beside it.
# Files that declare a `service` also get gRPC stubs (only the engine's own control plane has them).
set -euo pipefail
cd "$(dirname "$0")/.."
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1
GOBIN_DIR="${GOBIN:-$(go env GOPATH)/bin}"
export PATH="$GOBIN_DIR:$PATH"

ensure_tools() {
  if ! command -v protoc >/dev/null 2>&1; then
    echo "protoc not found: installing Debian's protobuf-compiler" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null
    else sudo apt-get install -y -qq protobuf-compiler >/dev/null; fi
  fi
  if ! protoc-gen-go --version 2>/dev/null | grep -q "${PROTOC_GEN_GO_VERSION#v}"; then
    GOFLAGS= go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
  fi
  if ! protoc-gen-go-grpc --version 2>/dev/null | grep -q "${PROTOC_GEN_GO_GRPC_VERSION#v}"; then
    GOFLAGS= go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@${PROTOC_GEN_GO_GRPC_VERSION}"
  fi
}

generate() { # $1 = output root
  local out="$1" f dir
  while IFS= read -r f; do
    dir=$(dirname "$f")
    args=(-I "$dir" --go_out="$out/$dir" --go_opt=paths=source_relative)
    if grep -q '^service ' "$f"; then
      args+=(--go-grpc_out="$out/$dir" --go-grpc_opt=paths=source_relative)
    fi
    mkdir -p "$out/$dir"
    protoc "${args[@]}" "$f"
  done < <(git ls-files --cached --others --exclude-standard '*.proto' | sort)
}

ensure_tools
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  status=0
  while IFS= read -r gen; do
    rel=${gen#"$tmp"/}
    if ! cmp -s "$gen" "$rel"; then echo "generated code is stale: $rel (run 'make proto')" >&2; status=1; fi
  done < <(find "$tmp" -name '*.pb.go')
  exit $status
fi
generate .
