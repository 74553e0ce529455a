package fakekinesis

import (
	"crypto/md5"
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// maxPartitionKeyChars is the Kinesis limit on a partition key, in UTF-16 code units.
const maxPartitionKeyChars = 256

// entry is what the fake keeps of one PutRecords entry until it answers.
type entry struct {
	shard int
}

// put is what one PutRecords entry contributes to the totals.
type put struct {
	dataBytes, keyBytes int
	aggregated          bool
}

// putRecords answers one PutRecords request from st.body into st.out.
func (f *Fake) putRecords(st *putState) error {
	s := scanner{b: st.body.Bytes()}
	var (
		name, arn  string
		sawRecords bool
		reqBytes   int64
		totals     struct{ data, keys, agg, max int64 }
	)
	err := s.fields(0, func(key []byte, esc bool) error {
		switch string(fieldName(key, esc)) {
		case "Records":
			// A repeated key replaces the earlier value, as in encoding/json.
			sawRecords, reqBytes, totals = true, 0, struct{ data, keys, agg, max int64 }{}
			st.entries = st.entries[:0]
			if s.isNull() {
				return nil
			}
			return s.elements(1, func() error {
				if len(st.entries) == MaxEntries {
					return validation("1 validation error detected: Value at 'records' failed to satisfy constraint: "+
						"Member must have length less than or equal to %d", MaxEntries)
				}
				e, p, err := f.parseEntry(&s, len(st.entries))
				if err != nil {
					return err
				}
				st.entries = append(st.entries, e)
				n := int64(p.dataBytes + p.keyBytes)
				reqBytes += n
				totals.data += int64(p.dataBytes)
				totals.keys += int64(p.keyBytes)
				totals.max = max(totals.max, n)
				if p.aggregated {
					totals.agg++
				}
				return nil
			})
		case "StreamName":
			v, err := nullableString(&s)
			name = v
			return err
		case "StreamARN":
			v, err := nullableString(&s)
			arn = v
			return err
		}
		return s.skip(1)
	})
	if err == nil {
		err = s.end()
	}
	if err != nil {
		if _, ok := err.(*apiError); ok {
			return err
		}
		return serialization(err)
	}
	if err := f.checkStream(name, arn); err != nil {
		return err
	}
	if !sawRecords || len(st.entries) == 0 {
		return validation("1 validation error detected: Value at 'records' failed to satisfy constraint: " +
			"Member must have length greater than or equal to 1")
	}
	if limit := int64(max(DefaultRequestMaxBytes, f.MaxRecordBytes())); reqBytes > limit {
		return &apiError{status: 400, code: "InvalidArgumentException",
			msg: "Records size exceeds " + strconv.FormatInt(limit, 10) + " bytes: " + strconv.FormatInt(reqBytes, 10)}
	}

	c := &f.stats
	c.entries.Add(int64(len(st.entries)))
	c.aggregated.Add(totals.agg)
	c.dataBytes.Add(totals.data)
	c.keyBytes.Add(totals.keys)
	for cur := c.maxEntryBytes.Load(); totals.max > cur && !c.maxEntryBytes.CompareAndSwap(cur, totals.max); {
		cur = c.maxEntryBytes.Load()
	}

	n := uint64(len(st.entries))
	seq := formatSeq(f.seq.Add(n) - n)
	out := append(st.out[:0], `{"FailedRecordCount":0,"Records":[`...)
	for i, e := range st.entries {
		c.shardEntries[e.shard].Add(1)
		if i > 0 {
			out = append(out, ',')
			seq.inc()
		}
		out = append(out, `{"SequenceNumber":"`+seqPrefix...)
		out = append(out, seq[:]...)
		out = append(out, f.shardJSON[e.shard]...)
	}
	st.out = append(out, "]}"...)
	return nil
}

// fieldName returns an object key's bytes, decoding escapes (the SDK never sends any). Callers
// switch on string(fieldName(...)), which does not allocate.
func fieldName(key []byte, esc bool) []byte {
	if esc {
		return []byte(text(key, esc))
	}
	return key
}

// nullableString reads a string or null ("").
func nullableString(s *scanner) (string, error) {
	if s.isNull() {
		return "", nil
	}
	raw, esc, err := s.str(true)
	if err != nil {
		return "", err
	}
	return text(raw, esc), nil
}

// parseEntry reads one PutRecordsRequestEntry and routes it.
func (f *Fake) parseEntry(s *scanner, idx int) (entry, put, error) {
	var (
		pk, data, ehk          []byte
		pkEsc, dataEsc, ehkEsc bool
		havePK, haveData       bool
		haveEHK                bool
	)
	err := s.fields(2, func(key []byte, esc bool) error {
		var err error
		switch string(fieldName(key, esc)) {
		case "Data":
			if haveData = !s.isNull(); haveData {
				data, dataEsc, err = s.str(f.o.StrictData)
			}
		case "PartitionKey":
			if havePK = !s.isNull(); havePK {
				pk, pkEsc, err = s.str(true)
			}
		case "ExplicitHashKey":
			if haveEHK = !s.isNull(); haveEHK {
				ehk, ehkEsc, err = s.str(true)
			}
		default:
			err = s.skip(3)
		}
		return err
	})
	if err != nil {
		return entry{}, put{}, err
	}
	if !havePK {
		return entry{}, put{}, validation("1 validation error detected: Value null at 'records.%d.member.partitionKey' "+
			"failed to satisfy constraint: Member must not be null", idx+1)
	}
	if !haveData {
		return entry{}, put{}, validation("1 validation error detected: Value null at 'records.%d.member.data' "+
			"failed to satisfy constraint: Member must not be null", idx+1)
	}
	if pkEsc || !utf8.Valid(pk) {
		pk = []byte(text(pk, pkEsc))
	}
	if n := utf16Len(pk); n < 1 || n > maxPartitionKeyChars {
		return entry{}, put{}, validation("1 validation error detected: Value at 'records.%d.member.partitionKey' "+
			"failed to satisfy constraint: Member must have length between 1 and %d (it has %d)", idx+1, maxPartitionKeyChars, n)
	}
	if dataEsc {
		data = []byte(text(data, dataEsc))
	}
	if f.o.StrictData && !validBase64(data) {
		return entry{}, put{}, &apiError{status: 400, code: "SerializationException",
			msg: "records." + strconv.Itoa(idx+1) + ".member.data: not valid base64"}
	}
	p := put{dataBytes: decodedLen(data), keyBytes: len(pk), aggregated: isAggregate(data)}
	if limit := f.MaxRecordBytes(); p.dataBytes+p.keyBytes > limit {
		return entry{}, put{}, validation("1 validation error detected: Value at 'records.%d.member.data' failed to satisfy "+
			"constraint: data and partition key together must be at most %d bytes (they are %d)", idx+1, limit, p.dataBytes+p.keyBytes)
	}
	var h hashkey.Key
	if haveEHK {
		s := text(ehk, ehkEsc)
		k, err := hashkey.ParseDecimal(s)
		if err != nil {
			return entry{}, put{}, &apiError{status: 400, code: "InvalidArgumentException",
				msg: "Invalid ExplicitHashKey " + strconv.Quote(s) + " in records." + strconv.Itoa(idx+1) + ": " + err.Error()}
		}
		h = k
	} else {
		h = hashkey.FromBytes(md5.Sum(pk))
	}
	return entry{shard: f.sm.LookupIndex(h)}, p, nil
}

// utf16Len counts UTF-16 code units, the unit of the Kinesis partition key limit.
func utf16Len(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

// decodedLen returns the length of the bytes that base64 text b decodes to, without decoding.
func decodedLen(b []byte) int {
	n := len(b) / 4 * 3
	if r := len(b) % 4; r > 1 {
		n += r - 1 // unpadded tail (StrictData refuses it)
	}
	for i := len(b) - 1; i >= 0 && i >= len(b)-2 && b[i] == '='; i-- {
		n--
	}
	return n
}

// validBase64 reports whether b is standard padded base64.
func validBase64(b []byte) bool {
	if len(b)%4 != 0 {
		return false
	}
	pad := 0
	for i := len(b) - 1; i >= 0 && i >= len(b)-2 && b[i] == '='; i-- {
		pad++
	}
	for _, c := range b[:len(b)-pad] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	// The bits that padding drops must be zero, as the standard decoder requires.
	_, err := base64.StdEncoding.DecodeString(string(b[max(0, len(b)-4):]))
	return err == nil
}

// isAggregate reports whether base64 data starts with the KPL magic F3 89 9A C2 without decoding:
// its 32 bits are the 5 characters "84maw" and the top 2 bits (10) of the 6th, one of 'g'..'v'.
func isAggregate(data []byte) bool {
	return len(data) >= 8 && string(data[:5]) == "84maw" && 'g' <= data[5] && data[5] <= 'v'
}

// seqPrefix makes sequence numbers 56 digits long, like Kinesis's: the prefix and 22 digits.
const seqPrefix = "4960000000000000000000000000000000"

// seqDigits is the decimal counter part of a sequence number.
type seqDigits [22]byte

func formatSeq(n uint64) seqDigits {
	var d seqDigits
	for i := len(d) - 1; i >= 0; i-- {
		d[i] = '0' + byte(n%10)
		n /= 10
	}
	return d
}

// inc adds one in place, cheaper than formatting each number.
func (d *seqDigits) inc() {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] != '9' {
			d[i]++
			return
		}
		d[i] = '0'
	}
}
