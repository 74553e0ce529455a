package delivery

import "github.com/kinesis-agg/kinesis_agg/aggregation"

// batchEnd returns the end of the PutRecords batch that starts at sealed[start]: at most
// maxEntries records whose sizes (data plus partition key) sum to at most maxBytes. A batch always
// takes at least one record, so a record larger than maxBytes goes alone (Kinesis decides).
func batchEnd(sealed []aggregation.Sealed, start, maxEntries, maxBytes int) int {
	end, bytes := start, 0
	for end < len(sealed) && end-start < maxEntries {
		n := sealed[end].Size()
		if end > start && bytes+n > maxBytes {
			break
		}
		bytes += n
		end++
	}
	return end
}
