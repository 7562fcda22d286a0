package gwbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// admin calls the gateway's admin API.
type admin struct {
	base, token string
	http        *http.Client
}

// weightResult is the answer of PUT /api/v1/weight.
type weightResult struct {
	Weight float64 `json:"weight"`
	Moved  int     `json:"moved"`
	Failed int     `json:"failed"`
}

// status is the part of GET /api/v1/status the driver reads.
type status struct {
	Weight   float64 `json:"weight"`
	Sessions struct {
		Blue    int `json:"blue"`
		Green   int `json:"green"`
		Standby int `json:"standby"`
	} `json:"sessions"`
	Moves struct {
		Done   uint64 `json:"done"`
		Failed uint64 `json:"failed"`
	} `json:"moves"`
}

func (a *admin) do(ctx context.Context, method, path string, body []byte, timeout time.Duration, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s %s: %d %.200q", ErrAdmin, method, path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrAdmin, method, path, err)
	}
	return nil
}

// setWeight applies w and returns when the gateway has moved the sessions.
func (a *admin) setWeight(ctx context.Context, w float64) (weightResult, error) {
	var r weightResult
	body := []byte(`{"weight":` + strconv.FormatFloat(w, 'f', -1, 64) + `}`)
	err := a.do(ctx, http.MethodPut, "/api/v1/weight", body, 2*time.Minute, &r)
	return r, err
}

// prepareResult is the answer of POST /api/v1/weight/prepare.
type prepareResult struct {
	Prepared int `json:"prepared"`
	Failed   int `json:"failed"`
}

// prepare dials ahead the connections weight w would move sessions onto.
func (a *admin) prepare(ctx context.Context, w float64) (prepareResult, error) {
	var r prepareResult
	body := []byte(`{"weight":` + strconv.FormatFloat(w, 'f', -1, 64) + `}`)
	err := a.do(ctx, http.MethodPost, "/api/v1/weight/prepare", body, 2*time.Minute, &r)
	return r, err
}

func (a *admin) status(ctx context.Context) (status, error) {
	var s status
	err := a.do(ctx, http.MethodGet, "/api/v1/status", nil, ioTimeout, &s)
	return s, err
}
