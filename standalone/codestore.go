package standalone

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// codeStore keeps action code as content-addressed files, <dir>/<sha256 hex>, outside the bbolt
// pages: a value of tens of megabytes inside a bbolt leaf is rewritten by every transaction that
// touches a key sharing its leaf, and its freed pages bloat the freelist written by every commit
// (docs/standalone.md, "Storage", has the measurement). Files are written once under a temporary
// name and renamed into place, so a reader never sees a partial file; two actions with the same
// code share one file. The store counts references; code is removed when the last action using
// it is deleted or updated, and unreferenced files (a crash between a commit and a removal) are
// swept at open.
type codeStore struct {
	dir    string
	noSync bool
}

const codeTempPrefix = ".tmp-"

func codeDigest(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

func validDigest(name string) bool {
	if len(name) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil && strings.ToLower(name) == name
}

func (c *codeStore) path(digest string) string { return filepath.Join(c.dir, digest) }

// put stores code and returns its digest. Code already present is not written again.
func (c *codeStore) put(code string) (string, error) {
	digest := codeDigest(code)
	if st, err := os.Stat(c.path(digest)); err == nil && st.Size() == int64(len(code)) {
		return digest, nil
	}
	tmp, err := os.CreateTemp(c.dir, codeTempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("store code: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.WriteString(code); err != nil {
		tmp.Close()
		return "", fmt.Errorf("store code: %w", err)
	}
	if !c.noSync {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return "", fmt.Errorf("store code: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("store code: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path(digest)); err != nil {
		return "", fmt.Errorf("store code: %w", err)
	}
	if !c.noSync {
		if err := syncDir(c.dir); err != nil {
			return "", fmt.Errorf("store code: %w", err)
		}
	}
	return digest, nil
}

// get reads the code with digest and checks it against the digest.
func (c *codeStore) get(digest string) (string, error) {
	if !validDigest(digest) {
		return "", fmt.Errorf("code %q: not a sha256 digest", digest)
	}
	data, err := os.ReadFile(c.path(digest))
	if err != nil {
		return "", fmt.Errorf("read code: %w", err)
	}
	code := string(data)
	if codeDigest(code) != digest {
		return "", fmt.Errorf("code %s: content does not match its digest (file corrupted)", digest)
	}
	return code, nil
}

// remove deletes the code with digest; a missing file is not an error.
func (c *codeStore) remove(digest string) error {
	if !validDigest(digest) {
		return nil
	}
	if err := os.Remove(c.path(digest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove code: %w", err)
	}
	return nil
}

// sweep removes temporary files and code that no action references.
func (c *codeStore) sweep(referenced map[string]int) (removed int, err error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return 0, fmt.Errorf("sweep code: %w", err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		stale := strings.HasPrefix(name, codeTempPrefix) || (validDigest(name) && referenced[name] == 0)
		if !stale || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(c.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// syncDir makes a rename or a removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
