# wasmwhisk — build, test and benchmark. `make test` is what CI runs (.ci/run).
GO        ?= go
BIN       := bin
ACTIONS   := build/actions
SAMPLES   := hello cpuhash counter
export CGO_ENABLED ?= 1

.PHONY: all build wasm native-actions test vet bench fuzz images model demo clean

all: build wasm

## build: the binaries (actionproxy with wasmtime, wasmwhisk, loadgen, wasmwhisk-compile) into bin/
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...

## wasm: every sample action as a wasm command module, a wasm reactor module and a native executable
wasm: native-actions
	@mkdir -p $(ACTIONS)
	@for a in $(SAMPLES); do \
		echo "wasm $$a"; \
		GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -trimpath -o $(ACTIONS)/$$a.wasm ./actions/$$a || exit 1; \
		GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -trimpath -buildmode=c-shared -o $(ACTIONS)/$$a.reactor.wasm ./actions/$$a || exit 1; \
	done

native-actions:
	@mkdir -p $(ACTIONS)
	@for a in $(SAMPLES); do \
		CGO_ENABLED=0 $(GO) build -trimpath -o $(ACTIONS)/$$a ./actions/$$a || exit 1; \
	done

## vet: go vet for the host and for wasip1 (the SDK and the actions must compile there)
vet:
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) vet ./actions/...

## test: everything CI checks
test: vet
	$(GO) test -count=1 -timeout 25m ./...

## bench: the benchmarks behind docs/ (figures are printed, not asserted)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./runtime/... ./actionproxy/...

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzExtractZip -fuzztime 30s ./runtime/archive

## images: the Docker images (wasm runtime, native runtime, MobileNet blackbox)
images:
	bash deploy/docker/build-images.sh

clean:
	rm -rf $(BIN) build
