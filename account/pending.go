package account

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// A pending record keeps what a code confirms (the address and name of a
// sign-up, the address being verified), named by the code's otc account,
// so that a link (which only yields that account) finds it too. It never
// holds the code.
type pending struct {
	Email    string `json:"e"`
	Username string `json:"u,omitempty"`
	Handle   []byte `json:"h,omitempty"`
}

func (a *Accounts) putPending(ctx context.Context, kind string, account []byte, p pending, expires time.Time) error {
	id := a.recordName("p:"+kind, account)
	data, _ := json.Marshal(p)
	for range 3 {
		if _, err := a.cfg.Challenges.TakeCeremony(ctx, id); err != nil && !errors.Is(err, webauthnkit.ErrNotFound) {
			return with(ErrStore, err)
		}
		err := a.cfg.Challenges.PutCeremony(ctx, id, data, expires)
		if !errors.Is(err, webauthnkit.ErrDuplicate) {
			if err != nil {
				return with(ErrStore, err)
			}
			return nil
		}
	}
	return with(ErrStore, errors.New("concurrent sign-ups for one address kept colliding"))
}

// takePending consumes the record; ErrInvalidCode when there is none.
func (a *Accounts) takePending(ctx context.Context, kind string, account []byte) (pending, error) {
	var p pending
	data, err := a.cfg.Challenges.TakeCeremony(ctx, a.recordName("p:"+kind, account))
	if errors.Is(err, webauthnkit.ErrNotFound) {
		return p, ErrInvalidCode
	}
	if err != nil {
		return p, with(ErrStore, err)
	}
	if json.Unmarshal(data, &p) != nil {
		return p, ErrInvalidCode
	}
	return p, nil
}
