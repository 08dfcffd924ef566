package standalone

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// codeLayout is one way of keeping action code, as BenchmarkStoreLayout compares them.
type codeLayout interface {
	putAction(name string, code []byte) error
	deleteAction(name string) error
	putRecord(i int) error
	dbBytes() int64
	close()
}

// boltLayout keeps code inside bbolt: in the action's value (inline, the layout before the code
// store) or in a bucket of its own per code (nested), which bbolt does not rewrite when another
// key of the actions bucket changes.
type boltLayout struct {
	db     *bolt.DB
	path   string
	nested bool
}

var benchRecord = make([]byte, 1700) // the typical size of a record

func openBoltLayout(tb testing.TB, nested bool) *boltLayout {
	path := filepath.Join(tb.TempDir(), "layout.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{"actions", "code", "records"} {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &boltLayout{db: db, path: path, nested: nested}
}

func (l *boltLayout) putAction(name string, code []byte) error {
	return l.db.Update(func(tx *bolt.Tx) error {
		meta := make([]byte, 300)
		if !l.nested {
			return tx.Bucket([]byte("actions")).Put([]byte(name), append(meta, code...))
		}
		c, err := tx.Bucket([]byte("code")).CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return err
		}
		if err := c.Put([]byte("code"), code); err != nil {
			return err
		}
		return tx.Bucket([]byte("actions")).Put([]byte(name), meta)
	})
}

func (l *boltLayout) deleteAction(name string) error {
	return l.db.Update(func(tx *bolt.Tx) error {
		if l.nested {
			if err := tx.Bucket([]byte("code")).DeleteBucket([]byte(name)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return err
			}
		}
		return tx.Bucket([]byte("actions")).Delete([]byte(name))
	})
}

func (l *boltLayout) putRecord(i int) error {
	return l.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("records")).Put([]byte(fmt.Sprintf("%016d", i)), benchRecord)
	})
}

func (l *boltLayout) dbBytes() int64 { return modSize(l.path) }
func (l *boltLayout) close()         { l.db.Close() }

// fileLayout is the Store: code in content-addressed files.
type fileLayout struct{ s *Store }

func (l *fileLayout) putAction(name string, code []byte) error {
	_, err := l.s.UpdateAction("guest", name, func(*Action) (*Action, error) {
		c := string(code)
		return &Action{Namespace: "guest", Name: name, Version: "0.0.1", Exec: Exec{Kind: KindWasm, Code: &c}, Limits: defaultLimits()}, nil
	})
	return err
}

func (l *fileLayout) deleteAction(name string) error {
	_, err := l.s.DeleteAction("guest", name)
	return err
}

func (l *fileLayout) putRecord(i int) error {
	return l.s.PutActivation(testRecord(testID(i), time.Now().UnixMilli(), "x"), "x")
}

func (l *fileLayout) dbBytes() int64 { return l.s.stats().dbBytes }
func (l *fileLayout) close()         { l.s.Close() }

// BenchmarkStoreLayout compares ways of keeping action code, with NoSync so that the figures are
// the layout's and not the disk's: per layout, a PUT+DELETE of a small action and a record commit
// with and without a 48 MiB action stored (measured in alternation; the ratio is the slowdown the
// big action causes), and the database file after churn-cycles creates and deletes of distinct big
// actions.
func BenchmarkStoreLayout(b *testing.B) {
	const churnCycles = 10
	rng := rand.NewChaCha8([32]byte{2})
	big := make([]byte, 48<<20)
	rng.Read(big)
	layouts := []struct {
		name string
		open func(testing.TB) codeLayout
	}{
		{"bbolt-inline", func(tb testing.TB) codeLayout { return openBoltLayout(tb, false) }},
		{"bbolt-bucket", func(tb testing.TB) codeLayout { return openBoltLayout(tb, true) }},
		{"files", func(tb testing.TB) codeLayout { return &fileLayout{s: openTestStore(tb, tb.TempDir(), Retention{})} }},
	}
	for _, lay := range layouts {
		b.Run(lay.name, func(b *testing.B) {
			var ls [2]codeLayout // 0: without, 1: with the big action
			for i := range ls {
				ls[i] = lay.open(b)
				defer ls[i].close()
				if err := ls[i].putAction("a-neighbour", []byte("small")); err != nil {
					b.Fatal(err)
				}
			}
			if err := ls[1].putAction("big", big); err != nil {
				b.Fatal(err)
			}
			small := make([]byte, 1000)
			var putDel, rec [2]time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k := range ls {
					j := (k + i) % 2
					t := time.Now()
					if err := ls[j].putAction("small", small); err != nil {
						b.Fatal(err)
					}
					if err := ls[j].deleteAction("small"); err != nil {
						b.Fatal(err)
					}
					putDel[j] += time.Since(t)
					t = time.Now()
					if err := ls[j].putRecord(i); err != nil {
						b.Fatal(err)
					}
					rec[j] += time.Since(t)
				}
			}
			b.StopTimer()
			// Churn: distinct big actions created and deleted; what is left is the file size.
			for c := 0; c < churnCycles; c++ {
				big[0] = byte(c)
				name := fmt.Sprintf("churn%d", c%2)
				if err := ls[1].putAction(name, big); err != nil {
					b.Fatal(err)
				}
				if c > 0 {
					if err := ls[1].deleteAction(fmt.Sprintf("churn%d", (c-1)%2)); err != nil {
						b.Fatal(err)
					}
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(putDel[0].Microseconds())/n, "putdel-us")
			b.ReportMetric(float64(putDel[1].Microseconds())/n, "putdel-big-us")
			b.ReportMetric(float64(putDel[1])/float64(putDel[0]), "putdel-ratio")
			b.ReportMetric(float64(rec[1])/float64(rec[0]), "record-ratio")
			b.ReportMetric(float64(ls[1].dbBytes())/1e6, "db-MB-after-churn")
		})
	}
}
