package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"sync"

	"github.com/bytecodealliance/wasmtime-go/v44"
)

// Executors of one engine that load the same code share one compiled module: in a process that
// hosts many containers of an action (the standalone's wasm host backend), a cold start of a
// module already loaded skips hashing and loading it. Code is matched by a fast hash and then
// compared byte for byte, so sharing never depends on a hash being collision-free.

// sharedModule is a compiled module and the code it was made from.
type sharedModule struct {
	code        []byte
	precompiled bool
	module      *wasmtime.Module
	source      ModuleSource // how it was first loaded
	sha256      string       // hex SHA-256 of a WebAssembly module; "" for precompiled code
	refs        int          // executors using it
}

// moduleTable holds the engine's shared modules.
type moduleTable struct {
	mu   sync.Mutex
	seed maphash.Seed
	byID map[uint64][]*sharedModule
}

func (t *moduleTable) find(id uint64, code []byte, precompiled bool) *sharedModule {
	for _, m := range t.byID[id] {
		if m.precompiled == precompiled && bytes.Equal(m.code, code) {
			return m
		}
	}
	return nil
}

// acquireModule returns the compiled module for code (a WebAssembly module, or precompiled code),
// loading it unless an executor of this engine already holds it. Release it with releaseModule.
func (e *Engine) acquireModule(code []byte, precompiled bool) (m *sharedModule, shared bool, err error) {
	t := &e.modules
	t.mu.Lock()
	if t.byID == nil {
		t.seed = maphash.MakeSeed()
		t.byID = map[uint64][]*sharedModule{}
	}
	id := maphash.Bytes(t.seed, code)
	if m := t.find(id, code, precompiled); m != nil {
		m.refs++
		t.mu.Unlock()
		return m, true, nil
	}
	t.mu.Unlock()

	// Load without the lock: compiling takes seconds.
	m = &sharedModule{code: bytes.Clone(code), precompiled: precompiled, refs: 1}
	if precompiled {
		m.module, err = e.loadPrecompiled(code)
		m.source = SourcePrecompiled
	} else {
		sum := sha256.Sum256(code)
		m.sha256 = hex.EncodeToString(sum[:])
		m.module, m.source, err = e.loadModule(code, sum)
	}
	if err != nil {
		return nil, false, err
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if other := t.find(id, code, precompiled); other != nil { // loaded concurrently
		m.module.Close()
		other.refs++
		return other, true, nil
	}
	t.byID[id] = append(t.byID[id], m)
	return m, false, nil
}

// releaseModule drops one executor's use of m, and the module with the last one.
func (e *Engine) releaseModule(m *sharedModule) {
	t := &e.modules
	t.mu.Lock()
	defer t.mu.Unlock()
	if m.refs--; m.refs > 0 {
		return
	}
	id := maphash.Bytes(t.seed, m.code)
	list := t.byID[id]
	for i, other := range list {
		if other == m {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.byID, id)
	} else {
		t.byID[id] = list
	}
	m.module.Close()
}
