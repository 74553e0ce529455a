package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// netHTTPRead reads data as net/http's Transport does: ReadResponse, skipping up to five
// interim answers, then the whole body.
func netHTTPRead(data []byte, method string) (*http.Response, []byte, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	req := &http.Request{Method: method}
	for n := 0; ; n++ {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != 101 {
			if n == max1xx {
				return nil, nil, errors.New("too many 1xx")
			}
			continue
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, nil, err
		}
		return resp, body, nil
	}
}

// read reads data with this package's reader over a small buffer (so that lines span fills).
func read(data []byte, method string) (*Response, bool, error) {
	var r Response
	keep, err := readResponse(bufio.NewReaderSize(bytes.NewReader(data), 16), &r, method == "HEAD", 1<<20)
	return &r, keep, err
}

var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nX-T: 1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
	"HTTP/1.0 200 OK\r\n\r\nto the end",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 400 Bad Request\r\nX-Amzn-Errortype: x\r\n  folded\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
	"HTTP/1.1 200\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX Y: z\r\nContent-Length : 3\r\n\r\nabc",
	"HTTP/1.1 2000 OK\r\n\r\n",
	"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: 1\r\nContent-Length: 44\r\nDate: Wed, 25 Nov 2026 23:59:58 GMT\r\n\r\n{\"__type\":\"InternalFailure\",\"message\":\"x\"}\r\n",
}

// FuzzReadResponse: the reader never panics, and where net/http and it both take an answer
// they agree on status, body and whether the connection stays open. Where net/http takes an
// answer this reader refuses, the reason is one of its documented strictnesses.
func FuzzReadResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := map[bool]string{false: "POST", true: "HEAD"}[head]
		r, keep, err := read(data, method)
		hr, body, herr := netHTTPRead(data, method)
		if err == nil {
			if r.StatusCode < 200 || r.StatusCode > 999 {
				t.Fatalf("final status %d", r.StatusCode)
			}
			if b, _ := io.ReadAll(r.HTTP().Body); !bytes.Equal(b, r.Body) {
				t.Fatalf("HTTP's body %q, want %q", b, r.Body)
			}
		}
		if herr != nil {
			return
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !stricter(data, hr) {
				t.Fatalf("net/http reads %q (status %d, body %q); this reader: %v", data, hr.StatusCode, body, err)
			}
			return
		}
		if r.StatusCode != hr.StatusCode || !bytes.Equal(r.Body, body) || keep == hr.Close {
			t.Fatalf("%q:\n got %d %q keep-alive %v\nwant %d %q keep-alive %v", data, r.StatusCode, r.Body, keep, hr.StatusCode, body, !hr.Close)
		}
	})
}

// stricter reports whether data is an answer this reader refuses by design although net/http
// takes it: a protocol other than HTTP/1.0 and HTTP/1.1, a status code below 100 or not three
// digits (strconv.Atoi takes "+20"), or 101 Switching Protocols to a request that asked for
// no upgrade.
func stricter(data []byte, final *http.Response) bool {
	if final.StatusCode == 101 {
		return true
	}
	for _, line := range statusLines(data) {
		proto, status, _ := strings.Cut(line, " ")
		code, _, _ := strings.Cut(strings.TrimLeft(status, " "), " ")
		if proto != "HTTP/1.0" && proto != "HTTP/1.1" || code[0] < '1' || code[0] > '9' || !isDigit(code[1]) || !isDigit(code[2]) {
			return true
		}
	}
	return false
}

// statusLines returns the status lines of the answers net/http reads from data (interim
// ones, then the final one).
func statusLines(data []byte) []string {
	var lines []string
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		peeked, _ := br.Peek(4096) // what there is, up to the buffer's size
		if len(peeked) == 0 {
			return lines
		}
		line, _, _ := bytes.Cut(peeked, []byte{'\n'})
		lines = append(lines, strings.TrimSuffix(string(line), "\r"))
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode < 100 || resp.StatusCode == 101 {
			return lines
		}
	}
}

// TestReadResponseSeeds runs the fuzz seeds and checks the outcome of each.
func TestReadResponseSeeds(t *testing.T) {
	wantErr := map[int]error{10: ErrMalformed, 11: ErrMalformed, 13: ErrMalformed}
	for i, s := range responseSeeds {
		_, _, err := read([]byte(s), "POST")
		if !errors.Is(err, wantErr[i]) || (err == nil) != (wantErr[i] == nil) {
			t.Errorf("seed %d %q: err %v, want %v", i, s, err, wantErr[i])
		}
	}
}

// TestHTTP holds Response.HTTP to what net/http.ReadResponse makes of the same bytes.
func TestHTTP(t *testing.T) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-requestid: abc\r\nX-Multi: 1\r\nX-Multi: 2\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 400 Bad Request\r\nX-Amzn-ErrorType: ThrottlingException:http://x\r\n  folded\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 503  Slow Down  \r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n2\r\nab\r\n0\r\nX-Trailer: t\r\nX-Trailer: u\r\n\r\n",
		"HTTP/1.0 500\r\nDate: Wed, 25 Nov 2026 23:59:58 GMT\r\n\r\nto the end",
		"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
	} {
		r, _, err := read([]byte(s), "POST")
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want, wantBody, err := netHTTPRead([]byte(s), "POST")
		if err != nil {
			t.Fatal(err)
		}
		got := r.HTTP()
		gotBody, _ := io.ReadAll(got.Body)
		if got.Status != want.Status || got.StatusCode != want.StatusCode || got.Proto != want.Proto || got.ProtoMajor != want.ProtoMajor ||
			got.ProtoMinor != want.ProtoMinor || got.ContentLength != want.ContentLength || got.Close != want.Close ||
			!reflect.DeepEqual(got.TransferEncoding, want.TransferEncoding) {
			t.Errorf("%q:\n got %q %d %s %d.%d length %d close %v %v\nwant %q %d %s %d.%d length %d close %v %v", s,
				got.Status, got.StatusCode, got.Proto, got.ProtoMajor, got.ProtoMinor, got.ContentLength, got.Close, got.TransferEncoding,
				want.Status, want.StatusCode, want.Proto, want.ProtoMajor, want.ProtoMinor, want.ContentLength, want.Close, want.TransferEncoding)
		}
		if !reflect.DeepEqual(got.Header, want.Header) || !reflect.DeepEqual(got.Trailer, want.Trailer) {
			t.Errorf("%q:\n got %v trailer %v\nwant %v trailer %v", s, got.Header, got.Trailer, want.Header, want.Trailer)
		}
		if !bytes.Equal(gotBody, wantBody) {
			t.Errorf("%q: body %q, want %q", s, gotBody, wantBody)
		}
		// The body is a copy: the next answer read into r does not change it.
		before := string(gotBody)
		read([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nXXXXX"), "POST")
		if string(gotBody) != before {
			t.Errorf("HTTP's body changed with the next answer")
		}
	}
}

func TestGet(t *testing.T) {
	r, _, err := read([]byte("HTTP/1.1 200 OK\r\nDate:Wed, 25 Nov 2026 23:59:58 GMT \r\nX-A: 1\r\nx-a: 2\r\nX-Folded: a \r\n\t b\r\nX-Empty:\r\nX-AB: no\r\nContent-Length: 0\r\n\r\n"), "POST")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, want string
		present    bool
	}{
		{"Date", "Wed, 25 Nov 2026 23:59:58 GMT", true},
		{"date", "Wed, 25 Nov 2026 23:59:58 GMT", true},
		{"X-A", "1", true},
		{"X-Folded", "a b", true},
		{"X-Empty", "", true},
		{"X-Missing", "", false},
		{"X", "", false},
	} {
		v := r.Get(tt.name)
		if string(v) != tt.want || (v != nil) != tt.present {
			t.Errorf("Get(%q) = %q (nil %v), want %q", tt.name, v, v == nil, tt.want)
		}
	}
}
