package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
)

// Errors that Do wraps when an answer cannot be used; test them with errors.Is.
var (
	// ErrMalformed: the answer does not follow HTTP/1.1 (status line, header, chunk framing).
	ErrMalformed = errors.New("h1: malformed response")
	// ErrTooLarge: the answer's body or header block is over its limit.
	ErrTooLarge = errors.New("h1: response too large")
)

const (
	// maxHeaderBytes bounds a status line and header block (and a trailer block), like
	// net/http's default MaxResponseHeaderBytes.
	maxHeaderBytes = 1 << 20
	// max1xx is how many interim (1xx) answers may precede the final one, as in net/http.
	max1xx = 5
	// maxChunkLine bounds a chunk-size line, as in net/http.
	maxChunkLine = 4096
)

// Response is an answer read by Client.Do. Its buffers are kept and reused by the next Do
// that reads into the same Response: Body and the values Get returns stay valid until then.
// The zero value is ready to use.
type Response struct {
	// StatusCode is the final status (interim 1xx answers are skipped).
	StatusCode int
	// Body is the whole body, already read (empty for HEAD, 1xx, 204 and 304).
	Body []byte

	minor     int    // HTTP/1.minor
	raw       []byte // status line, header lines, trailer lines; each ends with '\n', no CR
	hdrStart  int    // offset of the first header line in raw
	trlStart  int    // offset of the first trailer line in raw (= len(raw) without trailers)
	length    int64  // declared Content-Length, or -1 (chunked, read to EOF)
	chunked   bool
	keepAlive bool
}

// Get returns the value of the first header field called name (case does not matter), with
// surrounding blanks removed, or nil when there is none. The value is valid until r is reused.
func (r *Response) Get(name string) []byte {
	v, _ := lookup(r.raw[r.hdrStart:r.trlStart], name)
	return v
}

// lookup finds the first field called name among block's lines.
func lookup(block []byte, name string) ([]byte, bool) {
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		line := block[:i]
		block = block[i+1:]
		if len(line) > len(name) && line[len(name)] == ':' && equalFold(line[:len(name)], name) {
			return trimBlanks(line[len(name)+1:]), true
		}
	}
	return nil, false
}

// HTTP returns the answer as a net/http response, for code that wants one (error paths): the
// status line's parts, every header field, trailers, and a body reader over a copy of Body.
// It allocates; Request is nil.
func (r *Response) HTTP() *http.Response {
	if r.hdrStart == 0 { // nothing read into r
		return &http.Response{StatusCode: r.StatusCode, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Body: http.NoBody}
	}
	line := r.raw[:r.hdrStart-1]
	_, status, _ := bytes.Cut(line, []byte{' '})
	hr := &http.Response{
		Status:        string(bytes.TrimLeft(status, " ")),
		StatusCode:    r.StatusCode,
		Proto:         "HTTP/1." + strconv.Itoa(r.minor),
		ProtoMajor:    1,
		ProtoMinor:    r.minor,
		Header:        fields(r.raw[r.hdrStart:r.trlStart]),
		Body:          io.NopCloser(bytes.NewReader(bytes.Clone(r.Body))),
		ContentLength: r.length,
		Close:         !r.keepAlive,
	}
	// What net/http's reader removes.
	hr.Header.Del("Transfer-Encoding")
	if cl := hr.Header["Content-Length"]; len(cl) > 1 {
		hr.Header["Content-Length"] = cl[:1] // all equal, or the answer was refused
	}
	if r.minor == 1 {
		for _, v := range hr.Header["Connection"] {
			if hasToken([]byte(v), "close") {
				hr.Header.Del("Connection")
				break
			}
		}
	}
	if r.chunked {
		hr.TransferEncoding = []string{"chunked"}
		hr.Header.Del("Content-Length")
	}
	if r.trlStart < len(r.raw) {
		hr.Trailer = fields(r.raw[r.trlStart:])
	}
	return hr
}

// fields parses block's lines into an http.Header.
func fields(block []byte) http.Header {
	h := make(http.Header)
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		name, value, _ := bytes.Cut(block[:i], []byte{':'})
		block = block[i+1:]
		key := textproto.CanonicalMIMEHeaderKey(string(name))
		h[key] = append(h[key], string(trimBlanks(value)))
	}
	return h
}

// reader reads one answer into a Response.
type reader struct {
	br      *bufio.Reader
	r       *Response
	head    bool // the request was HEAD: no body
	maxBody int
}

// readResponse reads the final answer from br into r, skipping interim answers. keepAlive
// says whether the connection may carry another request. An answer that ends before its first
// byte is io.EOF, one that ends early io.ErrUnexpectedEOF.
func readResponse(br *bufio.Reader, r *Response, head bool, maxBody int) (keepAlive bool, err error) {
	rd := reader{br: br, r: r, head: head, maxBody: maxBody}
	r.Body = r.Body[:0]
	for n := 0; ; n++ {
		if err := rd.readHead(n == 0); err != nil {
			return false, err
		}
		if r.StatusCode >= 200 {
			break
		}
		if r.StatusCode == http.StatusSwitchingProtocols {
			return false, fmt.Errorf("%w: 101 Switching Protocols to a request that asked for no upgrade", ErrMalformed)
		}
		if n == max1xx {
			return false, fmt.Errorf("%w: more than %d interim (1xx) answers", ErrMalformed, max1xx)
		}
	}
	if err := rd.readBody(); err != nil {
		return false, err
	}
	return r.keepAlive, nil
}

// readHead reads a status line and header block and works out how the body is framed.
func (rd *reader) readHead(first bool) error {
	r := rd.r
	r.raw = r.raw[:0]
	line, err := rd.line()
	if err != nil {
		if err == io.EOF && !first {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := r.parseStatus(line); err != nil {
		return err
	}
	r.hdrStart = len(r.raw)
	if err := rd.fieldBlock(); err != nil {
		return err
	}
	r.trlStart = len(r.raw)
	return r.framing(rd.head)
}

// parseStatus parses "HTTP/1.x SP 3DIGIT [SP reason]".
func (r *Response) parseStatus(line []byte) error {
	proto, status, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return fmt.Errorf("%w: status line %q", ErrMalformed, clip(line))
	}
	switch string(proto) {
	case "HTTP/1.1":
		r.minor = 1
	case "HTTP/1.0":
		r.minor = 0
	default:
		return fmt.Errorf("%w: protocol %q in status line, want HTTP/1.0 or HTTP/1.1", ErrMalformed, clip(proto))
	}
	status = bytes.TrimLeft(status, " ")
	code, _, _ := bytes.Cut(status, []byte{' '})
	if len(code) != 3 || code[0] < '1' || code[0] > '9' || !isDigit(code[1]) || !isDigit(code[2]) {
		return fmt.Errorf("%w: status code %q", ErrMalformed, clip(code))
	}
	r.StatusCode = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	return nil
}

// fieldBlock reads header (or trailer) lines up to the empty line, folding continuation lines
// into the field before them, and checks each field's name and value.
func (rd *reader) fieldBlock() error {
	r := rd.r
	start := len(r.raw)
	for {
		lineStart := len(r.raw)
		line, err := rd.line()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) == 0 {
			r.raw = r.raw[:lineStart] // the empty line is not kept
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if lineStart == start {
				return fmt.Errorf("%w: header block starts with a continuation line %q", ErrMalformed, clip(line))
			}
			// Obsolete line folding: the field goes on with one space and this line's text,
			// as net/http joins it.
			prev := bytes.LastIndexByte(r.raw[:lineStart-1], '\n') + 1
			end := prev + len(bytes.TrimRight(r.raw[prev:lineStart-1], " \t"))
			t := trimBlanks(line) // after end: the copy moves it down
			r.raw[end] = ' '
			end += 1 + copy(r.raw[end+1:], t)
			r.raw = append(r.raw[:end], '\n')
			if err := checkField(r.raw[prev : len(r.raw)-1]); err != nil {
				return err
			}
			continue
		}
		if err := checkField(line); err != nil {
			return err
		}
	}
}

// checkField checks one "name: value" line: a non-empty name of token characters (net/http
// also accepts spaces, and so does this), and a value without control characters.
func checkField(line []byte) error {
	name, value, ok := bytes.Cut(line, []byte{':'})
	if !ok || len(name) == 0 {
		return fmt.Errorf("%w: header line %q", ErrMalformed, clip(line))
	}
	for _, c := range name {
		if !isTokenByte(c) && c != ' ' {
			return fmt.Errorf("%w: header line %q: invalid name", ErrMalformed, clip(line))
		}
	}
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("%w: header line %q: control character in value", ErrMalformed, clip(line))
		}
	}
	return nil
}

// framing works out from the header how the body is delimited and whether the connection
// stays open, as net/http's readTransfer does.
func (r *Response) framing(head bool) error {
	hdr := r.raw[r.hdrStart:r.trlStart]
	r.chunked, r.length = false, -1
	var (
		cl       []byte
		haveCL   bool
		teCount  int
		te       []byte
		conClose bool
		conKeep  bool
	)
	for block := hdr; len(block) > 0; {
		i := bytes.IndexByte(block, '\n')
		line := block[:i]
		block = block[i+1:]
		name, value, _ := bytes.Cut(line, []byte{':'})
		value = trimBlanks(value)
		switch {
		case equalFold(name, "Content-Length"):
			if haveCL && !bytes.Equal(cl, value) {
				return fmt.Errorf("%w: Content-Length %q and %q", ErrMalformed, clip(cl), clip(value))
			}
			cl, haveCL = value, true
		case equalFold(name, "Transfer-Encoding"):
			teCount++
			te = value
		case equalFold(name, "Connection"):
			conClose = conClose || hasToken(value, "close")
			conKeep = conKeep || hasToken(value, "keep-alive")
		}
	}
	if r.minor == 0 {
		r.keepAlive = conKeep && !conClose
		teCount = 0 // HTTP/1.0 has no transfer codings; net/http ignores the field
	} else {
		r.keepAlive = !conClose
	}
	if teCount > 1 {
		return fmt.Errorf("%w: %d Transfer-Encoding fields", ErrMalformed, teCount)
	}
	if teCount == 1 {
		if !equalFold(te, "chunked") {
			return fmt.Errorf("%w: unsupported Transfer-Encoding %q", ErrMalformed, clip(te))
		}
		r.chunked = true
	}
	declared := int64(-1)
	if haveCL {
		n, ok := parseLength(cl)
		if !ok {
			return fmt.Errorf("%w: Content-Length %q", ErrMalformed, clip(cl))
		}
		declared = n
	}
	switch {
	case head: // no body follows, whatever the header says
		r.chunked, r.length = false, declared
	case noBody(r.StatusCode):
		r.chunked, r.length = false, 0
	case r.chunked:
		r.length = -1
	default:
		r.length = declared
		if declared < 0 {
			r.keepAlive = false // the body runs to the end of the connection
		}
	}
	return nil
}

// noBody reports whether an answer with status code never has a body.
func noBody(code int) bool {
	return code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
}

// readBody reads the body framed as readHead found.
func (rd *reader) readBody() error {
	r := rd.r
	switch {
	case rd.head || noBody(r.StatusCode):
		return nil
	case r.chunked:
		return rd.chunkedBody()
	case r.length >= 0:
		if r.length > int64(rd.maxBody) {
			return fmt.Errorf("%w: Content-Length %d over the %d-byte limit", ErrTooLarge, r.length, rd.maxBody)
		}
		n := int(r.length)
		r.Body = grow(r.Body, n)[:n]
		if _, err := io.ReadFull(rd.br, r.Body); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		return nil
	}
	// Delimited by the end of the connection.
	for {
		if len(r.Body) == cap(r.Body) {
			r.Body = grow(r.Body, 4096)
		}
		n, err := rd.br.Read(r.Body[len(r.Body):cap(r.Body)])
		r.Body = r.Body[:len(r.Body)+n]
		if len(r.Body) > rd.maxBody {
			return fmt.Errorf("%w: body over the %d-byte limit", ErrTooLarge, rd.maxBody)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// chunkedBody reads chunks and the trailer that ends them.
func (rd *reader) chunkedBody() error {
	r := rd.r
	for {
		line, err := rd.br.ReadSlice('\n')
		switch {
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		case err == bufio.ErrBufferFull || len(line) > maxChunkLine:
			return fmt.Errorf("%w: chunk-size line over %d bytes", ErrMalformed, maxChunkLine)
		case err != nil:
			return err
		}
		if i := bytes.IndexByte(line, '\r'); i < 0 || i != len(line)-2 {
			return fmt.Errorf("%w: chunk-size line %q does not end in CRLF", ErrMalformed, clip(line))
		}
		size := bytes.TrimRight(line[:len(line)-2], " \t")
		size, _, _ = bytes.Cut(size, []byte{';'}) // extensions are ignored
		n, ok := parseHex(size)
		if !ok {
			return fmt.Errorf("%w: chunk size %q", ErrMalformed, clip(size))
		}
		if n == 0 {
			break
		}
		if n > uint64(rd.maxBody-len(r.Body)) {
			return fmt.Errorf("%w: chunked body over the %d-byte limit", ErrTooLarge, rd.maxBody)
		}
		at := len(r.Body)
		r.Body = grow(r.Body, int(n))[:at+int(n)]
		if _, err := io.ReadFull(rd.br, r.Body[at:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		crlf, err := rd.br.Peek(2)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if crlf[0] != '\r' || crlf[1] != '\n' {
			return fmt.Errorf("%w: chunk of %d bytes not followed by CRLF", ErrMalformed, n)
		}
		rd.br.Discard(2)
	}
	// Trailer fields, then the empty line.
	return rd.fieldBlock()
}

// line reads the next line into r.raw, stored without its CRLF (or LF) and followed by '\n',
// and returns it. An input that ends before the line does is io.EOF when nothing was read,
// io.ErrUnexpectedEOF otherwise.
func (rd *reader) line() ([]byte, error) {
	r := rd.r
	start := len(r.raw)
	for {
		frag, err := rd.br.ReadSlice('\n')
		if len(r.raw)+len(frag) > maxHeaderBytes {
			return nil, fmt.Errorf("%w: header block over %d bytes", ErrTooLarge, maxHeaderBytes)
		}
		r.raw = append(r.raw, frag...)
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(r.raw) > start {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	end := len(r.raw) - 1
	if end > start && r.raw[end-1] == '\r' {
		end--
	}
	r.raw = append(r.raw[:end], '\n')
	return r.raw[start:end], nil
}

// grow makes room for n more bytes after len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	return append(b, make([]byte, n)...)[:len(b)]
}

// parseLength parses a Content-Length: decimal digits, at most 2^63-1.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// parseHex parses a chunk size: 1 to 16 hex digits.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	return n, true
}

// hasToken reports whether the comma-separated list v holds token (case does not matter).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var item []byte
		item, v, _ = bytes.Cut(v, []byte{','})
		if equalFold(trimBlanks(item), token) {
			return true
		}
	}
	return false
}

// equalFold compares an ASCII name with a lower- or mixed-case literal, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// trimBlanks removes spaces and tabs at both ends; an all-blank b gives an empty, non-nil slice.
func trimBlanks(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isTokenByte reports whether c may appear in a header field name (RFC 9110 tchar).
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// clip shortens what an error quotes.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
