# wasmwhisk — build, test and benchmark. `make test` is what CI runs (.ci/run).
GO        ?= go
BIN       := bin
ACTIONS   := build/actions
SAMPLES   := hello cpuhash counter
export CGO_ENABLED ?= 1
WASIP1    := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0

# staticcheck, pinned; installed into bin/ by `make lint` (it is a tool, not a dependency of the
# module, so go.mod does not list it). Its cache (~/.cache/staticcheck) keeps reruns to seconds.
STATICCHECK_PKG := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# The packages that build for wasip1: the SDK and the actions, and what guests import.
WASIP1_PKGS := ./actions/... ./bench/stages ./internal/testbuild ./nn/... ./runtime ./runtime/archive \
	./runtime/wasinn/... ./standalone/memstat

.PHONY: all build wasm native-actions mobilenet lint test vet bench bench-mobilenet fuzz images model demo demo-full results clean

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

## mobilenet: the MobileNet action natively, and as wasm command and reactor modules twice: with
## inference by the host through wasi-nn (mobilenet*.wasm) and inside the guest (mobilenet-inguest*.wasm)
mobilenet:
	@mkdir -p $(ACTIONS)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(ACTIONS)/mobilenet ./actions/mobilenet
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -trimpath -o $(ACTIONS)/mobilenet.wasm ./actions/mobilenet
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -trimpath -buildmode=c-shared -o $(ACTIONS)/mobilenet.reactor.wasm ./actions/mobilenet
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -trimpath -tags nn_inguest -o $(ACTIONS)/mobilenet-inguest.wasm ./actions/mobilenet
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -trimpath -tags nn_inguest -buildmode=c-shared -o $(ACTIONS)/mobilenet-inguest.reactor.wasm ./actions/mobilenet

## vet: go vet for the host and for wasip1 (the SDK and the actions must compile there)
vet:
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) vet ./actions/...
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) vet -tags nn_inguest ./actions/...

## lint: formatting, module hygiene and staticcheck for the host and for wasip1 (CI fails on any)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt -l lists:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	@mkdir -p $(BIN)
	GOBIN=$(abspath $(BIN)) $(GO) install $(STATICCHECK_PKG)
	@out=$$( { $(BIN)/staticcheck ./...; \
		$(WASIP1) $(BIN)/staticcheck $(WASIP1_PKGS); \
		$(WASIP1) $(BIN)/staticcheck -tags nn_inguest ./actions/...; } 2>&1); \
	if [ -n "$$out" ]; then echo "staticcheck:"; echo "$$out"; exit 1; fi

## test: everything CI checks
test: lint vet
	$(GO) test -count=1 -timeout 25m ./...

## bench: the benchmarks behind docs/ (figures are printed, not asserted; see docs/runtime.md,
## docs/standalone.md, docs/inference.md)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./runtime/... ./actionproxy/...
	$(GO) test -run '^$$' -bench 'WarmInvoke|ColdStart' -benchtime 300x ./standalone/
	$(GO) test -run '^$$' -bench 'BigActionInStore' -benchtime 100x ./standalone/
	$(GO) test -run '^$$' -bench 'StoreLayout' -benchtime 3s ./standalone/
	$(GO) test -run '^$$' -bench 'ColdContainer' -benchtime 60x ./standalone/process
	$(GO) test -run '^$$' -bench 'CreateToInit|WarmRun' -benchtime 10x ./standalone/docker
	$(GO) test -run '^$$' -bench 'ColdInit' -benchtime 5x ./actions/mobilenet
	bash bench/mobilenet.sh

## bench-mobilenet: one 224x224 inference natively, natively in pure Go, in wasm, and onnxruntime
bench-mobilenet:
	bash bench/mobilenet.sh

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzInitPayload -fuzztime 30s ./actionproxy
	$(GO) test -run '^$$' -fuzz FuzzSplitCode -fuzztime 30s ./actionproxy
	$(GO) test -run '^$$' -fuzz FuzzExtractZip -fuzztime 30s ./runtime/archive
	$(GO) test -run '^$$' -fuzz FuzzIsBase64 -fuzztime 30s ./runtime/archive
	$(GO) test -run '^$$' -fuzz FuzzClassifyELF -fuzztime 30s ./runtime/archive
	$(GO) test -run '^$$' -fuzz FuzzDecodeCode -fuzztime 30s ./runtime/wasm
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./nn/onnx
	$(GO) test -run '^$$' -fuzz FuzzABI -fuzztime 30s ./runtime/wasinn
	$(GO) test -run '^$$' -fuzz FuzzDecodeJSON -fuzztime 30s ./actions/sdk
	$(GO) test -run '^$$' -fuzz FuzzDecodeBase64 -fuzztime 30s ./nn/imageproc
	$(GO) test -run '^$$' -fuzz FuzzParseManifest -fuzztime 30s ./deploy/openwhisk
	$(GO) test -run '^$$' -fuzz FuzzDemuxLogs -fuzztime 30s ./standalone/docker
	$(GO) test -run '^$$' -fuzz FuzzReadRawJSON -fuzztime 30s ./loadgen

## images: the Docker images (wasm runtime, native runtime, MobileNet blackbox)
images:
	bash deploy/docker/build-images.sh

## model: download the ONNX model zoo's mobilenetv2-7 with its labels and sidecar into ./models (needs
## internet; the demo and the tests use ../shared/models when present)
model:
	sh nn/model/download.sh models

## demo: the verdict table, every variant side by side -> results/<timestamp>/{summary.json,README.md};
## quick (<= 10 min on 2 cores); changes no committed file
demo:
	bash scripts/demo.sh

## demo-full: the same with the large matrix
demo-full:
	bash scripts/demo.sh -full

## results: regenerate the results sections of README.md and docs/benchmarking.md from
## docs/results/summary.json; SUMMARY=results/<timestamp>/summary.json adopts that run first
results:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/wasmwhisk-demo
	$(BIN)/wasmwhisk-demo results $(if $(SUMMARY),-from $(SUMMARY))

clean:
	rm -rf $(BIN) build
