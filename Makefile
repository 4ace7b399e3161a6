# flink-go — see README.md. The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin
EXAMPLES := $(notdir $(wildcard examples/*))
LDFLAGS := -s -w
export CGO_ENABLED ?= 0

.PHONY: all build run test test-unit deps bench lint proto proto-check testbed-up testbed-down clean

all: build

## build: the static flink-go binary and every example job under bin/examples/
build:
	@mkdir -p $(BIN)/examples
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/flink-go ./cmd/flink-go
	@for e in $(EXAMPLES); do \
	  if ls examples/$$e/*.go >/dev/null 2>&1; then \
	    $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/examples/$$e ./examples/$$e || exit 1; \
	  fi; done

## run: build, then run the windowed word count on the embedded local cluster (no Hadoop needed)
run: build
	./scripts/run-example.sh

## deps: install what the tests need (JDK, Maven jars for the Hadoop mini-cluster, protoc, ...)
deps:
	./scripts/install-test-deps.sh

## test: install test dependencies, then run every test, real Hadoop ones included
test: deps build
	./scripts/test.sh

## test-unit: the fast tests only (no Hadoop, no long runs)
test-unit:
	$(GO) test -short ./...

## bench: Go micro-benchmarks and whole-job Nexmark runs; figures go to docs/benchmarks.md
bench: build
	./scripts/bench.sh

## lint: gofmt, go vet and the generated-code check
lint: proto-check
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## proto: regenerate the checked-in Go code from the .proto files
proto:
	./scripts/gen-proto.sh

## proto-check: fail when the checked-in generated code is not current
proto-check:
	./scripts/gen-proto.sh --check

## testbed-up / testbed-down: the real Hadoop mini-cluster (YARN RM + 2 NMs, HDFS NN + DN)
testbed-up:
	./testing/hadoop/minicluster.sh start

testbed-down:
	./testing/hadoop/minicluster.sh stop

clean:
	rm -rf $(BIN)
