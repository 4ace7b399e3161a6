package s3bed

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Fault is what a FaultProxy does with one request.
type Fault int

const (
	// Pass forwards the request and its response unchanged.
	Pass Fault = iota
	// SlowDown answers 503 SlowDown (S3's throttling) without forwarding.
	SlowDown
	// InternalError answers 500 InternalError without forwarding.
	InternalError
	// Drop reads part of the request and closes the connection without an
	// answer; the request never reaches the server.
	Drop
	// DropAfter forwards the request, then closes the connection instead of
	// answering: the request took effect but the client cannot know.
	DropAfter
	// Cut forwards the request and sends the response's headers and half
	// its body, then closes the connection.
	Cut
	// Stall leaves the connection open but silent: a request with a body
	// is not read (the client's upload blocks); a GET is forwarded and half
	// its body sent, then nothing more. The stall ends when the client gives
	// up, the proxy closes, or after a minute.
	Stall
)

func (f Fault) String() string {
	switch f {
	case Pass:
		return "pass"
	case SlowDown:
		return "503 SlowDown"
	case InternalError:
		return "500 InternalError"
	case Drop:
		return "drop"
	case DropAfter:
		return "drop after forwarding"
	case Cut:
		return "cut response"
	case Stall:
		return "stall"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Rule decides the fault for one request. Rules are called one request at a
// time.
type Rule func(r *http.Request) Fault

// FaultProxy is an HTTP proxy on 127.0.0.1 in front of an S3 server that
// injects faults chosen by a Rule: throttling and error responses, dropped
// connections, cut-off responses. Point a client's endpoint at URL(); the
// Host header is passed through, so SigV4 signatures stay valid.
type FaultProxy struct {
	target *url.URL
	ln     net.Listener
	srv    *http.Server
	rp     *httputil.ReverseProxy
	tr     *http.Transport

	closing chan struct{}

	mu       sync.Mutex
	rule     Rule
	requests int
	ops      map[string]int
	injected map[Fault]int
}

// NewFaultProxy starts a proxy in front of target (an endpoint URL such as
// Server.Endpoint). It passes everything until SetRule.
func NewFaultProxy(target string) (*FaultProxy, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("s3bed: fault proxy target %q: want a URL such as http://127.0.0.1:9000", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("s3bed: fault proxy listen: %w", err)
	}
	p := &FaultProxy{target: u, ln: ln, ops: map[string]int{}, injected: map[Fault]int{}, closing: make(chan struct{}),
		tr: &http.Transport{MaxIdleConnsPerHost: 32, ResponseHeaderTimeout: 2 * time.Minute}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // signed by the client
		},
		Transport: p.tr,
		ErrorLog:  nil,
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: time.Minute}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// URL is the proxy's endpoint, e.g. http://127.0.0.1:41234.
func (p *FaultProxy) URL() string { return "http://" + p.ln.Addr().String() }

// SetRule sets the rule for the following requests; nil passes all.
func (p *FaultProxy) SetRule(r Rule) {
	p.mu.Lock()
	p.rule = r
	p.mu.Unlock()
}

// Injected returns how many requests got fault f.
func (p *FaultProxy) Injected(f Fault) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected[f]
}

// Requests returns how many requests of S3 operation op (see Op; "" for
// all) reached the proxy.
func (p *FaultProxy) Requests(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if op == "" {
		return p.requests
	}
	return p.ops[op]
}

// Close stops the proxy and closes its connections.
func (p *FaultProxy) Close() error {
	select {
	case <-p.closing:
	default:
		close(p.closing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if err != nil {
		err = p.srv.Close()
	}
	p.tr.CloseIdleConnections()
	return err
}

// ServeHTTP applies the rule to one request.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := Op(r)
	p.mu.Lock()
	p.requests++
	p.ops[op]++
	f := Pass
	if p.rule != nil {
		f = p.rule(r)
	}
	if f != Pass {
		p.injected[f]++
	}
	p.mu.Unlock()
	switch f {
	case Pass:
		p.rp.ServeHTTP(w, r)
	case SlowDown:
		_, _ = io.Copy(io.Discard, r.Body)
		writeError(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case InternalError:
		_, _ = io.Copy(io.Discard, r.Body)
		writeError(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case Drop:
		_, _ = io.CopyN(io.Discard, r.Body, 64<<10)
		panic(http.ErrAbortHandler) // closes the connection without a response
	case Stall:
		if r.Method == http.MethodGet {
			resp, err := p.forward(r)
			if err != nil {
				writeError(w, http.StatusBadGateway, "InternalError", err.Error())
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for k, v := range resp.Header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(body[:len(body)/2])
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
		}
		select {
		case <-r.Context().Done():
		case <-p.closing:
		case <-time.After(time.Minute):
		}
		panic(http.ErrAbortHandler)
	case DropAfter, Cut:
		resp, err := p.forward(r)
		if err != nil {
			writeError(w, http.StatusBadGateway, "InternalError", err.Error())
			return
		}
		defer resp.Body.Close()
		if f == DropAfter {
			_, _ = io.Copy(io.Discard, resp.Body)
			panic(http.ErrAbortHandler)
		}
		body, _ := io.ReadAll(resp.Body)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
}

// forward sends r to the target and returns the response.
func (p *FaultProxy) forward(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	out.Host = r.Host
	return p.tr.RoundTrip(out)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>faultproxy</RequestId></Error>`, code, xmlEscape(msg))
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Op names the S3 operation of a path-style request: PutObject, UploadPart,
// CreateMultipartUpload, CompleteMultipartUpload, AbortMultipartUpload,
// CopyObject, UploadPartCopy, GetObject, HeadObject, DeleteObject,
// DeleteObjects, ListObjectsV2, HeadBucket, CreateBucket, DeleteBucket, or
// "Other".
func Op(r *http.Request) string {
	q := r.URL.Query()
	_, objectKey, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	hasKey := objectKey != ""
	_, uploads := q["uploads"]
	_, uploadID := q["uploadId"]
	_, del := q["delete"]
	_, part := q["partNumber"]
	copySrc := r.Header.Get("X-Amz-Copy-Source") != ""
	switch r.Method {
	case http.MethodPut:
		switch {
		case part && copySrc:
			return "UploadPartCopy"
		case part:
			return "UploadPart"
		case copySrc:
			return "CopyObject"
		case hasKey:
			return "PutObject"
		default:
			return "CreateBucket"
		}
	case http.MethodPost:
		switch {
		case uploads:
			return "CreateMultipartUpload"
		case uploadID:
			return "CompleteMultipartUpload"
		case del:
			return "DeleteObjects"
		}
	case http.MethodGet:
		if hasKey {
			return "GetObject"
		}
		if _, ok := q["list-type"]; ok {
			return "ListObjectsV2"
		}
	case http.MethodHead:
		if hasKey {
			return "HeadObject"
		}
		return "HeadBucket"
	case http.MethodDelete:
		switch {
		case uploadID:
			return "AbortMultipartUpload"
		case hasKey:
			return "DeleteObject"
		default:
			return "DeleteBucket"
		}
	}
	return "Other"
}

// EveryNth faults every n-th request of operation op (n ≥ 1; 1 faults all),
// counting from the first one after the rule is set, and passes the rest.
func EveryNth(op string, n int, f Fault) Rule {
	if n < 1 {
		n = 1
	}
	i := 0
	return func(r *http.Request) Fault {
		if Op(r) != op {
			return Pass
		}
		i++
		if i%n == 0 {
			return f
		}
		return Pass
	}
}

// FirstN faults the first n requests of operation op and passes the rest.
func FirstN(op string, n int, f Fault) Rule {
	i := 0
	return func(r *http.Request) Fault {
		if Op(r) != op {
			return Pass
		}
		i++
		if i <= n {
			return f
		}
		return Pass
	}
}

// Always faults every request of operation op.
func Always(op string, f Fault) Rule { return EveryNth(op, 1, f) }

// Rules combines rules: the first that returns a fault wins. Every rule sees
// every request, so counting rules keep counting.
func Rules(rules ...Rule) Rule {
	return func(r *http.Request) Fault {
		out := Pass
		for _, rule := range rules {
			if f := rule(r); f != Pass && out == Pass {
				out = f
			}
		}
		return out
	}
}
