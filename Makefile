# Makefile for datacloud-lambda. `make demo` and `make test` do all set-up themselves.
#
# The build-<LogicalId> targets are what `sam build` runs for functions with
# `Metadata: BuildMethod: makefile` (template.yaml); SAM sets ARTIFACTS_DIR.
# cmd/sam-local reads the ./functions/<name> argument of these targets to find a function's package.

GO          ?= go
GOFLAGS_REL := -tags lambda.norpc -trimpath -ldflags '-s -w'
LAMBDA_ENV  := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
BIN         ?= bin
FUNCTIONS   := tokenrefresh s3ingest querytrigger

.PHONY: build test fmt-check vet lint demo clean \
	build-TokenRefreshFunction build-S3IngestFunction build-QueryTriggerFunction

## build: every function's bootstrap for the host, into bin/<name>/bootstrap
build:
	@for f in $(FUNCTIONS); do \
		echo "go build ./functions/$$f -> $(BIN)/$$f/bootstrap"; \
		CGO_ENABLED=0 $(GO) build $(GOFLAGS_REL) -o $(BIN)/$$f/bootstrap ./functions/$$f || exit 1; \
	done

build-TokenRefreshFunction:
	$(LAMBDA_ENV) $(GO) build $(GOFLAGS_REL) -o $(ARTIFACTS_DIR)/bootstrap ./functions/tokenrefresh

build-S3IngestFunction:
	$(LAMBDA_ENV) $(GO) build $(GOFLAGS_REL) -o $(ARTIFACTS_DIR)/bootstrap ./functions/s3ingest

build-QueryTriggerFunction:
	$(LAMBDA_ENV) $(GO) build $(GOFLAGS_REL) -o $(ARTIFACTS_DIR)/bootstrap ./functions/querytrigger

## test: formatting, vet and every test (needs moto_server, aws CLI, cfn-lint, aws-lambda-rie)
test: fmt-check vet
	$(GO) test -count=1 -timeout 60m ./...

fmt-check:
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*' -not -path './.aws-sam/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## lint: validate the SAM template (prints nothing when clean)
lint:
	cfn-lint template.yaml

## demo: the whole flow on this machine with only Go installed (no Docker, Python or aws CLI)
demo:
	$(GO) run ./cmd/sam-local demo

clean:
	rm -rf $(BIN) .aws-sam

## bench: performance figures (docs/performance.md); not part of `make test`. Exits non-zero
## when a target is missed. BENCHFLAGS passes flags, e.g. BENCHFLAGS="-quick" or "-write docs/performance.md".
.PHONY: bench
bench:
	$(GO) run ./cmd/bench $(BENCHFLAGS)
