package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/baton-rt/baton/internal/admin"
	"github.com/baton-rt/baton/internal/testenv"
)

// chromiumPath is Debian's chromium.
const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium for the test, or skips the test when
// there is none (fails it instead with BATON_REQUIRE_CHROMIUM=1). Every
// uncaught exception, console error and browser log error of the page but
// the network's (the error answers a test asks for are logged as failed
// loads) fails the test at its end. The browser, its profile directory
// and chromedp's goroutines are gone once the test's cleanups have run.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("BATON_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("BATON_REQUIRE_CHROMIUM=1 but %s: %v", chromiumPath, err)
		}
		t.Skipf("no %s: %v", chromiumPath, err)
	}
	// Not t.TempDir: Chromium's helpers may still write in the profile for
	// a moment after it exits, and t.TempDir's removal would fail on it.
	profile, err := os.MkdirTemp("", "baton-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	problems := make(chan []string, 1)
	// Console starts the browser and subscribes before it returns, so no
	// message of the page is missed.
	messages := chromedp.Console(ctx)
	go func() {
		var found []string
		for m, err := range messages {
			if err != nil {
				break // ctx ended: the browser is closing
			}
			if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
				found = append(found, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
			}
		}
		problems <- found
	}()
	t.Cleanup(func() {
		cancel()      // closes the tab and the browser
		cancelAlloc() // waits for the process
		for _, p := range <-problems {
			t.Errorf("page: %s", p)
		}
		for range 50 {
			if err := os.RemoveAll(profile); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("profile %s not removed", profile)
	})
	return ctx
}

// waitFor waits until the JavaScript expression is true.
func waitFor(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
}

// textIs waits until the element with id shows want.
func textIs(id, want string) chromedp.Action[chromedp.Void] {
	return waitFor(fmt.Sprintf(`document.getElementById(%q).textContent.trim() === %q`, id, want))
}

// shows waits until the element with id is visible and its text contains
// want.
func shows(id, want string) chromedp.Action[chromedp.Void] {
	return waitFor(fmt.Sprintf(`(() => { const e = document.getElementById(%q); return !e.hidden && e.textContent.includes(%q); })()`, id, want))
}

// emergency clicks the emergency rollback button and answers its
// confirmation dialog. The click runs from a timer in the page: a click
// sent as input would not return while the dialog it opens is up.
func emergency(accept bool) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		ev, err := chromedp.WaitEvent(page.JavascriptDialogOpening, nil,
			chromedp.Evaluate[int](`setTimeout(() => document.getElementById('btn-emergency').click(), 0)`))(ctx, t)
		if err != nil {
			return chromedp.Void{}, err
		}
		if ev.Type != page.DialogTypeConfirm || !strings.Contains(ev.Message, "Emergency rollback") {
			return chromedp.Void{}, fmt.Errorf("dialog %s %q, want a confirmation of the emergency rollback", ev.Type, ev.Message)
		}
		_, err = cdp.Call(ctx, t, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
		return chromedp.Void{}, err
	}
}

func eval(ctx context.Context, t *testing.T, expr string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// TestDashboardInBrowser drives the dashboard in headless Chromium against
// a real gateway and reference services: the token form, the live view
// through the event stream and its reconnection, the rollout controls
// and an API error. The browser reaches the admin listener through a
// proxy that the test can take down.
func TestDashboardInBrowser(t *testing.T) {
	ctx := browser(t)
	blue, green := testBackends(t)
	a := start(t, testConfig(blue, green, ""), Options{TestHold: 500 * time.Millisecond})
	clients(t, a.App, 3)
	proxy := testenv.StartProxy(t, a.AdminAddr())
	base := "http://" + proxy.Addr()

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		began := time.Now()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w after %v", err, time.Since(began).Round(time.Millisecond))
			}
			t.Fatalf("%s: %v\nstate %q, conn %q, errors %q\nevents:\n%s", name, err,
				eval(ctx, t, `document.getElementById('rollout-state').textContent`),
				eval(ctx, t, `document.getElementById('conn').textContent`),
				eval(ctx, t, `document.getElementById('api-error').textContent + ' | ' + document.getElementById('login-error').textContent`),
				eval(ctx, t, `document.getElementById('event-log').innerText`))
		}
		t.Logf("%s: %v", name, time.Since(began).Round(time.Millisecond))
	}

	// "/" leads to the page, which asks for the token.
	step("open", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc := eval(ctx, t, `location.pathname`); loc != "/dashboard/" {
		t.Errorf("/ led to %s, want /dashboard/", loc)
	}

	step("wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "not-the-token"),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		shows("login-error", "token was refused (401)"),
	)
	if s := eval(ctx, t, `sessionStorage.getItem('baton.admin.token') || ''`); s != "" {
		t.Errorf("sessionStorage keeps the refused token %q", s)
	}

	// The charts start with the gateway's own series: wait for a few
	// points, which the page cannot have gathered itself at connect.
	var seeded int
	testenv.Eventually(t, "four points in the health series", 10*time.Second, func() bool {
		_, body := adminDo(t, a.App, "GET", "/api/v1/metrics?series=true")
		var m admin.Metrics
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		seeded = len(m.Series["blue"])
		return seeded >= 4
	})

	step("right token",
		chromedp.SendKeys(chromedp.ID("token"), a.Token()),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("main")),
		textIs("weight", "0 %"),
		textIs("sessions-blue", "3"),
		textIs("sessions-green", "0"),
		textIs("up-blue", "up"),
		textIs("rollout-state", "idle"),
		textIs("conn", "live"),
	)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('#chart-p95 polyline.blue').getAttribute('points').split(' ').length`))
	if err != nil || n < seeded {
		t.Errorf("the P95 chart has %d points at connect (%v), want at least the %d of the gateway's series", n, err, seeded)
	}
	step("charts", waitFor(`document.querySelectorAll('#chart-errors polyline, #chart-p95 polyline, #chart-p99 polyline').length === 6`))
	if url, s, l := eval(ctx, t, `location.href`), eval(ctx, t, `sessionStorage.getItem('baton.admin.token') || ''`),
		eval(ctx, t, `JSON.stringify(localStorage)`); strings.Contains(url, a.Token()) || s != a.Token() || strings.Contains(l, a.Token()) {
		t.Errorf("token: URL %q, sessionStorage %q, localStorage %s; want it in sessionStorage only", url, s, l)
	}

	// The stream drops and cannot reconnect: the page says so, and goes
	// live again once the gateway is back.
	proxy.Down()
	step("stream drops",
		waitFor(`document.getElementById('conn').dataset.state === 'reconnecting'`),
		shows("conn", "reconnecting…"),
	)
	proxy.Up()
	step("stream reconnects",
		textIs("conn", "live"),
		shows("event-log", "event stream reconnected"),
	)

	// The start's answer says "preparing"; "completed" and 100 % come
	// through the stream (and the re-reads its transitions cause).
	step("rollout completes",
		chromedp.SendKeys(chromedp.ID("start-steps"), "50,100"),
		chromedp.Click(chromedp.ID("btn-start")),
		textIs("rollout-state", "completed"),
		textIs("weight", "100 %"),
		textIs("sessions-green", "3"),
		shows("event-log", "rollout_completed"),
		shows("verdicts", "pass"),
	)

	// A second rollout, from 100 % down to 50 % first, which the
	// checkbox allows; paused, then resumed, it completes again.
	step("start again",
		chromedp.Click(chromedp.ID("start-allow-decrease")),
		chromedp.Click(chromedp.ID("btn-start")),
		waitFor(`['preparing', 'shifting'].includes(document.getElementById('rollout-state').textContent)`),
	)
	step("pause",
		chromedp.Click(chromedp.ID("btn-pause")),
		shows("api-ok", "pause: the rollout is paused"),
		textIs("rollout-state", "paused"),
	)
	step("resume",
		chromedp.Click(chromedp.ID("btn-resume")),
		shows("api-ok", "resume: the rollout is"),
		textIs("rollout-state", "completed"),
	)

	// Emergency rollback asks first: dismissed, nothing is sent; accepted,
	// everyone goes back to blue.
	step("emergency dismissed", emergency(false))
	if got := eval(ctx, t, `document.getElementById('api-ok').textContent`); strings.Contains(got, "emergency") ||
		eval(ctx, t, `document.getElementById('rollout-state').textContent`) != "completed" {
		t.Errorf("a dismissed emergency rollback was sent: %q", got)
	}
	step("emergency accepted",
		emergency(true),
		shows("api-ok", "emergency-rollback: the rollout is"),
		textIs("rollout-state", "rolled_back"),
		textIs("weight", "0 %"),
		textIs("sessions-blue", "3"),
	)

	// A command the state does not allow: the 409 and the state.
	step("pause refused",
		chromedp.Click(chromedp.ID("btn-pause")),
		shows("api-error", "pause failed (409)"),
		shows("api-error", "[state: rolled_back]"),
	)
	// Abort, roll back and promote.
	running := waitFor(`['preparing', 'shifting'].includes(document.getElementById('rollout-state').textContent)`)
	step("abort",
		chromedp.Click(chromedp.ID("btn-start")),
		running,
		chromedp.Click(chromedp.ID("btn-abort")),
		textIs("rollout-state", "aborted"),
	)
	step("rollback",
		chromedp.Click(chromedp.ID("btn-rollback")),
		textIs("rollout-state", "rolled_back"),
	)
	step("promote",
		chromedp.Click(chromedp.ID("btn-start")),
		running,
		chromedp.Click(chromedp.ID("btn-promote")),
		shows("rollout-weight", "(promoted)"),
		textIs("rollout-state", "completed"),
		textIs("weight", "100 %"),
	)

	step("out-of-range weight",
		chromedp.SendKeys(chromedp.ID("weight-input"), "150"),
		chromedp.Click(chromedp.ID("btn-weight")),
		shows("api-error", "weight: must be a number from 0 to 100"),
		shows("api-error", "[field: weight]"),
		waitFor(`document.getElementById('weight-input').classList.contains('invalid')`),
	)

	// "Forget token" drops it and asks again, with no error.
	step("forget token",
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("token")),
		waitFor(`document.getElementById('main').hidden && document.getElementById('login-error').hidden`),
		textIs("conn", "not connected"),
	)
	if s := eval(ctx, t, `sessionStorage.getItem('baton.admin.token') || ''`); s != "" {
		t.Errorf("sessionStorage keeps the forgotten token %q", s)
	}
}
