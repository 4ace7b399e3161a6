#!/usr/bin/env bash
# Runs every test, real Hadoop ones included (packages that need the mini-cluster start it in
# their TestMain). Called by `make test` after scripts/install-test-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
go vet ./...
go test -count=1 -timeout 25m -p 2 ./...
