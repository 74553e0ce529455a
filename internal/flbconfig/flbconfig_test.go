package flbconfig

import "testing"

func TestParse(t *testing.T) {
	text := "# c\n[SERVICE]\n    Flush 1\n[OUTPUT]\n    Name  kinesis_agg\n    Region ${R}-x\n\tstream\tlogs\n    region second\n    partition_key $kubernetes['pod_name']\n[OUTPUT]\n    Name stdout\n"
	secs, err := Parse(text, func(k string) string { return map[string]string{"R": "eu"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) != 3 || secs[0].Name != "SERVICE" || secs[0].Get("flush") != "1" {
		t.Fatalf("sections %+v", secs)
	}
	outs := Outputs(secs, "KINESIS_AGG")
	if len(outs) != 1 || outs[0].Get("REGION") != "eu-x" || outs[0].Get("stream") != "logs" || outs[0].Line != 4 ||
		outs[0].Get("partition_key") != "$kubernetes['pod_name']" {
		t.Fatalf("outputs %+v", outs)
	}
	for _, bad := range []string{"key value\n", "[OUTPUT\n"} {
		if _, err := Parse(bad, nil); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
