package events

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

const chunkDir = "../testdata/flb-chunks"

// chunkNames lists every stored chunk (without extension).
var chunkNames = []string{
	"a_dummy_nested",
	"b_tail_access_1",
	"b_tail_access_2",
	"b_tail_app_json_1",
	"b_tail_app_json_2",
	"b_tail_app_truncated",
	"c_forward_message",
	"c_forward_forward",
	"c_forward_packed",
	"c_forward_groups",
	"d_dummy_metadata",
	"e_retry_delivery1",
	"e_retry_delivery2",
	"e_retry_delivery3",
}

// readMaybeGz reads base, or base+".gz" gunzipped.
func readMaybeGz(tb testing.TB, base string) []byte {
	tb.Helper()
	if b, err := os.ReadFile(base); err == nil {
		return b
	}
	f, err := os.Open(base + ".gz")
	if err != nil {
		tb.Fatalf("open %s(.gz): %v", base, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("gunzip %s.gz: %v", base, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("gunzip %s.gz: %v", base, err)
	}
	return b
}

var (
	cacheMu sync.Mutex
	chunks  = map[string][]byte{}
	descs   = map[string]*desc{}
)

// loadChunk returns the msgpack bytes of a stored chunk (cached; callers must not modify them).
func loadChunk(tb testing.TB, name string) []byte {
	tb.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if b, ok := chunks[name]; ok {
		return b
	}
	b := readMaybeGz(tb, filepath.Join(chunkDir, name+".msgpack"))
	chunks[name] = b
	return b
}

// desc is the .json description of a chunk.
type desc struct {
	Tag        string `json:"tag"`
	ChunkBytes int    `json:"chunk_bytes"`
	NumEvents  int    `json:"num_events"`
	Events     []struct {
		Offset    int    `json:"offset"`
		Length    int    `json:"length"`
		Format    string `json:"format"`
		Timestamp struct {
			Type        string `json:"type"`
			Seconds     int64  `json:"seconds"`
			Nanoseconds int64  `json:"nanoseconds"`
			GroupMarker string `json:"group_marker"`
		} `json:"timestamp"`
		Record json.RawMessage `json:"record"`
	} `json:"events"`
}

func loadDesc(tb testing.TB, name string) *desc {
	tb.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if d, ok := descs[name]; ok {
		return d
	}
	var d desc
	if err := json.Unmarshal(readMaybeGz(tb, filepath.Join(chunkDir, name+".json")), &d); err != nil {
		tb.Fatalf("%s.json: %v", name, err)
	}
	descs[name] = &d
	return &d
}

// obj is a JSON object decoded in order, duplicates kept.
type obj []kv

type kv struct {
	k string
	v any
}

// decodeOrdered decodes one JSON value keeping object key order and duplicates; numbers are
// json.Number. It fails on trailing data.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readOrdered(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after JSON value (%v)", err)
	}
	return v, nil
}

func readOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		o := obj{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			o = append(o, kv{kt.(string), v})
		}
		_, err = dec.Token()
		return o, err
	case '[':
		a := []any{}
		for dec.More() {
			v, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err = dec.Token()
		return a, err
	}
	return nil, fmt.Errorf("unexpected delimiter %v", d)
}

// fixUTF8 replaces each invalid byte with U+FFFD, as the JSON encoder does.
func fixUTF8(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[i : i+size])
		}
		i += size
	}
	return sb.String()
}

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// expected turns a value from a .json description into the value our JSON decodes to.
func expected(v any) any {
	switch t := v.(type) {
	case obj:
		if len(t) == 1 {
			switch t[0].k {
			case "$bin", "$str_base64":
				return fixUTF8(mustB64(t[0].v.(string)))
			case "$ext":
				e := t[0].v.(obj)
				var typ, data string
				for _, f := range e {
					switch f.k {
					case "type":
						typ = string(f.v.(json.Number))
					case "data":
						data = f.v.(string)
					}
				}
				if raw := mustB64(data); typ == "0" && len(raw) == 8 {
					return json.Number(fmt.Sprintf("%d.%09d", binary.BigEndian.Uint32(raw), binary.BigEndian.Uint32(raw[4:])))
				}
				return data
			case "$map":
				out := obj{}
				for _, pair := range t[0].v.([]any) {
					p := pair.([]any)
					out = append(out, kv{expectedKey(p[0]), expected(p[1])})
				}
				return out
			}
		}
		out := make(obj, len(t))
		for i, f := range t {
			out[i] = kv{f.k, expected(f.v)}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = expected(e)
		}
		return out
	}
	return v
}

func expectedKey(k any) string {
	switch t := k.(type) {
	case string:
		return t
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			f, _ := strconv.ParseFloat(string(t), 64)
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	case obj:
		return expected(t).(string) // {"$bin": ...}
	}
	panic(fmt.Sprintf("unexpected key %#v", k))
}

// replaceDotsIn replaces '.' in every object key.
func replaceDotsIn(v any, with string) any {
	switch t := v.(type) {
	case obj:
		out := make(obj, len(t))
		for i, f := range t {
			out[i] = kv{strings.ReplaceAll(f.k, ".", with), replaceDotsIn(f.v, with)}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = replaceDotsIn(e, with)
		}
		return out
	}
	return v
}

// sameJSON compares decoded values; numbers compare exactly as text, or as float64 when the
// texts differ (10.0 vs 10).
func sameJSON(got, want any, path string) error {
	switch w := want.(type) {
	case obj:
		g, ok := got.(obj)
		if !ok {
			return fmt.Errorf("%s: got %T, want object", path, got)
		}
		if len(g) != len(w) {
			return fmt.Errorf("%s: got %d keys, want %d (%v vs %v)", path, len(g), len(w), keysOf(g), keysOf(w))
		}
		for i := range w {
			if g[i].k != w[i].k {
				return fmt.Errorf("%s: key %d is %q, want %q", path, i, g[i].k, w[i].k)
			}
			if err := sameJSON(g[i].v, w[i].v, path+"."+w[i].k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: got %#v, want %#v", path, got, want)
		}
		for i := range w {
			if err := sameJSON(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			return fmt.Errorf("%s: got %#v, want number %s", path, got, w)
		}
		if g == w {
			return nil
		}
		gf, err1 := strconv.ParseFloat(string(g), 64)
		wf, err2 := strconv.ParseFloat(string(w), 64)
		if err1 != nil || err2 != nil || gf != wf || !strings.ContainsAny(string(w), ".eE") {
			return fmt.Errorf("%s: got number %s, want %s", path, g, w)
		}
		return nil
	}
	if got != want {
		return fmt.Errorf("%s: got %#v, want %#v", path, got, want)
	}
	return nil
}

func keysOf(o obj) []string {
	ks := make([]string, len(o))
	for i, f := range o {
		ks[i] = f.k
	}
	return ks
}

// mp builds msgpack by hand for synthetic tests.
type mp []byte

func (m mp) arr(n int) mp {
	switch {
	case n < 16:
		return append(m, 0x90|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(m, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(m, 0xdd), uint32(n))
}

func (m mp) mapH(n int) mp {
	switch {
	case n < 16:
		return append(m, 0x80|byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(m, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(m, 0xdf), uint32(n))
}

func (m mp) str(s string) mp {
	n := len(s)
	switch {
	case n < 32:
		m = append(m, 0xa0|byte(n))
	case n < 256:
		m = append(m, 0xd9, byte(n))
	case n < 1<<16:
		m = binary.BigEndian.AppendUint16(append(m, 0xda), uint16(n))
	default:
		m = binary.BigEndian.AppendUint32(append(m, 0xdb), uint32(n))
	}
	return append(m, s...)
}

func (m mp) bin(s string) mp {
	n := len(s)
	switch {
	case n < 256:
		m = append(m, 0xc4, byte(n))
	case n < 1<<16:
		m = binary.BigEndian.AppendUint16(append(m, 0xc5), uint16(n))
	default:
		m = binary.BigEndian.AppendUint32(append(m, 0xc6), uint32(n))
	}
	return append(m, s...)
}

func (m mp) uint(u uint64) mp {
	switch {
	case u < 128:
		return append(m, byte(u))
	case u < 256:
		return append(m, 0xcc, byte(u))
	case u < 1<<16:
		return binary.BigEndian.AppendUint16(append(m, 0xcd), uint16(u))
	case u < 1<<32:
		return binary.BigEndian.AppendUint32(append(m, 0xce), uint32(u))
	}
	return binary.BigEndian.AppendUint64(append(m, 0xcf), u)
}

func (m mp) int(i int64) mp {
	switch {
	case i >= 0:
		return m.uint(uint64(i))
	case i >= -32:
		return append(m, byte(int8(i)))
	case i >= math.MinInt8:
		return append(m, 0xd0, byte(int8(i)))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(m, 0xd1), uint16(int16(i)))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(m, 0xd2), uint32(int32(i)))
	}
	return binary.BigEndian.AppendUint64(append(m, 0xd3), uint64(i))
}

func (m mp) f64(f float64) mp {
	return binary.BigEndian.AppendUint64(append(m, 0xcb), math.Float64bits(f))
}

func (m mp) f32(f float32) mp {
	return binary.BigEndian.AppendUint32(append(m, 0xca), math.Float32bits(f))
}

func (m mp) nil() mp { return append(m, 0xc0) }

func (m mp) bool(b bool) mp {
	if b {
		return append(m, 0xc3)
	}
	return append(m, 0xc2)
}

func (m mp) ext(typ int8, data string) mp {
	switch len(data) {
	case 1, 2, 4, 8, 16:
		code := map[int]byte{1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8}[len(data)]
		m = append(m, code, byte(typ))
	default:
		m = append(m, 0xc7, byte(len(data)), byte(typ))
	}
	return append(m, data...)
}

func (m mp) eventTime(sec, ns uint32) mp {
	m = append(m, 0xd7, 0x00)
	m = binary.BigEndian.AppendUint32(m, sec)
	return binary.BigEndian.AppendUint32(m, ns)
}

// raw appends pre-encoded msgpack.
func (m mp) raw(b []byte) mp { return append(m, b...) }

// v2 appends a v2 event [[EventTime, {}], record] whose record is pre-encoded.
func (m mp) v2(sec, ns uint32, record mp) mp {
	return m.arr(2).arr(2).eventTime(sec, ns).mapH(0).raw(record)
}
