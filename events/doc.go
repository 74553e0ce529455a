// Package events turns a Fluent Bit chunk into Kinesis user records in one pass: it decodes the
// msgpack events, streams each record straight to JSON (or extracts one field), computes the
// partition key and hash key once, and optionally compresses each record.
//
// # Chunks
//
// A chunk is msgpack events back to back. An event is either v2, [[time, metadata], record], or
// legacy, [time, record]. time is an EventTime (ext type 0: uint32 BE seconds, uint32 BE
// nanoseconds), an integer number of seconds or a float. Metadata is ignored. Group markers (an
// EventTime whose seconds are 0xFFFFFFFF or 0xFFFFFFFE) are skipped and counted. Every event,
// markers included, has an index in the chunk (0-based); a record's Ref is that index.
//
// An event that is not a 2-element array, or that ends past the end of the chunk, or that holds
// the unused byte 0xc1, means the chunk is damaged: decoding stops there, Batch.Malformed says
// where, and everything before it is kept. An event that is well-formed msgpack but cannot become
// a record is rejected (Batch.Rejected, with a reason) and decoding goes on: a record that is not
// a map, a timestamp of an unsupported type or a header that is not [time, metadata], a missing
// log_key field, a record nested deeper than 500 maps/arrays, a record too large for Kinesis.
//
// # JSON
//
// Records are written as compact JSON in one pass over the msgpack bytes:
//   - map keys stay in record order and duplicates are kept as they come;
//   - str values become JSON strings, escaped like encoding/json with HTML escaping off, and invalid
//     UTF-8 becomes \ufffd; bin values become JSON strings of their bytes, escaped the same way;
//   - integers are exact (uint64 and int64 ranges), floats use the shortest text that round-trips
//     at their own precision (float32 or float64), in the same format as encoding/json; NaN and
//     ±Inf become null;
//   - non-string map keys become strings: 42 -> "42", true -> "true", nil -> "null",
//     1.5 -> "1.5" (NaN -> "NaN"), a bin key -> its bytes, an EventTime key -> its number text, any
//     other ext key -> the base64 of its data, a map or array key -> the base64 of its msgpack
//     bytes (not its JSON: keys nested in keys would be escaped once per level, without bound);
//   - an EventTime (ext type 0, 8 bytes) inside a record becomes the JSON number
//     seconds.nanoseconds with exactly 9 fraction digits (1795627875.000000005); any other ext
//     becomes a JSON string holding the standard (padded) base64 of its data, the type is dropped.
//
// Options.ReplaceDots replaces '.' in map keys at every nesting level (after non-string keys have
// become text), never in values or in Options.TimeKey. Options.DataKeys keeps only the top-level
// keys (str or bin) it names. Options.TimeKey adds the event time, formatted in UTC with
// Options.TimeFormat (default "%Y-%m-%dT%H:%M:%S"), as the last key of the object, even if the
// record already has such a key. Options.LogKey sends one field instead of the record: its raw
// bytes when it is a str or bin (no escaping, no UTF-8 repair), else its JSON text; DataKeys and
// TimeKey do not apply to it. A log_key value of nil is sent as "null".
//
// # Field paths
//
// PartitionKey, ExplicitHashKey and LogKey name a field by its path through nested maps
// ([]string{"kubernetes", "pod_name"}). A path element matches str and bin keys with the same
// bytes. When a map repeats a key, the last occurrence wins (as in Fluent Bit's record accessor and
// in most JSON decoders). These fields are always read from the full record, whatever DataKeys
// keeps.
//
// # Partition keys
//
// Kinesis hashes the UTF-8 of the partition key with MD5. The key is built from the field's value:
//   - str or bin: its bytes, with invalid UTF-8 replaced by U+FFFD (so the MD5 computed here is
//     the one Kinesis computes), truncated at a character boundary to 256 UTF-16 code units (the
//     Kinesis limit of 256 characters; characters above U+FFFF count as two);
//   - int, uint, float, bool: its text as in the JSON output ("42", "-7", "3.5", "true");
//   - missing, nil, empty string, map, array, ext, NaN or ±Inf: a random key of 16 lowercase hex
//     characters, counted in Batch.RandomKeys. Without Options.PartitionKey every record gets
//     a random key (and is counted).
//
// Random keys come from a ChaCha8 generator seeded once per Batch from crypto/rand.
//
// # Explicit hash keys
//
// With Options.ExplicitHashKey set, a record whose field holds a decimal hash key (a str/bin in
// the canonical form 0|[1-9][0-9]{0,38} at most 2^128-1, or a non-negative integer) gets it as its
// ExplicitHashKey and Hash. A field that is missing or nil is ignored. Any other value is counted
// in Batch.BadHashKeys and the record keeps the hash of its partition key.
//
// # Size
//
// After compression, len(Data) + len(PartitionKey) must not exceed Options.MaxRecordBytes
// (default 1 MiB, the Kinesis per-record limit); a larger record is rejected with a reason that
// names the sizes and the limit.
//
// # Speed
//
// Runs of strings that JSON holds as they are, most keys and values of log records, are copied
// with a test of 32 bytes at a time by an assembly kernel on amd64 CPUs with AVX2 and BMI2, and a
// word at a time by portable Go elsewhere and with the purego build tag. Both give the same bytes.
//
// # Memory
//
// A Batch owns a byte arena that holds every record's Data, PartitionKey and ExplicitHashKey.
// They stay valid until the next Reset or Convert on that Batch; reuse one Batch per flush (pool
// them) and steady-state conversion does not allocate. Records never alias the chunk.
package events
