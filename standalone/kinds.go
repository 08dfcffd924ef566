package standalone

// Exec kinds served by this platform.
const (
	// KindWasm is this project's WebAssembly runtime (SPEC §6.1, WOW's kind name).
	KindWasm = "wasm:0.1"
	// KindNative is a native OpenWhisk actionloop executable (the artifact openwhisk-runtime-go
	// runs: a static ELF reading one JSON line on stdin and answering on fd 3), run by the
	// project's actionproxy with its native executor.
	KindNative = "native:0.1"
	// KindBlackbox is a user-supplied image (`wsk action create --docker IMAGE`).
	KindBlackbox = "blackbox"
	// KindSequence is an action whose exec lists other actions to run one after the other
	// (`wsk action create NAME --sequence a,b`).
	KindSequence = "sequence"
)
