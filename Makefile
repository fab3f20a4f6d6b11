# The README's test command is "make test"; .ci/run runs exactly that.
GO ?= go
FUZZTIME ?= 15s

.PHONY: test deps vet unit fuzz-smoke fuzz bench demo

test: deps vet unit fuzz-smoke

# What the end-to-end tests run for real (mosquitto clients, chromium, openssl), installed when missing.
deps:
	@./scripts/test-deps

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

unit:
	GORACE=atexit_sleep_ms=0 $(GO) test -race -count=1 -timeout 20m ./...

# A short run of every fuzz target: CI's smoke. "make fuzz FUZZTIME=10m" for a real run.
fuzz-smoke:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./signing

fuzz:
	$(MAKE) fuzz-smoke FUZZTIME=$(FUZZTIME)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

demo:
	$(GO) run ./cmd/signet demo
