package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Browser tests drive Debian's Chromium through the real router. A test gets
// a browser with newBrowser(t); each helper fails the test with the page's
// address in the message, so a failing step says where it happened.
//
//	a := newTestApp(t, map[string]string{"PORTAL_BASE_URL": "self"})
//	b := newBrowser(t)
//	b.visit(a.srv.URL + "/login")
//	b.fill("#f-email", "x@example.test")
//	b.click(`[data-testid="login-form"] button[type=submit]`)
//
// Selectors are CSS (querySelector: the first match). Each step waits up to
// browserStepTimeout for its element; the whole browser lives at most
// browserTestTimeout. When a test fails, the current page is saved as
// failure.png next to the other screenshots.

const (
	browserTestTimeout = 90 * time.Second
	browserStepTimeout = 20 * time.Second
	browserWidth       = 1280
	browserHeight      = 900
)

// browser is one tab of a headless Chromium. Tabs made with newTab share
// cookies with it; tabs made with newPerson do not.
type browser struct {
	t      *testing.T
	ctx    context.Context
	name   string // "" for the first tab, used to name failure screenshots
	shared *browserShared
}

// browserShared is what the tabs of one Chromium have in common.
type browserShared struct {
	shotDir string        // the test's temp dir for screenshots
	out     *lockedBuffer // Chromium's own output (mostly noise)
	console *lockedBuffer // page console errors and chromedp errors
	tabs    int
}

// lockedBuffer is written from chromedp's goroutines and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(l, format+"\n", args...)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newBrowser starts a fresh headless Chromium for this test and closes it
// when the test ends. A missing Chromium fails the test: browser tests are
// part of the suite, not optional.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := cmp.Or(os.Getenv("CHROMIUM_PATH"), "/usr/bin/chromium")
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		t.Fatalf("Chromium not found at %s (install it with .ci/chromium.sh or set CHROMIUM_PATH): %v", path, err)
	}
	deadline := time.Now().Add(browserTestTimeout)
	if d, ok := t.Deadline(); ok && d.Add(-5*time.Second).Before(deadline) {
		deadline = d.Add(-5 * time.Second)
	}
	out, console := &lockedBuffer{}, &lockedBuffer{}
	// The allocator gives Chromium a fresh temporary --user-data-dir and
	// removes it, with any leftover child processes, once Chromium exits.
	opts := slices.Concat(chromedp.DefaultExecAllocatorOptions[:], []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(browserWidth, browserHeight),
		chromedp.CombinedOutput(out),
	})
	root, cancelRoot := context.WithDeadline(context.Background(), deadline)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(console.printf))
	stop := func() { cancelTab(); cancelAlloc(); cancelRoot() }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		t.Fatalf("start Chromium %s: %v\n%s", path, err, tail(out.String(), 4000))
	}
	b := &browser{t: t, ctx: ctx, shared: &browserShared{shotDir: t.TempDir(), out: out, console: console, tabs: 1}}
	consoleDone := b.watchConsole()
	t.Cleanup(func() {
		b.shootIfFailed()
		stop()
		<-consoleDone
		if t.Failed() {
			t.Logf("Chromium output, without D-Bus noise:\n%s\nconsole errors:\n%s",
				tail(dbusNoise.ReplaceAllString(out.String(), ""), 3000), tail(console.String(), 8000))
		}
	})
	b.sizeViewport()
	return b
}

// newTab opens another tab of the same browser, with the same cookies: the
// same person in a second tab.
func (b *browser) newTab() *browser {
	b.t.Helper()
	return b.open()
}

// newPerson opens a tab in a new browser context, with its own cookies and
// storage: someone else on another computer.
func (b *browser) newPerson() *browser {
	b.t.Helper()
	return b.open(chromedp.WithNewBrowserContext())
}

func (b *browser) open(opts ...chromedp.ContextOption) *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, opts...)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		b.t.Fatalf("open a tab: %v", err)
	}
	b.shared.tabs++
	nb := &browser{t: b.t, ctx: ctx, name: fmt.Sprintf("tab%d", b.shared.tabs), shared: b.shared}
	consoleDone := nb.watchConsole()
	b.t.Cleanup(func() {
		nb.shootIfFailed()
		cancel()
		<-consoleDone
	})
	nb.sizeViewport()
	return nb
}

// sizeViewport makes the page area itself browserWidth × browserHeight:
// headless Chromium takes the window size to include room for a toolbar
// it does not draw, which leaves the page about 140 px short.
func (b *browser) sizeViewport() {
	b.t.Helper()
	b.step("size the viewport", chromedp.EmulateViewport(browserWidth, browserHeight))
}

// watchConsole records the page's console errors and exceptions, which
// show up in the log of a failed test (a blocked stylesheet, a CSP
// violation). The returned channel closes when the tab is gone.
func (b *browser) watchConsole() <-chan struct{} {
	done := make(chan struct{})
	msgs := chromedp.Console(b.ctx)
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.shared.console.printf("%s %s: %s", m.Type, m.URL, m.Text)
			}
		}
	}()
	return done
}

// step runs actions that return nothing, failing the test with what.
func (b *browser) step(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (on %s)", what, err, b.where())
	}
}

// browserRun runs one action and returns its value, failing the test with what.
func browserRun[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v (on %s)", what, err, b.where())
	}
	return v
}

// navigate runs steps that load a page and returns its HTTP status.
func (b *browser) navigate(what string, steps ...chromedp.Action[chromedp.Void]) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if errors.Is(err, context.DeadlineExceeded) && b.ctx.Err() == nil {
		b.t.Fatalf("%s: no page loaded within %s (on %s)", what, browserStepTimeout, b.where())
	}
	if err != nil {
		b.t.Fatalf("%s: %v (on %s)", what, err, b.where())
	}
	if resp == nil {
		return 0
	}
	return int(resp.Status)
}

// where is the current address for error messages, or why it is unknown.
func (b *browser) where() string {
	if b.ctx.Err() != nil {
		return "a closed browser (it crashed, or the test ran past " + browserTestTimeout.String() + ")"
	}
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "an unknown page"
	}
	return loc
}

// visit opens url and waits for it to load; it returns the HTTP status.
func (b *browser) visit(url string) int {
	b.t.Helper()
	return b.navigate("visit "+url, chromedp.Navigate(url))
}

// click clicks the element like a user and waits for the page that the
// click loads (a link, a submit button); it returns the HTTP status. Use
// clickInPlace for a control that does not load a page.
func (b *browser) click(sel string) int {
	b.t.Helper()
	return b.navigate("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// clickInPlace clicks the element without waiting for a page load.
func (b *browser) clickInPlace(sel string) {
	b.t.Helper()
	b.step("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// fill replaces the value of an input by typing, so the page sees key
// events as from a user.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	// Not chromedp.SetValue(sel, ""): it sends no argument for "" and the
	// field becomes "undefined"; Clear only resets the value attribute.
	b.step("fill "+sel,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf("document.querySelector(%s).value = ''", jsString(sel))),
		chromedp.SendKeys(chromedp.CSS(sel), value))
}

// submit submits the form of the element (a form, or a field in it)
// without the browser's own checks of required, type=email, minlength…, so
// tests reach the server's validation; it returns the HTTP status. To
// submit as a user does, click the form's button instead.
func (b *browser) submit(sel string) int {
	b.t.Helper()
	return b.navigate("submit "+sel, chromedp.Submit(chromedp.CSS(sel)))
}

// text is the visible text of the element (empty if it is hidden), after
// waiting for the element to exist.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(browserRun(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// value is the current value of an input, select or textarea.
func (b *browser) value(sel string) string {
	b.t.Helper()
	return browserRun(b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// waitVisible waits until the element is on the page and visible.
func (b *browser) waitVisible(sel string) {
	b.t.Helper()
	b.step("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// exists reports whether the element is on the current page now.
func (b *browser) exists(sel string) bool {
	b.t.Helper()
	return b.count(sel) > 0
}

// count is how many elements match on the current page now.
func (b *browser) count(sel string) int {
	b.t.Helper()
	return browserRun(b, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%s).length", jsString(sel))))
}

// location is the address of the current page.
func (b *browser) location() string {
	b.t.Helper()
	return browserRun(b, "location", chromedp.Location())
}

// screenshot saves the whole page as name.png in the test's temp dir and,
// when SCREENSHOT_DIR is set, in SCREENSHOT_DIR/<test name>/ for people to
// look at.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	b.save(name, browserRun(b, "screenshot "+name, fullPagePNG))
}

func (b *browser) save(name string, png []byte) {
	b.t.Helper()
	file := fileSafe(name) + ".png"
	path := filepath.Join(b.shared.shotDir, file)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if dir := os.Getenv("SCREENSHOT_DIR"); dir != "" {
		dir = filepath.Join(dir, fileSafe(b.t.Name()))
		path = filepath.Join(dir, file)
		if err := errors.Join(os.MkdirAll(dir, 0o755), os.WriteFile(path, png, 0o644)); err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
	}
	b.t.Logf("screenshot %s", path)
}

// shootIfFailed saves the page a failed test ended on.
func (b *browser) shootIfFailed() {
	if !b.t.Failed() || b.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, fullPagePNG)
	if err != nil {
		b.t.Logf("failure screenshot: %v", err)
		return
	}
	name := "failure"
	if b.name != "" {
		name += "-" + b.name
	}
	b.save(name, png)
}

// fullPagePNG captures the whole document, not only the window.
func fullPagePNG(ctx context.Context, t *chromedp.Target) ([]byte, error) {
	m, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
	if err != nil {
		return nil, err
	}
	clip := &page.Viewport{Width: browserWidth, Height: browserHeight, Scale: 1}
	if v := m.CSSLayoutViewport; v != nil && v.ClientWidth > 0 {
		clip.Width, clip.Height = float64(v.ClientWidth), float64(v.ClientHeight)
	}
	if s := m.CSSContentSize; s != nil {
		clip.Width = math.Max(clip.Width, math.Ceil(s.Width))
		clip.Height = math.Max(clip.Height, math.Ceil(s.Height))
	}
	res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format: page.CaptureScreenshotFormatPng, Clip: clip, CaptureBeyondViewport: new(true), FromSurface: new(true),
	})
	return res.Data, err
}

// dbusNoise is what Chromium logs in a container without D-Bus, on every start.
var dbusNoise = regexp.MustCompile(`(?m)^.*dbus.*\n`)

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileSafe(s string) string { return unsafeFileChars.ReplaceAllString(s, "_") }

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
