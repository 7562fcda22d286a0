package scenario

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/broker"
	"github.com/baton-rt/baton/internal/broker/redisbroker"
	"github.com/baton-rt/baton/internal/router"
	"github.com/baton-rt/baton/internal/testenv"
)

// cluster is blue, green and the gateway as processes, and the test's own
// handle on the shared Redis broker.
type cluster struct {
	t                  *testing.T
	redis              string
	cfg                gatewayConfig
	blue, green, gw    *proc
	broker             broker.Broker
	http               *http.Client
	adminURL, edgeAddr string
	// prefix makes this test's channel names unique in the shared Redis:
	// `baton serve` has no key-prefix flag, so names are what separates
	// runs.
	prefix string
}

// clusterOptions choose what starts.
type clusterOptions struct {
	noGreen             bool // green's port stays closed
	gateway             gatewayConfig
	blueArgs, greenArgs []string
	// prefix starts the cluster's channel names ("" means "scn-").
	prefix string
	// redis is the address of a Redis of the test's own, one it restarts
	// ("" means the shared one).
	redis string
}

func startCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	c := newCluster(t, cmp.Or(o.prefix, "scn-"), o.gateway)
	if o.redis != "" {
		c.redis = o.redis
	}
	c.blue = startBlue(t, c.cfg.Blue, c.redis, o.blueArgs...)
	if !o.noGreen {
		c.green = startGreen(t, c.cfg.Green, c.redis, o.greenArgs...)
	}
	c.gw = startGateway(t, c.cfg)
	c.edgeAddr, c.adminURL = c.cfg.Edge, "http://"+c.cfg.Admin
	c.http = &http.Client{Timeout: 120 * time.Second}
	t.Cleanup(c.http.CloseIdleConnections)
	c.openBroker()
	return c
}

// newCluster picks the addresses of a cluster whose channel names start
// with prefix and a random part; nothing is started yet.
func newCluster(t *testing.T, prefix string, cfg gatewayConfig) *cluster {
	c := &cluster{t: t, redis: testenv.RedisAddr(t), cfg: cfg, prefix: prefix + strings.ToLower(rand.Text()[:8]) + "-"}
	c.cfg.Edge, c.cfg.Admin = testenv.FreeAddr(t), testenv.FreeAddr(t)
	c.cfg.Blue, c.cfg.Green = testenv.FreeAddr(t), testenv.FreeAddr(t)
	return c
}

// openBroker gives the test its own handle on the shared Redis broker,
// closed when the test ends.
func (c *cluster) openBroker() {
	c.t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: c.redis, ContextTimeoutEnabled: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := redisbroker.New(ctx, redisbroker.Options{Client: rdb})
	if err != nil {
		_ = rdb.Close()
		c.t.Fatal(err)
	}
	c.broker = b
	c.t.Cleanup(func() { _ = b.Close(); _ = rdb.Close() })
}

// channels returns n channel names unique to this test.
func (c *cluster) channels(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%sch%02d", c.prefix, i)
	}
	return out
}

// restartGreen starts green (again) on its address.
func (c *cluster) restartGreen(args ...string) {
	c.green = startGreen(c.t, c.cfg.Green, c.redis, args...)
}

// restartBlue starts blue again on its address (after a kill).
func (c *cluster) restartBlue(args ...string) {
	c.blue = startBlue(c.t, c.cfg.Blue, c.redis, args...)
}

// adminDo sends one admin request; token "" sends none.
func (c *cluster) adminDo(method, path, token, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, c.adminURL+path, bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// adminJSON sends an admin request with the token, wants status want, and
// decodes the answer into v.
func (c *cluster) adminJSON(method, path, body string, want int, v any) error {
	code, b, err := c.adminDo(method, path, adminToken, body)
	if err != nil {
		return err
	}
	if code != want {
		return fmt.Errorf("%s %s %s: %d %s, want %d", method, path, body, code, b, want)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s %s: %w in %s", method, path, err, b)
		}
	}
	return nil
}

func (c *cluster) setWeight(w float64) (admin.WeightResult, error) {
	var res admin.WeightResult
	err := c.adminJSON("PUT", "/api/v1/weight", fmt.Sprintf(`{"weight":%v}`, w), 200, &res)
	return res, err
}

func (c *cluster) prepare(w float64) (admin.PrepareResult, error) {
	var res admin.PrepareResult
	err := c.adminJSON("POST", "/api/v1/weight/prepare", fmt.Sprintf(`{"weight":%v}`, w), 200, &res)
	return res, err
}

func (c *cluster) status() (admin.Status, error) {
	var st admin.Status
	err := c.adminJSON("GET", "/api/v1/status", "", 200, &st)
	return st, err
}

func (c *cluster) session(id string) (admin.SessionInfo, error) {
	var in admin.SessionInfo
	err := c.adminJSON("GET", "/api/v1/sessions/"+id, "", 200, &in)
	return in, err
}

// expectedCounts computes the sessions per backend the buckets give at
// weight w, with the gateway's salt.
func expectedCounts(t *testing.T, users []string, w float64) (blue, green int) {
	t.Helper()
	table := routeTable(t, w)
	for _, u := range users {
		if table.Backend(u) == router.Green {
			green++
		} else {
			blue++
		}
	}
	return blue, green
}

func routeTable(t *testing.T, w float64) *router.Table {
	t.Helper()
	wt, err := router.FromPercent(w)
	if err != nil {
		t.Fatal(err)
	}
	table, err := router.NewTable("scenario", wt, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// checkSessions asks the admin API for every session and wants it live on
// backend want(user) with exactly its channels. It returns the number of
// sessions that did not match (each reported up to a few).
func (c *cluster) checkSessions(t *testing.T, members []member, want func(user string) router.Color) int {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		bad  int
		next = make(chan member)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range next {
				err := c.checkSession(m, want(m.user))
				if err != nil {
					mu.Lock()
					if bad++; bad <= 5 {
						t.Errorf("session of %s: %v", m.user, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, m := range members {
		next <- m
	}
	close(next)
	wg.Wait()
	return bad
}

func (c *cluster) checkSession(m member, want router.Color) error {
	in, err := c.session(m.id)
	if err != nil {
		return err
	}
	got := make([]string, 0, len(in.Subscriptions))
	for _, s := range in.Subscriptions {
		got = append(got, s.Channel)
	}
	slices.Sort(got)
	if in.Backend != want.String() || !in.Attached || in.User != m.user || !slices.Equal(got, m.channels) {
		return fmt.Errorf("info %+v (channels %v), want live on %s with %v", in, got, want, m.channels)
	}
	return nil
}

// member is one client as the admin API sees it.
type member struct {
	id, user string
	channels []string // sorted
}
