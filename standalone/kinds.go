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

// DefaultActionMemoryMB is OpenWhisk's default limits.memory (SPEC §5.4, 256 MB): an action
// created without a memory limit gets it.
const DefaultActionMemoryMB = 256

// DefaultStemCells are the prewarmed containers `wasmwhisk standalone` keeps unless told
// otherwise: two wasm:0.1 containers of the default action memory, as OpenWhisk's
// ansible/files/runtimes.json keeps two of its default kind (nodejs) at 256 MB. A stem cell
// serves only actions of exactly its kind and memory, so a smaller default would never match an
// action created without limits.
func DefaultStemCells() []StemCell {
	return []StemCell{{Kind: KindWasm, MemoryMB: DefaultActionMemoryMB, Count: 2}}
}
