# `make` or `make help` lists the targets: each one documented with "## text".
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Where a fresh machine keeps Go, for shells that do not have it on PATH yet.
export PATH := $(PATH):/usr/local/go/bin:/usr/sbin:/sbin

.PHONY: help deps build test fuzz demo bench reboot-test man install clean

help: ## list the targets
	@echo "Targets:"
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# deps also builds SeaweedFS, the S3 server of the object-storage tests
# (internal/testenv/s3.go), with scripts/s3server.sh: once, about 8 minutes
# on two cores, into ${XDG_CACHE_HOME:-$HOME/.cache}/bits/weed-<version>
# (233 MB, outside the work tree); later runs find it there and do nothing.
deps: ## install the tools the tests need, when missing (apt-get, as root), and build SeaweedFS once
	scripts/deps.sh go grep curl useradd userdel smbd smbpasswd tinyproxy winbindd ntlm_auth unshare setpriv getent '/usr/lib/*/libnss_systemd.so.2' '/usr/lib/*/libnss_myhostname.so.2' hostname ip tc dbus-daemon \
		crontab systemd-analyze systemd-escape systemd-socket-activate busctl gdbus gcc pkg-config script zsh fish \
		/usr/include/glib-2.0/gio/gio.h /usr/lib/python3/dist-packages/gi/__init__.py \
		gsettings dbus-run-session /usr/share/glib-2.0/schemas/org.gnome.system.proxy.gschema.xml \
		'/usr/lib/*/gio/modules/libdconfsettings.so' \
		squid /usr/lib/squid/basic_ncsa_auth /usr/lib/squid/digest_file_auth /usr/lib/squid/negotiate_kerberos_auth \
		krb5kdc kdb5_util kadmin.local kinit klist apache2 /usr/lib/apache2/modules/mod_auth_gssapi.so
	scripts/s3server.sh

# The programs are built without cgo: static, and each command starts 2 to 4
# ms sooner (docs/benchmarks.md). The tests keep cgo for the race detector.
build: ## build bitsadmin, bitsjob, bitsserver and bits-pac (the worker's PAC runner) into bin/
	CGO_ENABLED=0 go build -o bin/ ./cmd/...

test: deps pwsh-check ## gofmt check, go vet (for Linux and macOS), and every test with the race detector
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change these files:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	GOOS=darwin GOARCH=arm64 go vet ./...
	GOOS=darwin GOARCH=amd64 go vet ./...
	go test -race -count=1 -parallel 4 -timeout 30m ./...
	go test -race -count=1 -tags manpages -run TestManPages ./internal/cli/bitsjob
	$(MAKE) --no-print-directory fuzz

# Each fuzz target runs briefly on every `make test`; run one longer with
# FUZZTIME=5m make fuzz. The default is a count of inputs, not a time: Go
# 1.26's fuzzer can report "context deadline exceeded" as a failure when a
# time runs out (golang/go#75804), with no failing input found.
FUZZTIME ?= 100000x
FUZZ_TARGETS := server:FuzzServeHTTP server:FuzzContentRange server:FuzzSessionID \
	engine/transport/http:FuzzParseAck engine/transport/http:FuzzAckRoundTrip engine/transport/http:FuzzSessionToken

fuzz: ## run every fuzz target for FUZZTIME (100000 inputs) each
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name ($$pkg, $(FUZZTIME))"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg/ || exit 1; \
	done

# The PowerShell module is checked with the tree-sitter PowerShell grammar
# (npm, pinned in tools/pwsh-grammar/package-lock.json); the Go contract test
# in internal/cli/bitsjob uses the same installation.
.PHONY: pwsh-check
PWSH_GRAMMAR := tools/pwsh-grammar

pwsh-check: $(PWSH_GRAMMAR)/node_modules/.installed ## parse every PowerShell file under pwsh/ and fail on syntax errors
	node $(PWSH_GRAMMAR)/check.mjs pwsh

$(PWSH_GRAMMAR)/node_modules/.installed: $(PWSH_GRAMMAR)/package.json $(PWSH_GRAMMAR)/package-lock.json $(PWSH_GRAMMAR)/deps.sh
	$(PWSH_GRAMMAR)/deps.sh
	touch $@

demo: build ## download 64 MiB twice from a local bitsserver with bitsadmin
	scripts/demo.sh

bench: ## compare with curl and aria2c: downloads, uploads, fast links, ramp, yielding, and stores of 100,000 jobs
	scripts/deps.sh go curl ip tc aria2c /usr/bin/time
	go test -run '^$$' -bench . -benchtime 1x -timeout 60m ./bench/

reboot-test: ## reboot, power off, log out and suspend a Debian VM (QEMU) mid-transfer; the service must resume it
	scripts/vm/reboot-test.sh

# Manual pages go where man finds them: under /usr/local for root, else
# ~/.local/share/man (man looks there for programs in ~/.local/bin or ~/go/bin
# on PATH; MANPATH can add it otherwise).
MANDIR ?= $(if $(filter 0,$(shell id -u)),/usr/local/share/man/man1,$(HOME)/.local/share/man/man1)

man: build ## write the manual pages of the three programs into man/
	rm -rf man && mkdir -p man
	bin/bitsadmin --man > man/bitsadmin.1
	bin/bitsserver --man > man/bitsserver.1
	go run -tags manpages ./cmd/bitsjob man-pages man

install: man ## go install the programs (into $GOBIN, else $GOPATH/bin; bits-pac beside bitsjob) and their manual pages (into MANDIR)
	CGO_ENABLED=0 go install ./cmd/...
	install -d $(MANDIR)
	install -m 0644 man/*.1 $(MANDIR)

clean: ## remove bin/ and man/
	rm -rf bin man
