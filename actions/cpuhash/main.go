// Command cpuhash is a CPU-bound action: it applies SHA-256 `rounds` times to `seed` (defaults 1000
// and "wasmwhisk") and returns the final digest, so native and wasm builds can be compared on the
// same pure computation and checked for the same answer.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

// maxRounds keeps one activation bounded even when the caller asks for more.
const maxRounds = 100_000_000

func cpuhash(ctx context.Context, params map[string]any) (any, error) {
	rounds := int64(1000)
	if v, ok := params["rounds"]; ok {
		n, err := v.(json.Number).Int64()
		if err != nil {
			return nil, fmt.Errorf("rounds must be an integer: %v", v)
		}
		rounds = n
	}
	if rounds < 1 || rounds > maxRounds {
		return nil, fmt.Errorf("rounds must be between 1 and %d, got %d", maxRounds, rounds)
	}
	seed, ok := params["seed"].(string)
	if !ok {
		seed = "wasmwhisk"
	}
	start := time.Now()
	sum := sha256.Sum256([]byte(seed))
	for i := int64(1); i < rounds; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return map[string]any{
		"digest": hex.EncodeToString(sum[:]),
		"rounds": rounds,
		"ms":     float64(time.Since(start).Microseconds()) / 1000,
	}, nil
}

func init() { sdk.Handle(cpuhash) }

func main() { sdk.Serve() }
