package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// ListUserHandles (webauthnkit.UserHandleLister), run when the store
// declares Features().ListUserHandles. The suite never walks the whole
// store: its users share a random 24-byte handle prefix, and each walk
// starts at that prefix (smaller than every handle that extends it) and
// stops at the first handle without it.

// lister returns s as a UserHandleLister, failing the test if it declares
// the feature without the method.
func lister(t *testing.T, s credStore) webauthnkit.UserHandleLister {
	t.Helper()
	l, ok := s.(webauthnkit.UserHandleLister)
	require.True(t, ok, "%T declares Features().ListUserHandles but does not implement webauthnkit.UserHandleLister", s)
	return l
}

// createUsersWithPrefix stores n users whose handles are prefix followed
// by one byte each, in random order, and returns the handles sorted.
func createUsersWithPrefix(t *testing.T, s credStore, prefix []byte, n int) [][]byte {
	t.Helper()
	var handles [][]byte
	for i := range n {
		h := append(bytes.Clone(prefix), byte(n-i)*3)
		u := RandomUser()
		u.Handle = h
		var first *cred
		if i%2 == 0 {
			c := RandomCredential(h)
			first = &c
		}
		require.NoError(t, s.CreateUser(t.Context(), u, first))
		handles = append(handles, h)
	}
	sortHandles(handles)
	return handles
}

func sortHandles(hs [][]byte) {
	for i := 1; i < len(hs); i++ {
		for j := i; j > 0 && bytes.Compare(hs[j-1], hs[j]) > 0; j-- {
			hs[j-1], hs[j] = hs[j], hs[j-1]
		}
	}
}

// walkPrefix pages through the handles that start with prefix.
func walkPrefix(t *testing.T, l webauthnkit.UserHandleLister, prefix []byte, limit int) [][]byte {
	t.Helper()
	var out [][]byte
	after := bytes.Clone(prefix)
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "ListUserHandles does not end")
		page, err := l.ListUserHandles(t.Context(), after, limit)
		require.NoError(t, err, "ListUserHandles")
		require.LessOrEqual(t, len(page), limit, "a page longer than limit")
		for i, h := range page {
			require.Positive(t, bytes.Compare(h, after), "handle %x not greater than after %x", h, after)
			if i > 0 {
				require.Positive(t, bytes.Compare(h, page[i-1]), "page not ascending")
			}
			if !bytes.HasPrefix(h, prefix) {
				return out
			}
			out = append(out, h)
		}
		if len(page) < limit {
			return out
		}
		after = page[len(page)-1]
	}
}

func testListUserHandlesPages(t *testing.T, s credStore) {
	l := lister(t, s)
	prefix := RandomBytes(24)
	want := createUsersWithPrefix(t, s, prefix, 7)
	for _, limit := range []int{1, 2, 3, 7, 100} {
		require.Equal(t, hexAll(want), hexAll(walkPrefix(t, l, prefix, limit)), "walk with limit %d", limit)
	}
	// Starting after one of them returns the rest.
	page, err := l.ListUserHandles(t.Context(), want[2], 2)
	require.NoError(t, err)
	require.Equal(t, hexAll(want[3:5]), hexAll(page))
}

func testListUserHandlesDeleted(t *testing.T, s credStore) {
	l := lister(t, s)
	prefix := RandomBytes(24)
	want := createUsersWithPrefix(t, s, prefix, 4)
	require.NoError(t, s.DeleteUser(t.Context(), want[1]))
	require.Equal(t, hexAll([][]byte{want[0], want[2], want[3]}), hexAll(walkPrefix(t, l, prefix, 2)))
}

func testListUserHandlesBadLimit(t *testing.T, s credStore) {
	l := lister(t, s)
	for _, limit := range []int{0, -1, webauthnkit.MaxUserHandlePage + 1} {
		_, err := l.ListUserHandles(t.Context(), nil, limit)
		require.Error(t, err, "limit %d", limit)
	}
	page, err := l.ListUserHandles(t.Context(), nil, webauthnkit.MaxUserHandlePage)
	require.NoError(t, err, "limit MaxUserHandlePage")
	require.LessOrEqual(t, len(page), webauthnkit.MaxUserHandlePage)
}

func testListUserHandlesOwned(t *testing.T, s credStore) {
	l := lister(t, s)
	prefix := RandomBytes(24)
	want := createUsersWithPrefix(t, s, prefix, 2)
	page, err := l.ListUserHandles(t.Context(), prefix, 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	for _, h := range page {
		for i := range h {
			h[i] ^= 0xff
		}
	}
	require.Equal(t, hexAll(want), hexAll(walkPrefix(t, l, prefix, 2)), "changing a returned handle changed the store")
}

func testListUserHandlesCanceled(t *testing.T, s credStore) {
	l := lister(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := l.ListUserHandles(ctx, nil, 10)
	require.ErrorIs(t, err, context.Canceled)
}

// testListUserHandlesConcurrent: walks during concurrent creations and
// deletions of other users still return every user that existed
// throughout, once.
func testListUserHandlesConcurrent(t *testing.T, s credStore) {
	l := lister(t, s)
	prefix := RandomBytes(24)
	stable := createUsersWithPrefix(t, s, prefix, 6)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u := RandomUser()
			u.Handle = append(bytes.Clone(prefix), byte(3*(i%6)+1), byte(i))
			if s.CreateUser(context.Background(), u, nil) == nil {
				_ = s.DeleteUser(context.Background(), u.Handle)
			}
		}
	}()
	for range 3 {
		got := walkPrefix(t, l, prefix, 2)
		seen := map[string]int{}
		for _, h := range got {
			seen[string(h)]++
		}
		for _, h := range stable {
			require.Equal(t, 1, seen[string(h)], "user %x missing or repeated in a concurrent walk", h)
		}
	}
	close(stop)
	wg.Wait()
}

func hexAll(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h)
	}
	return out
}
