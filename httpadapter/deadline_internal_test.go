package httpadapter

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The deadline of each endpoint class: StoreTimeout, plus MailTimeout for
// the account flows; none when StoreTimeout is negative; the defaults when
// zero; and withDeadline counts from an earlier start LoadUser recorded.
func TestDeadlineFor(t *testing.T) {
	var o Options
	require.NoError(t, checkTimeouts(&o))
	require.Equal(t, DefaultStoreTimeout, o.StoreTimeout)
	require.Equal(t, DefaultMailTimeout, o.MailTimeout)
	h := &Handler{opts: o}
	require.Equal(t, 2*time.Second, h.deadlineFor(classFinish))
	require.Equal(t, 2*time.Second, h.deadlineFor(classManage))
	require.Equal(t, 17*time.Second, h.deadlineFor(classAccount))

	h.opts.MailTimeout = -1
	require.Equal(t, 2*time.Second, h.deadlineFor(classAccount))
	h.opts.StoreTimeout = -1
	require.Zero(t, h.deadlineFor(classBegin))
	r := httptest.NewRequest("GET", "/", nil)
	r2, cancel := h.withDeadline(r, classBegin)
	defer cancel()
	_, has := r2.Context().Deadline()
	require.False(t, has, "negative StoreTimeout: no deadline of the adapter's")

	o = Options{StoreTimeout: time.Nanosecond}
	require.Error(t, checkTimeouts(&o), "a deadline below 1ms would fail every request")

	h.opts.StoreTimeout = time.Second
	r = markStart(httptest.NewRequest("GET", "/", nil))
	start := r.Context().Value(startKey{}).(time.Time)
	time.Sleep(20 * time.Millisecond)
	r2, cancel2 := h.withDeadline(markStart(r), classBegin) // markStart keeps the first start
	defer cancel2()
	dl, _ := r2.Context().Deadline()
	require.Equal(t, start.Add(time.Second), dl)
}
