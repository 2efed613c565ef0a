# shelf: build, test and lint. .ci/run uses these targets; see README.md.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# TAGS adds build tags to test and vet, e.g. TAGS=shelf_invariants (CI).
TAGS     ?=
TAGFLAGS := $(if $(TAGS),-tags $(TAGS))
# FUZZTIME is how long fuzz-smoke runs each fuzz target.
FUZZTIME ?= 10s

.PHONY: all build test race lint fuzz-smoke e2e load clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/shelfd ./cmd/shelfd
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/shelf ./cmd/shelf

# The test command of README.md.
test:
	$(GO) vet $(TAGFLAGS) ./...
	$(GO) test $(TAGFLAGS) -race -count=1 -shuffle=on ./...

# The race tests again on one processor: other interleavings.
race:
	GOMAXPROCS=1 $(GO) test $(TAGFLAGS) -race -count=1 -shuffle=on ./...

lint:
	@files="$$(gofmt -l .)"; \
	if [ -n "$$files" ]; then echo "gofmt: these files need formatting (gofmt -w):"; echo "$$files"; exit 1; fi
	$(GO) vet $(TAGFLAGS) ./...
	@if ! $(GO) mod tidy -diff; then echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; fi

fuzz-smoke:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz-smoke

# End-to-end tests: the built shelfd with real clients (test/e2e). The kernel
# NFS test needs root and a kernel-nfs harness (sudo scripts/kernel-nfs-setup);
# SHELF_E2E_FULL=1 runs its full-size workload. See test/e2e/kernel_test.go.
E2E_TIMEOUT ?= 90m
e2e:
	SHELF_E2E=1 $(GO) test $(TAGFLAGS) -count=1 -v -timeout $(E2E_TIMEOUT) ./test/e2e/...

# The load test (test/load): 1,000 concurrent NFSv4.1 connections against an
# in-process shelfd, with memory and goroutines per connection. Not part of
# make test; SHELF_LOAD_CONNS and SHELF_LOAD_DURATION change its size.
load:
	SHELF_LOAD=1 $(GO) test $(TAGFLAGS) -count=1 -v ./test/load/

clean:
	rm -rf bin
