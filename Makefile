# The README's test command is "make test"; .ci/run runs exactly that.
GO ?= go
FUZZTIME ?= 10s

.PHONY: test deps vet unit fuzz-smoke fuzz bench demo install mochi-test

test: deps vet unit fuzz-smoke

# What the end-to-end tests run for real (mosquitto clients, chromium, openssl), installed when missing.
deps:
	@./scripts/test-deps

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

unit:
	GORACE=atexit_sleep_ms=0 $(GO) test -race -count=1 -timeout 20m ./...
	cd third_party/mochi && GORACE=atexit_sleep_ms=0 $(GO) test -race -count=1 -run '^TestSignet' . ./listeners/ ./packets/

# Upstream mochi's whole suite on Signet's copy (third_party/mochi/PATCHES.md):
# run it when a patch changes or upstream is merged.
mochi-test:
	cd third_party/mochi && $(GO) test -race -count=1 ./...

# A short run of every fuzz target: CI's smoke. "make fuzz FUZZTIME=10m" for a real run.
# FUZZ_TARGETS lists "package:target" for every parser of untrusted input.
FUZZ_TARGETS = ./signing:FuzzParse ./signing:FuzzEndorsementClaims ./firmware-sim/image:FuzzLoad ./broker:FuzzLoadConfig ./broker:FuzzMQTTPacketsThroughListener ./broker:FuzzEnrollBody ./devices/strictjson:FuzzDecodeObject ./devices/topic:FuzzParseCity

fuzz-smoke:
	@scripts/fuzz-run $(GO) $(FUZZTIME) $(FUZZ_TARGETS)

fuzz:
	$(MAKE) fuzz-smoke FUZZTIME=$(FUZZTIME)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

demo:
	$(GO) run ./cmd/signet demo

# Installs the signet binary (PREFIX/bin, default /usr/local/bin); deploy/ has
# a systemd unit and a Dockerfile.
PREFIX ?= /usr/local
install:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(DESTDIR)$(PREFIX)/bin/signet ./cmd/signet
