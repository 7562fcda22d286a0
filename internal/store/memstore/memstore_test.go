package memstore_test

import (
	"testing"

	"github.com/baton-rt/baton/internal/store"
	"github.com/baton-rt/baton/internal/store/memstore"
	"github.com/baton-rt/baton/internal/store/storetest"
)

func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := memstore.New(memstore.Options{MaxEvents: 16})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, storetest.Config{MaxEvents: 16})
}

func TestOptions(t *testing.T) {
	if _, err := memstore.New(memstore.Options{MaxEvents: -1}); err == nil {
		t.Fatal("negative MaxEvents accepted")
	}
}
