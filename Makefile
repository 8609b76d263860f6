# `make` or `make help` lists the targets: each one documented with "## text".
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Where a fresh machine keeps Go, for shells that do not have it on PATH yet.
export PATH := $(PATH):/usr/local/go/bin

.PHONY: help deps build test demo bench install clean

help: ## list the targets
	@echo "Targets:"
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

deps: ## install the tools the tests need, when missing (apt-get, as root)
	scripts/deps.sh go grep useradd userdel

build: ## build bitsadmin, bitsjob and bitsserver into bin/
	go build -o bin/ ./cmd/...

test: deps ## gofmt check, go vet, and every test with the race detector
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change these files:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go test -race -count=1 -timeout 30m ./...

demo: build ## download 64 MiB twice from a local bitsserver with bitsadmin
	scripts/demo.sh

bench: ## compare bitsadmin /transfer with curl on 1 GiB over loopback
	scripts/deps.sh go curl
	go test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench/

install: ## go install the three programs (into $GOBIN, else $GOPATH/bin)
	go install ./cmd/...

clean: ## remove bin/
	rm -rf bin
