package admin

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestMetricsMovesMatchStatus: GET /api/v1/metrics (and so every metrics
// event of the stream, which the dashboard shows) reports the same move
// counters as GET /api/v1/status, as docs/api.md shows them.
func TestMetricsMovesMatchStatus(t *testing.T) {
	h := newHarness(t, nil)
	var st Status
	var mt Metrics
	for path, v := range map[string]any{"/api/v1/status": &st, "/api/v1/metrics": &mt} {
		code, body := h.do("GET", path, "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatal(err)
		}
	}
	if st.Moves.Canceled == 0 {
		t.Fatalf("the fake gateway reports no canceled moves: %+v", st.Moves)
	}
	if mt.Moves != st.Moves {
		t.Errorf("metrics moves %+v, status moves %+v", mt.Moves, st.Moves)
	}
}
