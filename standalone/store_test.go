package standalone

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
)

func openTestStore(t testing.TB, dir string, ret Retention) *Store {
	t.Helper()
	s, err := OpenStore(dir, StoreOptions{NoSync: true, Retention: ret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func putTestAction(t testing.TB, s *Store, name, code string) *Action {
	t.Helper()
	a, err := s.UpdateAction("guest", name, func(old *Action) (*Action, error) {
		a := Action{Namespace: "guest", Name: name, Version: "0.0.1", Exec: Exec{Kind: KindWasm, Code: &code}, Limits: defaultLimits()}
		if old != nil {
			a.Version = bumpPatch(old.Version)
		}
		return &a, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func codeFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, codeDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestStoreCode checks that action code lives in content-addressed files, shared by equal code,
// removed with its last action, read back after a restart, and that a damaged file is an error.
func TestStoreCode(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, Retention{})
	codeA := strings.Repeat("A", 3<<20)
	codeB := "B-code"
	putTestAction(t, s, "a", codeA)
	putTestAction(t, s, "a2", codeA)
	putTestAction(t, s, "b", codeB)
	if got := codeFiles(t, dir); len(got) != 2 {
		t.Fatalf("code files %v, want 2 (equal code shared)", got)
	}
	db, err := os.ReadFile(filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(db, []byte(strings.Repeat("A", 4096))) {
		t.Fatal("code found inside the database file")
	}
	if _, err := s.DeleteAction("guest", "a"); err != nil {
		t.Fatal(err)
	}
	if got := codeFiles(t, dir); len(got) != 2 {
		t.Fatalf("after deleting one user of shared code: files %v", got)
	}
	putTestAction(t, s, "a2", "other") // update replaces the last user of codeA
	if got := codeFiles(t, dir); len(got) != 2 || strings.Contains(strings.Join(got, ","), codeDigest(codeA)) {
		t.Fatalf("after the last user of codeA changed code: files %v", got)
	}
	// Listing does not load code.
	list, err := s.ListActions("guest")
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %d", err, len(list))
	}
	for _, a := range list {
		if a.Exec.Code != nil {
			t.Fatalf("list loaded the code of %s", a.Name)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A stray temporary and an unreferenced file (a crash between commit and removal) are swept.
	os.WriteFile(filepath.Join(dir, codeDir, codeTempPrefix+"x"), []byte("partial"), 0o600)
	os.WriteFile(filepath.Join(dir, codeDir, codeDigest("orphan")), []byte("orphan"), 0o600)
	s = openTestStore(t, dir, Retention{})
	if got := codeFiles(t, dir); len(got) != 2 {
		t.Fatalf("after reopen: files %v, want the 2 referenced", got)
	}
	a, err := s.GetAction("guest", "b")
	if err != nil || a.Exec.Code == nil || *a.Exec.Code != codeB {
		t.Fatalf("get after reopen: %v %+v", err, a)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Damaged and missing code are errors, not wrong code.
	os.WriteFile(filepath.Join(dir, codeDir, codeDigest(codeB)), []byte("B-cod3"), 0o600)
	os.Remove(filepath.Join(dir, codeDir, codeDigest("other")))
	s = openTestStore(t, dir, Retention{})
	defer s.Close()
	for name, want := range map[string]string{"b": "does not match its digest", "a2": "no such file"} {
		if _, err := s.GetAction("guest", name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("get %s: err %v, want %q", name, err, want)
		}
	}
	if _, err := s.GetAction("guest", "nope"); err != ErrNotFound {
		t.Errorf("get missing: %v", err)
	}
	// A broken action can still be updated without touching its exec (it stays broken), repaired
	// with new code, and deleted.
	if _, err := s.UpdateAction("guest", "b", func(old *Action) (*Action, error) {
		c := *old
		c.Version = "9.9.9"
		return &c, nil
	}); err != nil {
		t.Fatalf("update of a broken action's metadata: %v", err)
	}
	if _, err := s.GetAction("guest", "b"); err == nil {
		t.Fatal("metadata update made broken code readable")
	}
	putTestAction(t, s, "a2", "repaired")
	if a, err := s.GetAction("guest", "a2"); err != nil || *a.Exec.Code != "repaired" {
		t.Fatalf("repaired action: %v", err)
	}
	if _, err := s.DeleteAction("guest", "b"); err != nil {
		t.Fatalf("delete of a broken action: %v", err)
	}
	if got := codeFiles(t, dir); len(got) != 1 || got[0] != codeDigest("repaired") {
		t.Fatalf("files after repair and delete: %v", got)
	}
}

func testRecord(id string, start int64, name string) *Activation {
	return &Activation{Namespace: "guest", Name: name, ActivationID: id, Start: start, End: start + 5, Duration: 5,
		Response: Response{StatusCode: StatusSuccess, Result: json.RawMessage(`{}`)}, Logs: []string{}}
}

func testID(i int) string { return fmt.Sprintf("%032x", i) }

// TestStoreRecover checks that activations accepted and not finished when the store closes (as at
// a crash) get a lost record at the next open, with their start and the last sign of life as
// end, and that finished ones keep their record.
func TestStoreRecover(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, Retention{})
	t0 := time.Now().Add(-time.Minute).UnixMilli()
	for i := 0; i < 10; i++ {
		p := testRecord(testID(i), t0+int64(i), "act")
		p.Response = Response{StatusCode: StatusWhiskError, Result: errorResult(msgPlatformStopped)}
		if err := s.Accept(p, "act", true); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		if err := s.PutActivation(testRecord(testID(i), t0+int64(i), "act"), "act"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GetActivation("guest", testID(7)); err != ErrNotFound {
		t.Fatalf("a pending activation is visible: %v", err)
	}
	closedAt := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A torn line (machine crash mid-write) is skipped.
	f, _ := os.OpenFile(filepath.Join(dir, journalFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"rec":{"activationId":"`)
	f.Close()

	s = openTestStore(t, dir, Retention{})
	for i := 0; i < 10; i++ {
		rec, err := s.GetActivation("guest", testID(i))
		if err != nil {
			t.Fatalf("activation %d: %v", i, err)
		}
		lost := strings.Contains(string(rec.Response.Result), "platform stopped")
		if lost != (i >= 4) {
			t.Fatalf("activation %d: lost=%v, response %s", i, lost, rec.Response.Result)
		}
		if lost && (rec.Response.StatusCode != StatusWhiskError || rec.Start != t0+int64(i) ||
			rec.End < rec.Start || rec.End > closedAt.UnixMilli()+1000 || rec.Duration != rec.End-rec.Start) {
			t.Fatalf("lost record %d: %+v", i, rec)
		}
	}
	recs, _, err := s.ListActivations(ActivationQuery{Namespace: "guest", Name: "act"})
	if err != nil || len(recs) != 10 {
		t.Fatalf("list: %v, %d records", err, len(recs))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing pending is left: a clean close removes the journal and a third open adds nothing.
	if _, err := os.Stat(filepath.Join(dir, journalFile)); !os.IsNotExist(err) {
		t.Fatalf("journal left after a clean close: %v", err)
	}
	s = openTestStore(t, dir, Retention{})
	defer s.Close()
	if n := s.records.Load(); n != 10 {
		t.Fatalf("records after third open: %d", n)
	}
}

// TestJournalRotation checks that the journal stays bounded under a long run of activations, that
// activations in flight across rotations are still recovered, and that concurrent synced accepts
// share syncs without losing a line.
func TestJournalRotation(t *testing.T) {
	for _, noSync := range []bool{true, false} {
		t.Run(fmt.Sprint("nosync=", noSync), func(t *testing.T) {
			dir := t.TempDir()
			j, err := openJournal(filepath.Join(dir, journalFile), noSync)
			if err != nil {
				t.Fatal(err)
			}
			long := testRecord(testID(1), 1, "long")
			if err := j.accept(long, "long", true); err != nil {
				t.Fatal(err)
			}
			pad := strings.Repeat("x", 900)
			var g errgroup.Group
			g.SetLimit(16)
			for i := 2; i < 12000; i++ {
				g.Go(func() error {
					r := testRecord(testID(i), int64(i), "short")
					r.Subject = pad
					if err := j.accept(r, "short", i%100 == 0); err != nil {
						return err
					}
					if i%1000 == 0 {
						return nil // left in flight
					}
					return j.done([]string{r.ActivationID})
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			if err := j.sync(); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(filepath.Join(dir, journalFile))
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() > 2*journalRotateBytes {
				t.Fatalf("journal is %d bytes after 12000 activations", st.Size())
			}
			if err := j.close(); err != nil {
				t.Fatal(err)
			}
			pending, _, err := readJournal(filepath.Join(dir, journalFile))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range pending {
				got[p.rec.ActivationID] = p.path
			}
			want := map[string]string{long.ActivationID: "long"}
			for i := 1000; i < 12000; i += 1000 {
				want[testID(i)] = "short"
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("pending after rotations: %v, want %v", got, want)
			}
		})
	}
}

// TestStoreRetention checks expiry by count (oldest written first) and by age, and that the
// indexes follow.
func TestStoreRetention(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, Retention{MaxRecords: 50, MaxAge: time.Hour})
	now := time.Now()
	old := now.Add(-2 * time.Hour).UnixMilli()
	for i := 0; i < 30; i++ { // expired by age
		if err := s.PutActivation(testRecord(testID(i), old+int64(i), "act"), "act"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 30; i < 130; i++ { // the first 50 of these expire by count
		if err := s.PutActivation(testRecord(testID(i), now.UnixMilli()+int64(i), "act"), "act"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.expire(now)
	if err != nil || n != 80 {
		t.Fatalf("expire: %d, %v; want 80", n, err)
	}
	if c := s.records.Load(); c != 50 {
		t.Fatalf("count %d", c)
	}
	for i := 0; i < 130; i++ {
		_, err := s.GetActivation("guest", testID(i))
		if (err == nil) != (i >= 80) {
			t.Fatalf("record %d: err %v", i, err)
		}
	}
	_, count, err := s.ListActivations(ActivationQuery{Namespace: "guest", CountOnly: true})
	if err != nil || count != 50 {
		t.Fatalf("list count %d %v", count, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStoreBoundedUnderChurn checks that the database file does not grow under a churn of
// creates and deletes of large actions and of records past the retention, and that a file left
// mostly free is compacted at open.
func TestStoreBoundedUnderChurn(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, Retention{MaxRecords: 2000})
	code := strings.Repeat("c", 1<<20)
	logs := []string{strings.Repeat("l", 4000)}
	t0 := time.Now().UnixMilli()
	cycle := func(i int) {
		name := fmt.Sprintf("a%d", i%3)
		putTestAction(t, s, name, code+name+fmt.Sprint(i))
		if _, err := s.DeleteAction("guest", name); err != nil {
			t.Fatal(err)
		}
		var g errgroup.Group // concurrent, so that they are group-committed as under load
		for k := 0; k < 50; k++ {
			r := testRecord(testID(i*50+k), t0+int64(i*50+k), "act")
			r.Logs = logs
			g.Go(func() error { return s.PutActivation(r, "act") })
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.expire(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 50; i++ {
		cycle(i)
	}
	warm := s.stats().dbBytes
	for i := 50; i < 200; i++ {
		cycle(i)
	}
	after := s.stats()
	t.Logf("db %d bytes after 50 cycles, %d after 200; %d code files", warm, after.dbBytes, after.codeFiles)
	if after.dbBytes > warm+warm/4 {
		t.Fatalf("database grew from %d to %d bytes under churn", warm, after.dbBytes)
	}
	if after.codeFiles != 0 || after.records != 2000 {
		t.Fatalf("after churn: %+v", after)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Lowering the retention frees most of the file; the next open gives the space back.
	s, err := OpenStore(dir, StoreOptions{NoSync: true, Retention: Retention{MaxRecords: 10}, compactMinBytes: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.stats()
	t.Logf("compacted at open: %d -> %d bytes", after.dbBytes, st.dbBytes)
	if st.dbBytes > after.dbBytes/2 {
		t.Fatalf("not compacted: %d bytes before, %d after", after.dbBytes, st.dbBytes)
	}
	recs, _, err := s.ListActivations(ActivationQuery{Namespace: "guest", Limit: 100})
	if err != nil || len(recs) != 10 {
		t.Fatalf("after compaction: %v, %d records", err, len(recs))
	}
	for _, r := range recs {
		if _, err := s.GetActivation("guest", r.ActivationID); err != nil || r.Start < t0+199*50 {
			t.Fatalf("record %s (start %d) after compaction: %v", r.ActivationID, r.Start-t0, err)
		}
	}
}

// TestStorePermissions checks that the data directory and every file in it are private.
func TestStorePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir, Retention{})
	putTestAction(t, s, "a", "code")
	if err := s.Accept(testRecord(testID(1), 1, "a"), "a", true); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", path, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStoreMigration opens a database of the previous layout (code inside action values, records
// keyed by id) and checks that nothing is lost.
func TestStoreMigration(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	code := strings.Repeat("Z", 100_000)
	t0 := time.Now().UnixMilli()
	err = db.Update(func(tx *bolt.Tx) error {
		acts, _ := tx.CreateBucket(bucketActions)
		recs, _ := tx.CreateBucket(bucketLegacyRecords)
		idx, _ := tx.CreateBucket(bucketActIndex)
		a, _ := json.Marshal(Action{Namespace: "guest", Name: "old", Version: "0.0.3", Exec: Exec{Kind: KindWasm, Code: &code, Binary: false}})
		if err := acts.Put([]byte("guest/old"), a); err != nil {
			return err
		}
		for i := 0; i < 3000; i++ {
			r, _ := json.Marshal(testRecord(testID(i), t0-int64(i), "old"))
			if err := recs.Put([]byte(testID(i)), r); err != nil {
				return err
			}
			k := indexKey("guest", t0-int64(i), testID(i))
			if err := idx.Put(k, []byte("old")); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir, Retention{})
	defer s.Close()
	a, err := s.GetAction("guest", "old")
	if err != nil || a.Exec.Code == nil || *a.Exec.Code != code || a.Version != "0.0.3" {
		t.Fatalf("migrated action: %v", err)
	}
	if files := codeFiles(t, dir); len(files) != 1 || files[0] != codeDigest(code) {
		t.Fatalf("code files %v", files)
	}
	for _, i := range []int{0, 1500, 2999} {
		if _, err := s.GetActivation("guest", testID(i)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	recs, _, err := s.ListActivations(ActivationQuery{Namespace: "guest", Limit: 2})
	if err != nil || len(recs) != 2 || recs[0].ActivationID != testID(0) {
		t.Fatalf("list after migration: %v %+v", err, recs)
	}
	// Records keep their age order: the oldest (largest i) come first in the write order.
	err = s.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketRecords).Cursor().First()
		var h recordHead
		json.Unmarshal(v, &h)
		if binary.BigEndian.Uint64(k) != 1 || h.ActivationID != testID(2999) {
			t.Errorf("first record in write order: %d %s", binary.BigEndian.Uint64(k), h.ActivationID)
		}
		if tx.Bucket(bucketLegacyRecords) != nil {
			t.Error("legacy bucket left")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
