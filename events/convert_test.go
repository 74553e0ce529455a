package events

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/strftime"
)

// stdJSONString is encoding/json's encoding of s with HTML escaping off.
func stdJSONString(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// convertOne converts a chunk holding one v2 event with the given record.
func convertOne(t *testing.T, o Options, record mp) *Batch {
	t.Helper()
	c, err := NewConverter(o)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	c.Convert(mp{}.v2(1795627875, 5, record), "", &b)
	if b.Malformed != nil || b.Events != 1 {
		t.Fatalf("events %d malformed %v", b.Events, b.Malformed)
	}
	return &b
}

func TestJSONValues(t *testing.T) {
	const tricky = "a\"b\\c/\n\r\t\b\f\x00\x1f\x7f</>&\u2028\u2029é日🙂"
	rec := mp{}.mapH(27).
		str("u64max").uint(math.MaxUint64).
		str("i64min").int(math.MinInt64).
		str("neg").int(-5).
		str("i16").int(-300).
		str("f32").f32(0.1).
		str("f64").f64(0.1).
		str("big").f64(1e21).
		str("small").f64(1e-7).
		str("nan").f64(math.NaN()).
		str("inf").f32(float32(math.Inf(1))).
		str("negzero").f64(math.Copysign(0, -1)).
		str("integral").f64(10).
		str("s").str(tricky).
		str("bad").str("ok\xff\xfe!\xe6\x97").
		str("bin").bin("\x00\x01\xfe\xffA").
		str("ext7").ext(7, "\xde\xad\xbe\xef").
		str("et").eventTime(1795627875, 5).
		str("ext0odd").ext(0, "abc").
		str("t").bool(true).
		str("f").bool(false).
		str("n").nil().
		str("ea").arr(0).
		str("em").mapH(0).
		str("arr").arr(3).uint(1).str("x").arr(1).mapH(0).
		str("keys").mapH(10).
		/**/ int(-2).uint(1).
		/**/ uint(7).uint(2).
		/**/ bool(true).uint(3).
		/**/ nil().uint(4).
		/**/ f32(1.5).uint(5).
		/**/ bin("bk").uint(6).
		/**/ arr(2).uint(1).str("x").uint(7).
		/**/ f64(math.NaN()).uint(8).
		/**/ eventTime(1, 2).uint(9).
		/**/ ext(5, "\x01").uint(10).
		str("dup").uint(1).
		str("dup").uint(2)
	want := `{"u64max":18446744073709551615,"i64min":-9223372036854775808,"neg":-5,"i16":-300,` +
		`"f32":0.1,"f64":0.1,"big":1e+21,"small":1e-7,"nan":null,"inf":null,"negzero":-0,"integral":10,` +
		`"s":` + stdJSONString(tricky) + `,"bad":"ok\ufffd\ufffd!\ufffd\ufffd","bin":"\u0000\u0001\ufffd\ufffdA",` +
		`"ext7":"3q2+7w==","et":1795627875.000000005,"ext0odd":"YWJj","t":true,"f":false,"n":null,` +
		`"ea":[],"em":{},"arr":[1,"x",[{}]],` +
		`"keys":{"-2":1,"7":2,"true":3,"null":4,"1.5":5,"bk":6,"kgGheA==":7,"NaN":8,"1.000000002":9,"AQ==":10},` +
		`"dup":1,"dup":2}`
	b := convertOne(t, Options{}, rec)
	if got := string(b.Records[0].Data); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !json.Valid(b.Records[0].Data) {
		t.Error("output is not valid JSON")
	}
}

func TestWideEncodings(t *testing.T) {
	// Every length-prefixed form, with small payloads.
	rec := mp{}.raw([]byte{0xde, 0x00, 0x0a}). // map16 of 10
							raw([]byte{0xda, 0x00, 0x01, 'a'}).raw([]byte{0xdb, 0, 0, 0, 2, 'h', 'i'}).
							raw([]byte{0xd9, 0x01, 'b'}).raw([]byte{0xdc, 0x00, 0x02, 0xcc, 0x05, 0xcd, 0x01, 0x00}).
							raw([]byte{0xa1, 'c'}).raw([]byte{0xdd, 0, 0, 0, 2, 0xce, 0, 1, 0, 0, 0xcf, 0, 0, 0, 0, 0, 0, 0, 9}).
							raw([]byte{0xa1, 'd'}).raw([]byte{0xdf, 0, 0, 0, 1, 0xa1, 'k', 0xd0, 0x05}).
							raw([]byte{0xa1, 'e'}).raw([]byte{0xc5, 0, 1, 'x'}).
							raw([]byte{0xa1, 'f'}).raw([]byte{0xc6, 0, 0, 0, 1, 'y'}).
							raw([]byte{0xa1, 'g'}).raw([]byte{0xc8, 0, 1, 7, 0xff}).
							raw([]byte{0xa1, 'h'}).raw([]byte{0xc9, 0, 0, 0, 1, 7, 0xff}).
							raw([]byte{0xa1, 'i'}).raw([]byte{0x91, 0xd1, 0x7f, 0xff}). // int16 positive
							raw([]byte{0xa1, 'j'}).raw([]byte{0x92, 0xd2, 0x80, 0, 0, 0, 0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	want := `{"a":"hi","b":[5,256],"c":[65536,9],"d":{"k":5},"e":"x","f":"y","g":"/w==","h":"/w==",` +
		`"i":[32767],"j":[-2147483648,9223372036854775807]}`
	b := convertOne(t, Options{}, rec)
	if got := string(b.Records[0].Data); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", " ", "\"", "\\", "\n", "\x00", "\x1f", "\x7f", "é", "日", "🙂", "\u2028",
		"\u2029", "\xff", "\xe6\x97", "\xed\xa0\x80", "\xf4\x90\x80\x80", "<", "&", "abcdefgh"}
	for i := 0; i < 5000; i++ {
		var sb strings.Builder
		for n := r.IntN(40); n > 0; n-- {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := sb.String()
		if got, want := string(appendString(nil, []byte(s))), stdJSONString(s); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func TestPartitionKeyRules(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct {
		name   string
		value  mp // nil: the field is missing
		want   string
		random bool
	}{
		{"str", mp{}.str("abc"), "abc", false},
		{"bin", mp{}.bin("b\x00c"), "b\x00c", false},
		{"invalid utf8", mp{}.str("ok\xff\xfe"), "ok\uFFFD\uFFFD", false},
		{"uint", mp{}.uint(42), "42", false},
		{"int", mp{}.int(-7), "-7", false},
		{"uint64 max", mp{}.uint(math.MaxUint64), "18446744073709551615", false},
		{"float64", mp{}.f64(3.5), "3.5", false},
		{"float32", mp{}.f32(0.1), "0.1", false},
		{"float big", mp{}.f64(1e21), "1e+21", false},
		{"true", mp{}.bool(true), "true", false},
		{"false", mp{}.bool(false), "false", false},
		{"long ascii", mp{}.str(long), long[:256], false},
		{"emoji at the limit", mp{}.str(long[:255] + "🙂"), long[:255], false},
		{"emoji fits", mp{}.str(long[:254] + "🙂b"), long[:254] + "🙂", false},
		{"two-byte chars", mp{}.str(strings.Repeat("é", 300)), strings.Repeat("é", 256), false},
		{"long invalid", mp{}.str(strings.Repeat("\xff", 300)), strings.Repeat("\uFFFD", 256), false},
		{"missing", nil, "", true},
		{"nil", mp{}.nil(), "", true},
		{"empty", mp{}.str(""), "", true},
		{"empty bin", mp{}.bin(""), "", true},
		{"map", mp{}.mapH(1).str("a").uint(1), "", true},
		{"array", mp{}.arr(1).uint(1), "", true},
		{"ext", mp{}.ext(7, "\x01"), "", true},
		{"NaN", mp{}.f64(math.NaN()), "", true},
		{"Inf", mp{}.f32(float32(math.Inf(-1))), "", true},
	}
	for _, tt := range tests {
		rec := mp{}.mapH(2).str("other").str("x")
		if tt.value == nil {
			rec = rec.str("not_pk").uint(1)
		} else {
			rec = rec.str("pk").raw(tt.value)
		}
		b := convertOne(t, Options{PartitionKey: []string{"pk"}}, rec)
		r := b.Records[0]
		if tt.random {
			if !randomKeyRE.MatchString(r.PartitionKey) || b.RandomKeys != 1 {
				t.Errorf("%s: key %q, RandomKeys %d; want a random key", tt.name, r.PartitionKey, b.RandomKeys)
			}
		} else if r.PartitionKey != tt.want || b.RandomKeys != 0 {
			t.Errorf("%s: key %q (RandomKeys %d), want %q", tt.name, r.PartitionKey, b.RandomKeys, tt.want)
		}
		if r.Hash != hashkey.FromPartitionKey(r.PartitionKey) {
			t.Errorf("%s: hash is not MD5 of the key", tt.name)
		}
		if n := len(utf16.Encode([]rune(r.PartitionKey))); n > 256 || !utf8.ValidString(r.PartitionKey) {
			t.Errorf("%s: key has %d UTF-16 units or invalid UTF-8", tt.name, n)
		}
	}
	// Duplicates: the last wins; bin keys match too.
	b := convertOne(t, Options{PartitionKey: []string{"pk"}}, mp{}.mapH(3).str("pk").str("first").bin("pk").str("second").str("z").nil())
	if b.Records[0].PartitionKey != "second" {
		t.Errorf("duplicate key: got %q, want second", b.Records[0].PartitionKey)
	}
	b = convertOne(t, Options{PartitionKey: []string{"a", "pk"}}, mp{}.mapH(2).str("a").mapH(2).str("pk").str("one").str("pk").str("two").str("a").str("later"))
	if b.RandomKeys != 1 {
		t.Errorf("a later non-map duplicate should win and make the key random, got %q", b.Records[0].PartitionKey)
	}
}

func TestExplicitHashKey(t *testing.T) {
	pkHash := hashkey.FromPartitionKey("p")
	tests := []struct {
		name  string
		value mp // nil: missing
		want  string
		bad   bool
	}{
		{"zero", mp{}.str("0"), "0", false},
		{"max", mp{}.str(hashkey.Max.String()), hashkey.Max.String(), false},
		{"bin", mp{}.bin("42"), "42", false},
		{"uint", mp{}.uint(12345), "12345", false},
		{"uint64 max", mp{}.uint(math.MaxUint64), "18446744073709551615", false},
		{"positive int8", mp{}.raw([]byte{0xd0, 5}), "5", false},
		{"missing", nil, "", false},
		{"nil", mp{}.nil(), "", false},
		{"above max", mp{}.str("340282366920938463463374607431768211456"), "", true},
		{"leading zero", mp{}.str("007"), "", true},
		{"empty", mp{}.str(""), "", true},
		{"not digits", mp{}.str("12a"), "", true},
		{"space", mp{}.str(" 1"), "", true},
		{"too long", mp{}.str(strings.Repeat("1", 40)), "", true},
		{"negative", mp{}.int(-1), "", true},
		{"float", mp{}.f64(1), "", true},
		{"bool", mp{}.bool(true), "", true},
		{"map", mp{}.mapH(0), "", true},
	}
	for _, tt := range tests {
		rec := mp{}.mapH(2).str("pk").str("p")
		if tt.value == nil {
			rec = rec.str("other").uint(1)
		} else {
			rec = rec.str("h").raw(tt.value)
		}
		b := convertOne(t, Options{PartitionKey: []string{"pk"}, ExplicitHashKey: []string{"h"}}, rec)
		r := b.Records[0]
		wantHash := pkHash
		if tt.want != "" {
			wantHash, _ = hashkey.ParseDecimal(tt.want)
		}
		wantBad := 0
		if tt.bad {
			wantBad = 1
		}
		if r.ExplicitHashKey != tt.want || r.Hash != wantHash || b.BadHashKeys != wantBad || r.PartitionKey != "p" {
			t.Errorf("%s: ehk %q hash %v bad %d, want %q %v %d", tt.name, r.ExplicitHashKey, r.Hash, b.BadHashKeys, tt.want, wantHash, wantBad)
		}
	}
}

func TestTruncatedChunk(t *testing.T) {
	chunk := loadChunk(t, "b_tail_access_1")
	d := loadDesc(t, "b_tail_access_1")
	c, _ := NewConverter(Options{PartitionKey: []string{"log"}})
	evAt := func(k int) int { return d.Events[k].Offset }
	cuts := []int{1, 2, 3, 4, 20, evAt(3) + 10, evAt(100), evAt(100) + 1, evAt(5000) + d.Events[5000].Length - 1,
		len(chunk) - 1, len(chunk)}
	var b Batch
	for _, cut := range cuts {
		c.Convert(chunk[:cut], "", &b)
		// The event containing the last byte of the cut is damaged, unless the cut is on a boundary.
		k := 0
		for k+1 < len(d.Events) && d.Events[k+1].Offset < cut {
			k++
		}
		boundary := d.Events[k].Offset+d.Events[k].Length == cut
		if boundary {
			if b.Malformed != nil || len(b.Records) != k+1 || b.Events != k+1 {
				t.Errorf("cut %d (boundary after event %d): %d records, malformed %v", cut, k, len(b.Records), b.Malformed)
			}
			continue
		}
		m := b.Malformed
		if m == nil || m.Offset != d.Events[k].Offset || m.Event != k || !errors.Is(m.Err, ErrTruncated) || len(b.Records) != k || b.Events != k {
			t.Errorf("cut %d: malformed %v, %d records, %d events; want event %d at offset %d, %d records",
				cut, m, len(b.Records), b.Events, k, d.Events[k].Offset, k)
			continue
		}
		if want := fmt.Sprintf("events: malformed chunk: event %d at byte offset %d: unexpected end of chunk", k, d.Events[k].Offset); m.Error() != want {
			t.Errorf("Error() = %q, want %q", m.Error(), want)
		}
		for i, r := range b.Records {
			if r.Ref != i || !strings.HasPrefix(string(r.Data), `{"log":`) {
				t.Fatalf("cut %d: record %d: ref %d data %.40s", cut, i, r.Ref, r.Data)
			}
		}
	}
}

func TestMalformedAndRejected(t *testing.T) {
	good := mp{}.v2(1, 0, mp{}.mapH(1).str("ok").uint(1))
	deep := mp{}.mapH(1).str("a")
	for i := 0; i < 600; i++ {
		deep = deep.arr(1)
	}
	deep = deep.nil()
	deepKey := mp{}.mapH(1)
	for i := 0; i < 600; i++ {
		deepKey = deepKey.arr(1)
	}
	deepKey = deepKey.nil().uint(1)
	// A map key nested in a map key ... : must stay linear (it used to be escaped per level).
	keyInKey := mp{}.mapH(1)
	for i := 0; i < 400; i++ {
		keyInKey = keyInKey.mapH(1)
	}
	keyInKey = keyInKey.nil().nil()
	for i := 0; i < 400; i++ {
		keyInKey = keyInKey.nil()
	}
	tests := []struct {
		name      string
		event     mp
		malformed error  // nil: the event is rejected and the next one is decoded
		reason    string // rejection reason
	}{
		{"map instead of event", mp{}.mapH(1).str("a").uint(1), ErrNotEvent, ""},
		{"array of 3", mp{}.arr(3).uint(1).mapH(0).mapH(0), ErrNotEvent, ""},
		{"invalid byte", mp{}.raw([]byte{0xc1}), ErrInvalidByte, ""},
		{"invalid byte inside", mp{}.arr(2).uint(1).mapH(1).str("a").raw([]byte{0xc1}), ErrInvalidByte, ""},
		{"huge string", mp{}.arr(2).uint(1).mapH(1).str("a").raw([]byte{0xdb, 0xff, 0xff, 0xff, 0xff}), ErrTruncated, ""},
		{"huge array", mp{}.arr(2).uint(1).raw([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}), ErrTruncated, ""},
		{"huge map", mp{}.arr(2).uint(1).raw([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}), ErrTruncated, ""},
		{"str timestamp", mp{}.arr(2).arr(2).str("now").mapH(0).mapH(0), nil, "unsupported timestamp (msgpack type str)"},
		{"ext5 timestamp", mp{}.arr(2).arr(2).ext(5, "12345678").mapH(0).mapH(0), nil, "unsupported timestamp (msgpack type ext type 5)"},
		{"short eventtime", mp{}.arr(2).ext(0, "1234").mapH(0), nil, "unsupported timestamp (msgpack type ext type 0)"},
		{"header of 3", mp{}.arr(2).arr(3).eventTime(1, 0).mapH(0).nil().mapH(0), nil, "event header is an array of 3 elements, want [time, metadata]"},
		{"record is a string", mp{}.arr(2).uint(1).str("x"), nil, "record is not a map (msgpack type str)"},
		{"record is an array", mp{}.v2(1, 0, mp{}.arr(1).uint(1)), nil, "record is not a map (msgpack type array)"},
		{"record is nil", mp{}.arr(2).f64(1.5).nil(), nil, "record is not a map (msgpack type nil)"},
		{"deep record", mp{}.v2(1, 0, deep), nil, "record nested deeper than 500 levels"},
	}
	c, _ := NewConverter(Options{TimeKey: "t"})
	for _, tt := range tests {
		chunk := append(append(append(mp{}, good...), tt.event...), good...)
		var b Batch
		c.Convert(chunk, "", &b)
		if tt.malformed != nil {
			if b.Malformed == nil || !errors.Is(b.Malformed, tt.malformed) || b.Malformed.Offset != len(good) || b.Malformed.Event != 1 ||
				len(b.Records) != 1 || b.Events != 1 {
				t.Errorf("%s: malformed %v, records %d, events %d", tt.name, b.Malformed, len(b.Records), b.Events)
			}
			continue
		}
		if b.Malformed != nil || len(b.Records) != 2 || b.Records[1].Ref != 2 || len(b.Rejected) != 1 || b.Events != 3 {
			t.Errorf("%s: malformed %v, %d records, rejected %+v", tt.name, b.Malformed, len(b.Records), b.Rejected)
			continue
		}
		if rj := b.Rejected[0]; rj.Ref != 1 || rj.Reason != tt.reason || rj.Size != len(tt.event) {
			t.Errorf("%s: rejection %+v, want reason %q size %d", tt.name, rj, tt.reason, len(tt.event))
		}
	}
	// Container keys are written as base64 of their msgpack bytes: no recursion, linear size.
	for name, rec := range map[string]mp{"deep key": deepKey, "key in key": keyInKey} {
		b := convertOne(t, Options{}, rec)
		if len(b.Records) != 1 || len(b.Records[0].Data) > 4*len(rec) || !json.Valid(b.Records[0].Data) {
			t.Errorf("%s: %d records, rejected %v", name, len(b.Records), b.Rejected)
		}
	}
	// A marker's record need not be a map; it is skipped, not rejected.
	var b Batch
	chunk := mp{}.arr(2).arr(2).eventTime(0xFFFFFFFF, 0).mapH(0).str("x").raw(good)
	c.Convert(chunk, "", &b)
	if b.Markers != 1 || len(b.Records) != 1 || b.Records[0].Ref != 1 || len(b.Rejected) != 0 {
		t.Errorf("marker: markers %d records %d rejected %v", b.Markers, len(b.Records), b.Rejected)
	}
	// Empty chunk.
	c.Convert(nil, "", &b)
	if b.Events != 0 || b.Malformed != nil || len(b.Records) != 0 {
		t.Errorf("empty chunk: %+v", b)
	}
}

func TestCompressionRoundTrip(t *testing.T) {
	zdec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zdec.Close()
	// Reuse the readers: a fresh gzip/zlib reader per record allocates its whole window.
	var (
		gz *gzip.Reader
		zl io.ReadCloser
		rd bytes.Reader
	)
	decompress := map[string]func([]byte) ([]byte, error){
		"gzip": func(b []byte) ([]byte, error) {
			rd.Reset(b)
			if gz == nil {
				var err error
				if gz, err = gzip.NewReader(&rd); err != nil {
					return nil, err
				}
			} else if err := gz.Reset(&rd); err != nil {
				return nil, err
			}
			return io.ReadAll(gz)
		},
		"zlib": func(b []byte) ([]byte, error) {
			rd.Reset(b)
			if zl == nil {
				var err error
				if zl, err = zlib.NewReader(&rd); err != nil {
					return nil, err
				}
			} else if err := zl.(zlib.Resetter).Reset(&rd, nil); err != nil {
				return nil, err
			}
			return io.ReadAll(zl)
		},
		"zstd": func(b []byte) ([]byte, error) { return zdec.DecodeAll(b, nil) },
	}
	for _, name := range []string{"a_dummy_nested", "c_forward_message", "b_tail_app_json_2"} {
		chunk := loadChunk(t, name)
		plainC, _ := NewConverter(Options{AppendNewline: true, PartitionKey: []string{"level"}})
		var plain Batch
		plainC.Convert(chunk, "", &plain)
		for alg, dec := range decompress {
			c, err := NewConverter(Options{AppendNewline: true, PartitionKey: []string{"level"}, Compression: alg})
			if err != nil {
				t.Fatal(err)
			}
			var b Batch
			for round := 0; round < 2; round++ { // the second round reuses the compressors
				c.Convert(chunk, "", &b)
				if len(b.Records) != len(plain.Records) || len(b.Rejected) != 0 {
					t.Fatalf("%s %s: %d records, want %d", name, alg, len(b.Records), len(plain.Records))
				}
				for i, r := range b.Records {
					got, err := dec(r.Data)
					if err != nil {
						t.Fatalf("%s %s record %d: %v", name, alg, i, err)
					}
					p := plain.Records[i]
					random := randomKeyRE.MatchString(p.PartitionKey) // differs between batches
					if !bytes.Equal(got, p.Data) || r.Ref != p.Ref || !random && (r.PartitionKey != p.PartitionKey || r.Hash != p.Hash) {
						t.Fatalf("%s %s record %d: round trip differs", name, alg, i)
					}
				}
			}
		}
	}
	// The limit applies to the compressed size: the 1.5 MB record fits in 1 MiB once compressed.
	c, _ := NewConverter(Options{Compression: "zstd"})
	var b Batch
	c.Convert(loadChunk(t, "b_tail_app_json_1"), "", &b)
	if len(b.Rejected) != 0 || len(b.Records) != 4106 {
		t.Errorf("zstd: %d records, rejected %+v", len(b.Records), b.Rejected)
	}
}

func TestNewConverterErrors(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{Compression: "lz4"}, `events: compression "lz4": want none, gzip, zlib or zstd`},
		{Options{MaxRecordBytes: -1}, "events: max record bytes -1 is negative"},
	}
	for _, tt := range tests {
		if _, err := NewConverter(tt.o); err == nil || err.Error() != tt.want {
			t.Errorf("NewConverter(%+v) = %v, want %q", tt.o, err, tt.want)
		}
	}
	for _, alg := range []string{"", "none", "gzip", "zlib", "zstd"} {
		if _, err := NewConverter(Options{Compression: alg}); err != nil {
			t.Errorf("compression %q: %v", alg, err)
		}
	}
}

func TestBatchReuseAndLifetime(t *testing.T) {
	c, _ := NewConverter(Options{PartitionKey: []string{"level"}})
	var b1, b2 Batch
	c.Convert(loadChunk(t, "a_dummy_nested"), "", &b1)
	first := string(b1.Records[0].Data)
	c.Convert(loadChunk(t, "b_tail_app_json_2"), "", &b2)
	c.Convert(loadChunk(t, "c_forward_groups"), "", &b2)
	if string(b1.Records[0].Data) != first || b1.Records[0].PartitionKey != "info" {
		t.Error("converting into another batch changed this one")
	}
	if b2.Events != 4 || b2.Markers != 2 || len(b2.Records) != 2 {
		t.Errorf("reused batch not reset: events %d markers %d records %d", b2.Events, b2.Markers, len(b2.Records))
	}
	b1.Reset()
	if len(b1.Records) != 0 || b1.Events != 0 || b1.RandomKeys != 0 || b1.Malformed != nil {
		t.Error("Reset left state behind")
	}
	// Appending to a record's Data must not overwrite the next record.
	c.Convert(loadChunk(t, "a_dummy_nested"), "", &b1)
	second := string(b1.Records[1].Data)
	_ = append(b1.Records[0].Data, "clobber"...)
	if string(b1.Records[1].Data) != second {
		t.Error("Data has spare capacity shared with the next record")
	}
}

func TestConcurrentConverters(t *testing.T) {
	c, _ := NewConverter(Options{PartitionKey: []string{"logger"}, TimeKey: "t", ReplaceDots: "_", Compression: "zstd"})
	chunk := loadChunk(t, "b_tail_app_json_2")
	var ref Batch
	c.Convert(chunk, "", &ref)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			for round := 0; round < 2; round++ {
				c.Convert(chunk, "", &b)
				if len(b.Records) != len(ref.Records) {
					t.Errorf("%d records, want %d", len(b.Records), len(ref.Records))
					return
				}
				for i := range b.Records {
					random := randomKeyRE.MatchString(ref.Records[i].PartitionKey)
					if !bytes.Equal(b.Records[i].Data, ref.Records[i].Data) || !random && b.Records[i].PartitionKey != ref.Records[i].PartitionKey {
						t.Errorf("record %d differs", i)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestSteadyStateAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counting")
	}
	tests := []struct {
		chunk string
		o     Options
	}{
		{"b_tail_app_json_2", Options{PartitionKey: []string{"trace_id"}, TimeKey: "t", TimeFormat: strftime.MustCompile("%Y-%m-%dT%H:%M:%S.%LZ")}},
		{"b_tail_access_1", Options{LogKey: []string{"log"}, AppendNewline: true}},
		{"a_dummy_nested", Options{PartitionKey: []string{"kubernetes", "pod_name"}, ExplicitHashKey: []string{"n"}, ReplaceDots: "_"}},
		{"a_dummy_nested", Options{Compression: "zstd"}},
	}
	for _, tt := range tests {
		c, _ := NewConverter(tt.o)
		chunk := loadChunk(t, tt.chunk)
		var b Batch
		c.Convert(chunk, "", &b) // warm up the buffers
		allocs := testing.AllocsPerRun(5, func() { c.Convert(chunk, "", &b) })
		if per := allocs / float64(len(b.Records)); per > 0.1 {
			t.Errorf("%s %+v: %.3f allocations per record (%v per chunk)", tt.chunk, tt.o, per, allocs)
		}
	}
}

func TestHashCacheManyKeys(t *testing.T) {
	chunk := kubeChunk(1000)
	pk := []string{"kubernetes", "pod_name"}
	c, _ := NewConverter(Options{PartitionKey: pk})
	var b Batch
	c.Convert(chunk, "", &b)
	sizes := make([]int, 0, len(b.Records))
	for _, r := range b.Records {
		sizes = append(sizes, len(r.Data)+len(r.PartitionKey))
	}
	slices.Sort(sizes)
	// With a limit just below the median, many records are rejected, so cached entries must
	// survive the arena being rolled back for rejected records.
	limited, _ := NewConverter(Options{PartitionKey: pk, MaxRecordBytes: sizes[len(sizes)/2] - 1})
	for round := 0; round < 3; round++ {
		for _, conv := range []*Converter{c, limited} {
			conv.Convert(chunk, "", &b)
			if len(b.Records) == 0 || len(b.Records)+len(b.Rejected) != 1000 {
				t.Fatalf("%d records, %d rejected", len(b.Records), len(b.Rejected))
			}
			for _, r := range b.Records {
				if r.Hash != hashkey.FromPartitionKey(r.PartitionKey) || !strings.HasPrefix(r.PartitionKey, "checkout-") {
					t.Fatalf("record %d: key %q hash %v", r.Ref, r.PartitionKey, r.Hash)
				}
			}
		}
	}
	if len(b.Rejected) < 100 || len(b.Records) < 50 {
		t.Errorf("only %d rejected; the test wants a mix", len(b.Rejected))
	}
}

func TestOddTimestamps(t *testing.T) {
	c, _ := NewConverter(Options{TimeKey: "t", TimeFormat: strftime.MustCompile("%Y-%m-%dT%H:%M:%S.%L")})
	rec := mp{}.mapH(0)
	tests := []struct {
		ts   mp
		want string
	}{
		{mp{}.int(-1), `{"t":"1969-12-31T23:59:59.000"}`},
		{mp{}.f32(1.5), `{"t":"1970-01-01T00:00:01.500"}`},
		{mp{}.f64(-1.25), `{"t":"1969-12-31T23:59:58.750"}`},
		{mp{}.f64(math.NaN()), `{"t":"1970-01-01T00:00:00.000"}`},
		{mp{}.f64(math.Inf(1)), `{"t":"1970-01-01T00:00:00.000"}`},
		{mp{}.raw([]byte{0xc7, 8, 0}).raw([]byte{0x6b, 0x07, 0x1b, 0x63, 0x1d, 0xcd, 0x65, 0x00}), `{"t":"2026-11-25T17:31:15.500"}`}, // ext8 EventTime
		{mp{}.eventTime(1, 1_999_999_999), `{"t":"1970-01-01T00:00:02.999"}`},                                                         // nanoseconds overflow
		{mp{}.uint(math.MaxUint64), ""},                                                                                               // must not panic
	}
	for _, tt := range tests {
		var b Batch
		c.Convert(mp{}.arr(2).raw(tt.ts).raw(rec), "", &b)
		if len(b.Records) != 1 {
			t.Fatalf("%x: %d records, rejected %v", tt.ts, len(b.Records), b.Rejected)
		}
		if got := string(b.Records[0].Data); tt.want != "" && got != tt.want {
			t.Errorf("%x: got %s, want %s", tt.ts, got, tt.want)
		}
	}
}

// TestNestedKeyTrackingMatchesResolve checks that the partition key found while writing the JSON
// equals the one found by a separate scan (used when DataKeys drops the field or with LogKey).
func TestNestedKeyTrackingMatchesResolve(t *testing.T) {
	tests := []struct {
		path []string
		rec  mp
		want string // "" = random
	}{
		{[]string{"a", "b"}, mp{}.mapH(1).str("a").mapH(1).str("b").str("x"), "x"},
		{[]string{"a", "b"}, mp{}.mapH(1).str("a").mapH(2).str("b").str("x").str("b").str("y"), "y"},
		{[]string{"a", "b"}, mp{}.mapH(2).str("a").mapH(1).str("b").str("x").str("a").mapH(1).str("c").uint(1), ""},
		{[]string{"a", "b"}, mp{}.mapH(2).str("a").mapH(1).str("b").str("x").str("a").str("s"), ""},
		{[]string{"a", "b"}, mp{}.mapH(2).str("a").str("s").str("a").mapH(1).str("b").str("z"), "z"},
		{[]string{"a", "b", "c"}, mp{}.mapH(1).str("a").mapH(1).str("b").mapH(1).str("c").str("deep"), "deep"},
		{[]string{"a", "b", "c"}, mp{}.mapH(1).str("a").mapH(2).str("b").mapH(1).str("c").str("one").str("b").mapH(0), ""},
		{[]string{"a", "b"}, mp{}.mapH(1).str("a").mapH(2).uint(1).str("int key").str("b").uint(5), "5"},
		{[]string{"a", "b"}, mp{}.mapH(1).str("a").mapH(1).bin("b").str("binkey"), "binkey"},
		{[]string{"a", "b"}, mp{}.mapH(1).str("a").arr(1).mapH(1).str("b").uint(1), ""},
		{[]string{"a", "b"}, mp{}.mapH(1).str("a").raw([]byte{0xde, 0, 1}).raw([]byte{0xd9, 1, 'b'}).str("wide"), "wide"},
	}
	for i, tt := range tests {
		modes := []Options{
			{PartitionKey: tt.path},                               // tracked while writing
			{PartitionKey: tt.path, DataKeys: []string{"other"}},  // resolved afterwards
			{PartitionKey: tt.path, LogKey: []string{tt.path[0]}}, // scanned, then resolved
		}
		for m, o := range modes {
			b := convertOne(t, o, tt.rec)
			got := b.Records[0].PartitionKey
			if tt.want == "" {
				if b.RandomKeys != 1 {
					t.Errorf("case %d mode %d: key %q, want random", i, m, got)
				}
			} else if got != tt.want {
				t.Errorf("case %d mode %d: key %q, want %q", i, m, got, tt.want)
			}
		}
	}
}
