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

// Executors of one engine that /init the same action archive share its unpacked files and its
// module: the standalone's wasm host backend sends an action's code again at every cold start,
// and for MobileNet's 10 MB archive finding its files in the cache (a SHA-256 of the archive),
// reading the 14 MB module out of them and comparing it with the loaded one cost about 10 ms of
// each cold start; comparing the archive with the one held costs about 1 ms. This applies to
// archives unpacked into the engine's cache only, whose files outlive any one executor.

// sharedArchive is an action archive unpacked once, with its module acquired.
type sharedArchive struct {
	id     uint64   // its hash in the table
	code   []byte   // a copy of the archive as /init sent it
	art    artifact // its files; module is nil (the module is compiled)
	module *sharedModule
	refs   int // executors using it
}

// archiveTable holds the engine's shared archives.
type archiveTable struct {
	mu   sync.Mutex
	seed maphash.Seed
	byID map[uint64][]*sharedArchive
}

// id hashes code for the table, outside its lock.
func (t *archiveTable) id(code []byte) uint64 {
	t.mu.Lock()
	if t.byID == nil {
		t.seed = maphash.MakeSeed()
		t.byID = map[uint64][]*sharedArchive{}
	}
	seed := t.seed
	t.mu.Unlock()
	return maphash.Bytes(seed, code)
}

// findLocked returns the archive of the table whose code equals code; t.mu is held.
func (t *archiveTable) findLocked(id uint64, code []byte) *sharedArchive {
	for _, a := range t.byID[id] {
		if bytes.Equal(a.code, code) {
			return a
		}
	}
	return nil
}

// acquireArchive returns the shared archive whose code equals code, with a new reference, or nil
// when no executor holds it.
func (e *Engine) acquireArchive(code []byte) *sharedArchive {
	t := &e.archives
	id := t.id(code)
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.findLocked(id, code)
	if a != nil {
		a.refs++
	}
	return a
}

// shareArchive enters an archive this executor unpacked and whose module it acquired; the archive
// then holds that module reference. When another executor entered the same archive meanwhile,
// that one is returned with a new reference and the module reference is released.
func (e *Engine) shareArchive(code []byte, art artifact, m *sharedModule) *sharedArchive {
	t := &e.archives
	art.module = nil
	// Copied before the lock is taken (10 MB take 2 ms): a caller may reuse its buffer after Init.
	a := &sharedArchive{id: t.id(code), code: bytes.Clone(code), art: art, module: m, refs: 1}
	t.mu.Lock()
	if other := t.findLocked(a.id, code); other != nil {
		other.refs++
		t.mu.Unlock()
		e.releaseModule(m)
		return other
	}
	t.byID[a.id] = append(t.byID[a.id], a)
	t.mu.Unlock()
	return a
}

// releaseArchive drops one executor's use of a, and with the last one the archive and its module
// reference.
func (e *Engine) releaseArchive(a *sharedArchive) {
	t := &e.archives
	t.mu.Lock()
	if a.refs--; a.refs > 0 {
		t.mu.Unlock()
		return
	}
	list := t.byID[a.id]
	for i, other := range list {
		if other == a {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.byID, a.id)
	} else {
		t.byID[a.id] = list
	}
	t.mu.Unlock()
	e.releaseModule(a.module)
}
