package httpadapter

import "time"

// TEMPORARY until the stepup branch's httpadapter/stepup.go is merged
// (it defines freshAuthFor from the session's authentication time).
func (h *Handler) freshAuthFor(s session) (time.Time, time.Duration) { return time.Time{}, -1 }
