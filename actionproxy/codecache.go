package actionproxy

import (
	"bytes"
	"container/list"
	"hash/maphash"
	"sync"
)

// CodeCache keeps the decoded code of recent /init requests for the proxies of one process. An
// OpenWhisk invoker sends an action's code with every cold start; where one process hosts many
// containers (the standalone's wasm host backend), the same megabytes of base64 arrive again and
// again, and decoding MobileNet's 14 MB of it costs about 12 ms of every cold start, comparing it
// with the text decoded before about 1.5 ms. A hit is decided by comparing the whole text, never
// by a hash alone. The decoded bytes are handed to every proxy whose /init sends that text, so
// executors must treat runtime.InitRequest.Code as read-only (they do: it is the request's).
// Safe for concurrent use; nil is a cache that keeps nothing.
type CodeCache struct {
	maxBytes int64

	mu    sync.Mutex
	seed  maphash.Seed
	byID  map[uint64][]*codeEntry
	lru   list.List // of *codeEntry, most recently used first
	bytes int64
}

type codeEntry struct {
	id            uint64
	text, decoded []byte
	elem          *list.Element
}

// MinCachedCode is the smallest base64 text a CodeCache keeps: shorter code decodes in well under
// a millisecond.
const MinCachedCode = 1 << 20

// NewCodeCache returns a cache that holds at most maxBytes of text and decoded code together,
// dropping the least recently used first.
func NewCodeCache(maxBytes int64) *CodeCache {
	c := &CodeCache{maxBytes: maxBytes, seed: maphash.MakeSeed(), byID: map[uint64][]*codeEntry{}}
	c.lru.Init()
	return c
}

// decode decodes standard base64 text, from the cache when it holds the same text. text must not
// be modified afterwards: the cache may keep it.
func (c *CodeCache) decode(text []byte) ([]byte, error) {
	if c == nil || len(text) < MinCachedCode {
		return decodeBase64Strict(text)
	}
	id := maphash.Bytes(c.seed, text)
	c.mu.Lock()
	candidates := append([]*codeEntry(nil), c.byID[id]...)
	c.mu.Unlock()
	for _, e := range candidates { // compared outside the lock: entries never change
		if bytes.Equal(e.text, text) {
			c.mu.Lock()
			if e.elem != nil { // not evicted meanwhile
				c.lru.MoveToFront(e.elem)
			}
			c.mu.Unlock()
			return e.decoded, nil
		}
	}
	decoded, err := decodeBase64Strict(text)
	if err != nil {
		return nil, err
	}
	c.add(&codeEntry{id: id, text: text, decoded: decoded})
	return decoded, nil
}

// add enters e unless it alone is over the budget, and evicts the least recently used entries
// past it.
func (c *CodeCache) add(e *codeEntry) {
	size := int64(len(e.text) + len(e.decoded))
	if size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, other := range c.byID[e.id] {
		if bytes.Equal(other.text, e.text) {
			return // entered by a concurrent /init of the same code
		}
	}
	e.elem = c.lru.PushFront(e)
	c.byID[e.id] = append(c.byID[e.id], e)
	c.bytes += size
	for c.bytes > c.maxBytes {
		c.removeLocked(c.lru.Back().Value.(*codeEntry))
	}
}

func (c *CodeCache) removeLocked(e *codeEntry) {
	c.lru.Remove(e.elem)
	e.elem = nil
	c.bytes -= int64(len(e.text) + len(e.decoded))
	list := c.byID[e.id]
	for i, other := range list {
		if other == e {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(c.byID, e.id)
	} else {
		c.byID[e.id] = list
	}
}
