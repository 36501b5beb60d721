# Every Go module in the repository: the root (core) and each directory with
# its own go.mod (adapters, examples, benchmarks), found automatically.
MODULES := $(shell find . -name go.mod -not -path '*/node_modules/*' -exec dirname {} \; | sort)
GO ?= go

# golangci-lint, pinned; make installs it into bin/ (gitignored) from the Go
# module proxy, when it is missing or of another version.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(CURDIR)/bin/golangci-lint

.PHONY: test deps proxies redis fmt vet lint lint-tool coredeps gotest gotest-min fuzz-short publish-check fuzz demo demo-revocation bench load load-flood mutants generate

## test: everything CI runs: formatting, lint, vet, tests with -race, the
## tests under the minimum Go (gotest-min), short fuzz runs, and the publish
## check. The quick checks come first, so that a finding fails the run in a
## minute rather than after the slow steps.
test: fmt lint vet coredeps deps proxies redis gotest gotest-min fuzz-short publish-check

## deps: Go modules and the npm packages of the integration tests.
deps:
	@for m in $(MODULES); do (cd $$m && $(GO) mod download) || exit 1; done
	@if [ -f integration/oidcprovider/package-lock.json ]; then \
		echo "npm ci: node-oidc-provider, the OIDC server of the integration tests (integration/oidcprovider)"; \
		npm ci --prefix integration/oidcprovider --no-audit --no-fund --loglevel=error; fi

## coredeps: the core module's graph holds only what it may (DESIGN.md):
## golang-jwt, keyfunc and jwkset (and keyfunc's x/time); no framework, no
## gRPC, no Connect. GOWORK=off: the workspace's graph holds every module's.
CORE_DEPS := go toolchain github.com/golang-jwt/jwt/v5 github.com/MicahParks/keyfunc/v3 github.com/MicahParks/jwkset golang.org/x/time
coredeps:
	@extra=$$(GOWORK=off $(GO) mod graph | awk '{print $$2}' | sed 's/@.*//' | sort -u | grep -v -x -F $(foreach d,$(CORE_DEPS),-e $(d))); \
	if [ -n "$$extra" ]; then echo "the core module's graph holds modules it may not:"; echo "$$extra"; exit 1; fi

## proxies: nginx and caddy from Debian's packages, when missing: the tests of
## logtoguard serve run them in front of it (CI runs as root).
proxies:
	@command -v nginx >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx; }
	@command -v caddy >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends caddy; }

## redis: redis-server from Debian's package, when missing: the tests of the
## Redis revocation store (revocation/redisstore) start their own on a
## 127.0.0.1 port (CI runs as root).
redis:
	@command -v redis-server >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server; }

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do echo "go vet $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

## lint: golangci-lint (.golangci.yml) in every module; zero findings.
## --allow-parallel-runners: golangci-lint otherwise takes a lock in the
## machine's temp directory and fails ("parallel golangci-lint is running")
## when a run of another checkout holds it.
lint: lint-tool
	@for m in $(MODULES); do echo "golangci-lint $$m"; (cd $$m && $(GOLANGCI_LINT) run --allow-parallel-runners ./...) || exit 1; done

lint-tool:
	@if ! "$(GOLANGCI_LINT)" version 2>/dev/null | grep -q "version $(patsubst v%,%,$(GOLANGCI_LINT_VERSION)) "; then \
		echo "go install golangci-lint $(GOLANGCI_LINT_VERSION) into bin/"; \
		GOBIN="$(CURDIR)/bin" GOWORK=off $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); fi

gotest:
	@for m in $(MODULES); do echo "go test -race $$m"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

## gotest-min: the modules under the oldest Go that their go.mod promises
## (GO_MIN), so that what works only with a newer Go fails CI: code or a test
## that relies on a newer standard library (its API, which the current go
## vet's stdversion check reports too, or its behaviour, which only a run
## shows), a dependency or a go.work that asks for a newer Go. The go command
## downloads that toolchain from the module proxy (GOTOOLCHAIN). Time is what
## decides the shape, on two cores under the 10-minute CI budget: no -race
## (gotest above has it, with the current Go; it would double this run), the
## tests of every module that ships (the core, adapters, the command, the
## Redis store, publishcheck), and go vet only (which type-checks every
## package and test file under GO_MIN) for examples and benchmarks, whose
## tests build and run every example and load tool again. Measured on a busy
## 2-core machine with the build cache warm: 1m40s as it is; the tests of
## examples and benchmarks alone took 6 minutes more.
GO_MIN ?= go1.25.0
MIN_VET_ONLY := ./examples ./benchmarks
gotest-min:
	@for m in $(MODULES); do \
		if echo " $(MIN_VET_ONLY) " | grep -q " $$m "; then \
			echo "go vet ($(GO_MIN)) $$m"; (cd $$m && GOTOOLCHAIN=$(GO_MIN) $(GO) vet ./...) || exit 1; \
		else \
			echo "go test ($(GO_MIN)) $$m"; (cd $$m && GOTOOLCHAIN=$(GO_MIN) $(GO) test -count=1 ./...) || exit 1; \
		fi; done

## fuzz-short: every fuzz target for FUZZTIME, 5s by default: part of make test.
fuzz-short:
	@scripts/fuzz.sh $(or $(FUZZTIME),5s)

## publish-check: pack every published module at the version the modules
## require each other at into a file-based module proxy, then, with an empty
## module cache and no workspace, go get each one into a new user module,
## build every package and every go block of README.md, and go install the
## command (internal/publishcheck).
publish-check:
	@cd internal/publishcheck && $(GO) run . -root ../..

## fuzz: every fuzz target, one after the other, for FUZZTIME each, 2m by
## default (make fuzz FUZZTIME=10m for a longer run).
fuzz:
	@scripts/fuzz.sh $(or $(FUZZTIME),2m)

## demo: the quick start, end to end, on an embedded Logto-compatible issuer.
demo:
	@cd examples && $(GO) run ./quickstart

## demo-revocation: a token that works, Logto's signed webhook for the
## user's suspension, and the same token refused at once.
demo-revocation:
	@cd examples && $(GO) run ./revocation

## bench: side-by-side benchmarks against peer libraries (benchmarks/README.md);
## results in benchmarks/bench.txt, summarised by benchstat when installed
## (go install golang.org/x/perf/cmd/benchstat@latest).
BENCH ?= .
BENCHCOUNT ?= 6
BENCHTIME ?= 300ms
## The BENCHCOUNT runs are rounds of the whole suite rather than -count, so
## that load from elsewhere on a shared machine falls on every library alike.
bench:
	@cd benchmarks && for i in $$(seq $(BENCHCOUNT)); do \
		$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count 1 -benchtime $(BENCHTIME) ./...; \
	done | tee bench.txt
	@! grep -q '^FAIL' benchmarks/bench.txt
	@bs=$$(command -v benchstat || echo "$$($(GO) env GOPATH)/bin/benchstat"); \
	if [ -x "$$bs" ]; then cd benchmarks && "$$bs" bench.txt; fi

## load: loopback load test: logtoguard with and without its cache against a
## bare net/http server (make load LOADFLAGS="-duration 5s -rounds 1 -workers 32").
LOADFLAGS ?= -duration 2s -rounds 3
load:
	@cd benchmarks && $(GO) run ./cmd/load $(LOADFLAGS)

## load-flood: admission control under a flood of forged signatures: callers
## with verified tokens alone, then beside 16 connections of forged ones,
## with admission control off and on; then 3,000 forged requests written on
## connections closed at once, beside a new genuine token every 10 ms. The
## API server runs in a process of its own, on every core and then on one
## CPU (GOMAXPROCS=1, pinned with taskset when available), as a pod limited
## to one CPU runs (make load LOADFLAGS=-flood is the same).
FLOODFLAGS ?= -duration 5s -rounds 2
load-flood:
	@cd benchmarks && $(GO) run ./cmd/load -flood $(FLOODFLAGS)

## generate: the examples' Go code for gRPC and Connect from
## examples/proto, with the generators pinned below installed into bin/ (not
## part of make test: the generated code is committed).
BUF_VERSION ?= v1.70.0
PROTOC_GEN_GO_VERSION ?= v1.36.11
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.1
PROTOC_GEN_CONNECT_GO_VERSION ?= v1.20.0
BIN := $(CURDIR)/bin
generate:
	@mkdir -p $(BIN)
	GOWORK=off GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOWORK=off GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOWORK=off GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	GOWORK=off GOBIN=$(BIN) $(GO) install connectrpc.com/connect/cmd/protoc-gen-connect-go@$(PROTOC_GEN_CONNECT_GO_VERSION)
	cd examples && PATH="$(BIN):$$PATH" $(BIN)/buf generate

## mutants: mutation testing of the code that decides who gets in
## (middleware, jwks, scopes and the adapters) with gremlins, pinned below and
## installed from the Go module proxy into bin/. It prints each package's
## efficacy and every mutant that lived (scripts/mutants.sh). One to two
## hours on two shared cores (middleware alone about 50 minutes), so not part
## of make test: RELEASING.md runs it before a release.
## make mutants MUTANTS_PKGS=jwks tests one package.
GREMLINS_VERSION := v0.6.0
GREMLINS := $(CURDIR)/bin/gremlins-$(GREMLINS_VERSION)
mutants: $(GREMLINS)
	@GREMLINS=$(GREMLINS) scripts/mutants.sh $(MUTANTS_PKGS)

$(GREMLINS):
	@mkdir -p bin/.install
	@GOBIN=$(CURDIR)/bin/.install $(GO) install github.com/go-gremlins/gremlins/cmd/gremlins@$(GREMLINS_VERSION)
	@mv bin/.install/gremlins $@ && rmdir bin/.install
