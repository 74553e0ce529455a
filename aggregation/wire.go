package aggregation

import "google.golang.org/protobuf/encoding/protowire"

// Magic starts the data of every KPL aggregated record.
var Magic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

const (
	magicLen    = 4
	checksumLen = 16 // MD5 of the protobuf bytes
	// frameOverhead is what every aggregate costs besides its protobuf message.
	frameOverhead = magicLen + checksumLen

	// AggregatedRecord fields.
	fieldPartitionKeyTable    protowire.Number = 1
	fieldExplicitHashKeyTable protowire.Number = 2
	fieldRecords              protowire.Number = 3
	// Record fields.
	fieldPartitionKeyIndex    protowire.Number = 1
	fieldExplicitHashKeyIndex protowire.Number = 2
	fieldData                 protowire.Number = 3
	fieldTags                 protowire.Number = 4
)

// outerPartitionKey is the partition key of every aggregate, as in KPL: one byte, because Kinesis
// counts it against the record limit and routing is done by the explicit hash key anyway.
const outerPartitionKey = "a"

// tableEntrySize is the encoded size of one partition key or explicit hash key table entry.
func tableEntrySize(keyLen int) int {
	return 1 + protowire.SizeBytes(keyLen)
}

// recordBodySize is the encoded size of a Record message without its own tag and length.
func recordBodySize(pkIndex uint64, ehkIndex uint64, hasEHK bool, dataLen int) int {
	n := 1 + protowire.SizeVarint(pkIndex) + 1 + protowire.SizeBytes(dataLen)
	if hasEHK {
		n += 1 + protowire.SizeVarint(ehkIndex)
	}
	return n
}

// recordEntrySize is the encoded size of a Record inside AggregatedRecord (tag, length, body).
func recordEntrySize(body int) int {
	return 1 + protowire.SizeBytes(body)
}

// appendTableEntry appends a partition key or explicit hash key table entry.
func appendTableEntry(b []byte, field protowire.Number, key string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(key)))
	return append(b, key...)
}

// appendRecord appends one Record entry (tag, length, body) in canonical field order.
func appendRecord(b []byte, pkIndex, ehkIndex uint64, hasEHK bool, data []byte) []byte {
	body := recordBodySize(pkIndex, ehkIndex, hasEHK, len(data))
	b = protowire.AppendTag(b, fieldRecords, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(body))
	b = protowire.AppendTag(b, fieldPartitionKeyIndex, protowire.VarintType)
	b = protowire.AppendVarint(b, pkIndex)
	if hasEHK {
		b = protowire.AppendTag(b, fieldExplicitHashKeyIndex, protowire.VarintType)
		b = protowire.AppendVarint(b, ehkIndex)
	}
	b = protowire.AppendTag(b, fieldData, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(data)))
	return append(b, data...)
}
