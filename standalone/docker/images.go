package docker

// Image references that deploy/docker/build-images.sh (`make images`) produces with its default
// IMAGE_PREFIX and IMAGE_TAG. The tag is not "latest" because OpenWhisk always pulls "latest"
// blackbox images, and no registry is reachable for a locally built one.
const (
	// WasmRuntimeImage runs kind wasm:0.1 (actionproxy -executor wasm).
	WasmRuntimeImage = "wasmwhisk/wasm-runtime:0.1"
	// NativeRuntimeImage runs native actionloop executables (actionproxy -executor native).
	NativeRuntimeImage = "wasmwhisk/native-runtime:0.1"
	// MobileNetImage is the blackbox image with the native MobileNet action as its code stub.
	MobileNetImage = "wasmwhisk/mobilenet:0.1"
)
