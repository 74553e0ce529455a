package fakekinesis

import (
	"encoding/json"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// FuzzPutRecords feeds arbitrary bodies to the PutRecords parser. It must never panic, must
// refuse what encoding/json finds invalid, and whatever it accepts must route each entry as a
// decoding with encoding/json says (same entries, same partition keys and hash keys).
func FuzzPutRecords(f *testing.F) {
	for _, s := range []string{
		`{"StreamName":"s","Records":[{"Data":"QQ==","PartitionKey":"k"}]}`,
		`{"Records":[{"Data":"QUJD","PartitionKey":"\u00e9","ExplicitHashKey":"42"},{"Data":"","PartitionKey":"x"}],"StreamARN":"arn:aws:kinesis:us-east-1:1:stream/s"}`,
		`{"StreamName":"s","Records":[{"Data":"QQ==","PartitionKey":"k","X":[1,-2.5e3,true,null,{"a":"b"}]}],"Records":[{"PartitionKey":"z","Data":"8w=="}]}`,
		`{"StreamName":"s","Records":[{"Data":"QQ==","PartitionKey":"k\"\\\/\b\f\n\r\t\ud834\udd1e"}]}`,
		`{"StreamName":"s","Records":[{"Data":null,"PartitionKey":"k"}]}`,
		`{"StreamName":"s","Records":[{"Data":"QQ==","PartitionKey":"\xff\xfe"}]}`,
		`  {"StreamName" : "s" , "Records" : [ { "Data" : "QQ==" , "PartitionKey" : "k" } ] }  `,
	} {
		f.Add([]byte(s))
	}
	fk, err := New(Options{Shards: 16, StrictData: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st := new(putState)
		st.body.Write(body)
		err := fk.putRecords(st)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("accepted %q, encoding/json: %v", body, err)
		}
		recs, _ := doc["Records"].([]any)
		if len(recs) != len(st.entries) {
			t.Fatalf("%q: %d entries, encoding/json sees %d", body, len(st.entries), len(recs))
		}
		for i, r := range recs {
			e, _ := r.(map[string]any)
			pk, _ := e["PartitionKey"].(string)
			h := hashkey.FromPartitionKey(pk)
			if s, ok := e["ExplicitHashKey"].(string); ok {
				if h, err = hashkey.ParseDecimal(s); err != nil {
					t.Fatalf("%q: entry %d: accepted hash key %q: %v", body, i, s, err)
				}
			}
			if want := fk.sm.LookupIndex(h); st.entries[i].shard != want {
				t.Fatalf("%q: entry %d routed to shard %d, want %d", body, i, st.entries[i].shard, want)
			}
		}
	})
}

// FuzzScannerSkip checks the validating skipper against encoding/json.Valid on any document.
func FuzzScannerSkip(f *testing.F) {
	for _, s := range []string{`{}`, `[1,2]`, `"a\u0041"`, `-0.5e+3`, `01`, `{"a":[true,false,null]}`, `"\x01"`, `[`, `1.`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := scanner{b: b}
		err := s.skip(0)
		if err == nil {
			err = s.end()
		}
		nested := false
		depth := 0
		for _, c := range b { // the skipper refuses nesting beyond maxDepth; encoding/json does not
			switch c {
			case '[', '{':
				depth++
				nested = nested || depth > maxDepth
			case ']', '}':
				depth--
			}
		}
		if valid := json.Valid(b); (err == nil) != valid && !(nested && valid) {
			t.Fatalf("%q: skip error %v, json.Valid %v", b, err, valid)
		}
	})
}
