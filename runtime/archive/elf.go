package archive

import (
	"bytes"
	"encoding/binary"
)

// ELFKind tells apart the ELF files an action's code can be: both a native executable and a
// WebAssembly module precompiled by wasmtime (wasmwhisk-compile's .cwasm) start with \x7fELF.
type ELFKind int

// The ELF kinds.
const (
	NotELF      ELFKind = iota // not an ELF file
	Executable                 // an executable (static, dynamic or position-independent)
	Precompiled                // a WebAssembly module precompiled by wasmtime
	OtherELF                   // anything else: an object file, a core dump, a wasmtime component
)

func (k ELFKind) String() string {
	switch k {
	case Executable:
		return "ELF executable"
	case Precompiled:
		return "precompiled WebAssembly module"
	case OtherELF:
		return "ELF file that is neither an executable nor a precompiled module"
	}
	return "not an ELF file"
}

// ELF header fields (the System V ABI) and wasmtime's marks in them (crates/environ/src/obj.rs:
// os_abi ELFOSABI_WASMTIME, e_flags EF_WASMTIME_MODULE), which wasmtime checks when it loads a
// precompiled artifact.
const (
	elfClass32, elfClass64 = 1, 2
	elfDataLSB, elfDataMSB = 1, 2
	elfOSABISysV           = 0
	elfOSABIGNU            = 3
	elfOSABIWasmtime       = 200
	elfTypeRel             = 1
	elfTypeExec            = 2
	elfTypeDyn             = 3
	efWasmtimeModule       = 1 << 0
)

// ClassifyELF reads an ELF header, and only the header, to say what kind of ELF file b is.
func ClassifyELF(b []byte) ELFKind {
	if !bytes.HasPrefix(b, []byte("\x7fELF")) || len(b) < 52 {
		return NotELF
	}
	var order binary.ByteOrder
	switch b[5] {
	case elfDataLSB:
		order = binary.LittleEndian
	case elfDataMSB:
		order = binary.BigEndian
	default:
		return OtherELF
	}
	typ := order.Uint16(b[16:])
	var entry uint64
	var flags uint32
	switch b[4] {
	case elfClass32:
		entry, flags = uint64(order.Uint32(b[24:])), order.Uint32(b[36:])
	case elfClass64:
		if len(b) < 64 {
			return OtherELF
		}
		entry, flags = order.Uint64(b[24:]), order.Uint32(b[48:])
	default:
		return OtherELF
	}
	switch osabi := b[7]; {
	case osabi == elfOSABIWasmtime:
		if typ == elfTypeRel && flags&efWasmtimeModule != 0 {
			return Precompiled
		}
	case osabi == elfOSABISysV || osabi == elfOSABIGNU:
		// A shared library is ET_DYN too, but has no entry point (or one no loader calls): a
		// position-independent executable has one.
		if typ == elfTypeExec || (typ == elfTypeDyn && entry != 0) {
			return Executable
		}
	}
	return OtherELF
}
