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

// One-byte tags of the fields appendRecord writes (field numbers below 16).
const (
	tagRecords              = byte(fieldRecords<<3) | byte(protowire.BytesType)
	tagPartitionKeyIndex    = byte(fieldPartitionKeyIndex<<3) | byte(protowire.VarintType)
	tagExplicitHashKeyIndex = byte(fieldExplicitHashKeyIndex<<3) | byte(protowire.VarintType)
	tagData                 = byte(fieldData<<3) | byte(protowire.BytesType)
)

// appendRecord appends one Record entry (tag, length, body) in canonical field order.
func appendRecord(b []byte, pkIndex, ehkIndex uint64, hasEHK bool, data []byte) []byte {
	body := recordBodySize(pkIndex, ehkIndex, hasEHK, len(data))
	b = append(b, tagRecords)
	b = appendVarint(b, uint64(body))
	b = append(b, tagPartitionKeyIndex)
	b = appendVarint(b, pkIndex)
	if hasEHK {
		b = append(b, tagExplicitHashKeyIndex)
		b = appendVarint(b, ehkIndex)
	}
	b = append(b, tagData)
	b = appendVarint(b, uint64(len(data)))
	return append(b, data...)
}

// appendVarint is protowire.AppendVarint with the one- and two-byte cases (table indexes, record
// lengths) inlined.
func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<7:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, byte(v)|0x80, byte(v>>7))
	}
	return protowire.AppendVarint(b, v)
}
