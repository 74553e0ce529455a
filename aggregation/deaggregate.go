package aggregation

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// Outcome says what a KCL consumer does with one Kinesis record.
type Outcome int

const (
	// Passthrough: not a KPL aggregate (no magic, too short, MD5 mismatch or unparsable
	// protobuf); KCL hands the Kinesis record to the application unchanged.
	Passthrough Outcome = iota
	// Deaggregated: every user record reaches the application.
	Deaggregated
	// DroppedOutOfRange: a member lies outside the shard's range, so KCL silently drops the whole
	// aggregate, in-range members included.
	DroppedOutOfRange
	// DecodeFailed: a member refers to a missing table entry or carries an explicit hash key that
	// is not a number; KCL logs it, keeps the members before it and loses the rest.
	DecodeFailed
)

func (o Outcome) String() string {
	switch o {
	case Passthrough:
		return "passthrough"
	case Deaggregated:
		return "deaggregated"
	case DroppedOutOfRange:
		return "dropped-out-of-range"
	case DecodeFailed:
		return "decode-failed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Record is a user record as a KCL consumer receives it.
type Record struct {
	PartitionKey       string
	ExplicitHashKey    string // "" unless HasExplicitHashKey
	HasExplicitHashKey bool
	Data               []byte
	SubSequence        int
	Hash               hashkey.Key
}

// Result is what Deaggregate found in one Kinesis record.
type Result struct {
	Outcome Outcome
	// Records is what KCL hands to the application: for Passthrough the Kinesis record itself.
	Records []Record
	// Total is the number of user records inside the aggregate (0 for Passthrough).
	Total int
	// OutOfRange counts the members outside the range; when the aggregate was dropped the other
	// Total-OutOfRange members were lost with them.
	OutOfRange int
	// Err says why KCL stopped (DecodeFailed) or why the record was passed through.
	Err error
}

// Deaggregate unpacks one Kinesis record's data exactly as KCL's AggregatorUtil does when it
// reads the record from a shard with range rng (both ends inclusive). rng == nil checks against
// the whole hash key space, as KCL does when it cannot resolve the shard. The returned records'
// Data alias data.
func Deaggregate(partitionKey string, data []byte, rng *hashkey.Range) Result {
	full := hashkey.Range{End: hashkey.Max}
	if rng == nil {
		rng = &full
	}
	agg, err := parseAggregate(data)
	if err != nil {
		return Result{
			Outcome: Passthrough,
			Records: []Record{{PartitionKey: partitionKey, Data: data, Hash: hashkey.FromPartitionKey(partitionKey)}},
			Err:     err,
		}
	}
	res := Result{Outcome: Deaggregated, Total: len(agg.records), Records: make([]Record, 0, len(agg.records))}
	for i, r := range agg.records {
		if r.pkIndex >= uint64(len(agg.pkTable)) {
			res.fail()
			res.Err = fmt.Errorf("aggregation: user record %d: partition key index %d outside table of %d", i, r.pkIndex, len(agg.pkTable))
			break
		}
		rec := Record{PartitionKey: agg.pkTable[r.pkIndex], Data: r.data, SubSequence: i}
		var inRange bool
		if r.hasEHK {
			if r.ehkIndex >= uint64(len(agg.ehkTable)) {
				res.fail()
				res.Err = fmt.Errorf("aggregation: user record %d: explicit hash key index %d outside table of %d", i, r.ehkIndex, len(agg.ehkTable))
				break
			}
			rec.ExplicitHashKey, rec.HasExplicitHashKey = agg.ehkTable[r.ehkIndex], true
			k, cmp, ok := parseBigInteger(rec.ExplicitHashKey)
			if !ok {
				res.fail()
				res.Err = fmt.Errorf("aggregation: user record %d: explicit hash key %q is not a number", i, rec.ExplicitHashKey)
				break
			}
			rec.Hash = k
			inRange = cmp == 0 && rng.Contains(k)
		} else {
			rec.Hash = hashkey.FromPartitionKey(rec.PartitionKey)
			inRange = rng.Contains(rec.Hash)
		}
		if !inRange {
			res.OutOfRange++
			if res.Outcome != DroppedOutOfRange {
				res.Outcome = DroppedOutOfRange
				res.Records = res.Records[:0]
			}
		}
		if res.Outcome == Deaggregated {
			res.Records = append(res.Records, rec)
		}
	}
	if res.Outcome == DroppedOutOfRange {
		// KCL stops at the first member out of range; the count of the rest is for audits only.
		res.Records = nil
	}
	return res
}

// fail records that KCL gave up on the aggregate; an aggregate already dropped stays dropped.
func (r *Result) fail() {
	if r.Outcome == Deaggregated {
		r.Outcome = DecodeFailed
	}
}

// parseBigInteger parses s as Java's new BigInteger(s) does (optional sign, decimal digits, any
// length). cmp is -1 below zero, +1 above 2^128-1 and 0 when k holds the value.
func parseBigInteger(s string) (k hashkey.Key, cmp int, ok bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return hashkey.Key{}, 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return hashkey.Key{}, 0, false
		}
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	k, err := hashkey.ParseDecimal(s)
	switch {
	case neg && s == "0":
		return hashkey.Key{}, 0, true
	case neg:
		return hashkey.Key{}, -1, true
	case errors.Is(err, hashkey.ErrRange) || len(s) > 39:
		return hashkey.Key{}, 1, true
	case err != nil:
		return hashkey.Key{}, 0, false
	}
	return k, 0, true
}

type parsedRecord struct {
	pkIndex  uint64
	ehkIndex uint64
	hasEHK   bool
	data     []byte
}

type parsedAggregate struct {
	pkTable  []string
	ehkTable []string
	records  []parsedRecord
}

var errNotAggregate = errors.New("not a KPL aggregate")

// parseAggregate checks the frame and parses the protobuf message the way protobuf-java parses
// proto2: unknown fields (and known fields with an unexpected wire type) are skipped, a missing
// required field is an error.
func parseAggregate(data []byte) (*parsedAggregate, error) {
	if len(data) <= frameOverhead || !bytes.Equal(data[:magicLen], Magic[:]) {
		return nil, fmt.Errorf("aggregation: %w: no magic or shorter than %d bytes", errNotAggregate, frameOverhead+1)
	}
	msg := data[magicLen : len(data)-checksumLen]
	if sum := md5.Sum(msg); !bytes.Equal(sum[:], data[len(data)-checksumLen:]) {
		return nil, fmt.Errorf("aggregation: %w: MD5 mismatch", errNotAggregate)
	}
	agg := &parsedAggregate{}
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return nil, fmt.Errorf("aggregation: %w: %v", errNotAggregate, protowire.ParseError(n))
		}
		msg = msg[n:]
		if typ == protowire.BytesType && num >= fieldPartitionKeyTable && num <= fieldRecords {
			v, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return nil, fmt.Errorf("aggregation: %w: field %d: %v", errNotAggregate, num, protowire.ParseError(n))
			}
			msg = msg[n:]
			switch num {
			case fieldPartitionKeyTable:
				agg.pkTable = append(agg.pkTable, string(v))
			case fieldExplicitHashKeyTable:
				agg.ehkTable = append(agg.ehkTable, string(v))
			case fieldRecords:
				r, err := parseRecord(v)
				if err != nil {
					return nil, fmt.Errorf("aggregation: %w: record %d: %v", errNotAggregate, len(agg.records), err)
				}
				agg.records = append(agg.records, r)
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return nil, fmt.Errorf("aggregation: %w: field %d: %v", errNotAggregate, num, protowire.ParseError(n))
		}
		msg = msg[n:]
	}
	return agg, nil
}

func parseRecord(b []byte) (parsedRecord, error) {
	var r parsedRecord
	var hasPK, hasData bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == fieldPartitionKeyIndex && typ == protowire.VarintType:
			r.pkIndex, n = protowire.ConsumeVarint(b)
			hasPK = true
		case num == fieldExplicitHashKeyIndex && typ == protowire.VarintType:
			r.ehkIndex, n = protowire.ConsumeVarint(b)
			r.hasEHK = true
		case num == fieldData && typ == protowire.BytesType:
			r.data, n = protowire.ConsumeBytes(b)
			hasData = true
		case num == fieldTags && typ == protowire.BytesType:
			var tag []byte
			tag, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				if err := checkTag(tag); err != nil {
					return r, err
				}
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return r, protowire.ParseError(n)
		}
		b = b[n:]
	}
	if !hasPK || !hasData {
		return r, errors.New("missing required field partition_key_index or data")
	}
	return r, nil
}

// checkTag parses a Tag message: its key is required.
func checkTag(b []byte) error {
	hasKey := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			hasKey = true
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	if !hasKey {
		return errors.New("tag without its required key")
	}
	return nil
}
