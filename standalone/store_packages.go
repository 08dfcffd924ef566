package standalone

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"
)

// Packages and bindings live in their own bucket, keyed "namespace/name" like actions. The bucket
// is created by the first write, so a database written before packages existed opens unchanged.
var bucketPackages = []byte("packages")

func packageKey(namespace, name string) []byte { return []byte(namespace + "/" + name) }

// GetPackage returns the package or binding name in namespace.
func (s *Store) GetPackage(namespace, name string) (*Package, error) {
	var p Package
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPackages)
		if b == nil {
			return ErrNotFound
		}
		v := b.Get(packageKey(namespace, name))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &p)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// UpdatePackage atomically reads the package (nil when absent), lets update build the new one and
// stores it. An error from update aborts the write and is returned.
func (s *Store) UpdatePackage(namespace, name string, update func(old *Package) (*Package, error)) (*Package, error) {
	var out *Package
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketPackages)
		if err != nil {
			return fmt.Errorf("create packages bucket: %w", err)
		}
		key := packageKey(namespace, name)
		var old *Package
		if v := b.Get(key); v != nil {
			old = new(Package)
			if err := json.Unmarshal(v, old); err != nil {
				return fmt.Errorf("decode stored package: %w", err)
			}
		}
		p, err := update(old)
		if err != nil {
			return err
		}
		data, err := json.Marshal(p)
		if err != nil {
			return err
		}
		out = p
		return b.Put(key, data)
	})
	return out, err
}

// DeletePackage removes and returns the package or binding. check sees the stored package first
// and may veto the deletion with an error.
func (s *Store) DeletePackage(namespace, name string, check func(p *Package) error) (*Package, error) {
	var p Package
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPackages)
		if b == nil {
			return ErrNotFound
		}
		key := packageKey(namespace, name)
		v := b.Get(key)
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("decode stored package: %w", err)
		}
		if err := check(&p); err != nil {
			return err
		}
		return b.Delete(key)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// ListPackages returns the namespace's packages and bindings, most recently updated first.
func (s *Store) ListPackages(namespace string) ([]*Package, error) {
	var out []*Package
	prefix := []byte(namespace + "/")
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPackages)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var p Package
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode stored package %s: %w", k, err)
			}
			out = append(out, &p)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Updated > out[j].Updated })
	return out, err
}
