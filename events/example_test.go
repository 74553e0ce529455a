package events_test

import (
	"fmt"

	"github.com/kinesis-agg/kinesis_agg/events"
	"github.com/kinesis-agg/kinesis_agg/strftime"
)

func ExampleConverter_Convert() {
	// One v2 event: [[EventTime(1795627875.5), {}], {"msg": "hi", "k8s": {"pod": "web-1"}}].
	chunk := []byte{
		0x92, 0x92, 0xd7, 0x00, 0x6b, 0x07, 0x1b, 0x63, 0x1d, 0xcd, 0x65, 0x00, 0x80,
		0x82, 0xa3, 'm', 's', 'g', 0xa2, 'h', 'i',
		0xa3, 'k', '8', 's', 0x81, 0xa3, 'p', 'o', 'd', 0xa5, 'w', 'e', 'b', '-', '1',
	}
	c, err := events.NewConverter(events.Options{
		PartitionKey: []string{"k8s", "pod"},
		TimeKey:      "@timestamp",
		TimeFormat:   strftime.MustCompile("%Y-%m-%dT%H:%M:%S.%LZ"),
	})
	if err != nil {
		panic(err)
	}
	var b events.Batch // reuse across flushes
	c.Convert(chunk, "kube.web", &b)
	for _, r := range b.Records {
		fmt.Printf("ref=%d key=%s hash=%s\n%s\n", r.Ref, r.PartitionKey, r.Hash, r.Data)
	}
	fmt.Println("events:", b.Events, "rejected:", len(b.Rejected), "malformed:", b.Malformed)
	// Output:
	// ref=0 key=web-1 hash=216517020614757585766844616419861376072
	// {"msg":"hi","k8s":{"pod":"web-1"},"@timestamp":"2026-11-25T17:31:15.500Z"}
	// events: 1 rejected: 0 malformed: <nil>
}
