package kinesisapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// sigV4 signs PutRecords requests with AWS Signature Version 4. It signs exactly the headers
// PutRecordsClient sends (content-length, content-type, host, x-amz-date, x-amz-security-token
// when there is a session token, x-amz-target) and nothing else, which lets it write the
// canonical request without sorting or lower-casing anything. The key derived for a day, a
// region and a secret is kept, so a request costs two SHA-256 passes over a few hundred bytes
// instead of the SDK signer's five HMACs and its header maps. A test holds it to the SDK signer's
// output for the same request.
type sigV4 struct {
	service, region string

	mu      sync.Mutex
	secret  string    // the key below was derived from this secret...
	day     string    // ...on this day (yyyymmdd)
	mac     hash.Hash // HMAC-SHA256 keyed with the derived key
	canon   []byte    // scratch: canonical request, then string to sign
	sum     [sha256.Size]byte
	hexSum  [2 * sha256.Size]byte
	scratch []byte // scratch: the Authorization value
}

// signedRequest is what a signature covers besides the payload hash.
type signedRequest struct {
	host          string // as sent in the Host header (default ports stripped)
	path          string // the canonical URI
	contentLength int
	payloadHash   string // hex SHA-256 of the body
}

const (
	sigAlgorithm       = "AWS4-HMAC-SHA256"
	amzDateLayout      = "20060102T150405Z"
	signedNoToken      = "content-length;content-type;host;x-amz-date;x-amz-target"
	signedWithToken    = "content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target"
	putRecordsTarget   = "Kinesis_20131202.PutRecords"
	jsonContentType    = "application/x-amz-json-1.1"
	scopeTerminator    = "aws4_request"
	canonicalPostStart = "POST\n"
)

// sign returns the X-Amz-Date and Authorization header values for r made at t with creds.
func (s *sigV4) sign(creds aws.Credentials, r signedRequest, t time.Time) (amzDate, authorization string) {
	t = t.UTC()
	var dateBuf [len(amzDateLayout)]byte
	date := t.AppendFormat(dateBuf[:0], amzDateLayout)
	day := date[:8]

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mac == nil || s.secret != creds.SecretAccessKey || s.day != string(day) {
		s.secret, s.day = creds.SecretAccessKey, string(day)
		s.mac = hmac.New(sha256.New, s.deriveKey(creds.SecretAccessKey, day))
	}
	signed := signedNoToken
	if creds.SessionToken != "" {
		signed = signedWithToken
	}

	c := append(s.canon[:0], canonicalPostStart...)
	c = append(c, r.path...)
	c = append(c, "\n\ncontent-length:"...)
	c = strconv.AppendInt(c, int64(r.contentLength), 10)
	c = append(c, "\ncontent-type:"+jsonContentType+"\nhost:"...)
	c = append(c, r.host...)
	c = append(c, "\nx-amz-date:"...)
	c = append(c, date...)
	if creds.SessionToken != "" {
		c = append(c, "\nx-amz-security-token:"...)
		c = append(c, trimHeaderValue(creds.SessionToken)...)
	}
	c = append(c, "\nx-amz-target:"+putRecordsTarget+"\n\n"...)
	c = append(c, signed...)
	c = append(c, '\n')
	c = append(c, r.payloadHash...)
	s.sum = sha256.Sum256(c)
	hex.Encode(s.hexSum[:], s.sum[:])

	// String to sign.
	c = append(c[:0], sigAlgorithm+"\n"...)
	c = append(c, date...)
	c = append(c, '\n')
	scope := len(c)
	c = s.appendScope(c, day)
	scopeEnd := len(c)
	c = append(c, '\n')
	c = append(c, s.hexSum[:]...)
	s.mac.Reset()
	s.mac.Write(c)
	sig := s.mac.Sum(s.sum[:0])

	a := append(s.scratch[:0], sigAlgorithm+" Credential="...)
	a = append(a, creds.AccessKeyID...)
	a = append(a, '/')
	a = append(a, c[scope:scopeEnd]...)
	a = append(a, ", SignedHeaders="...)
	a = append(a, signed...)
	a = append(a, ", Signature="...)
	a = hex.AppendEncode(a, sig)
	s.canon, s.scratch = c, a
	return string(date), string(a)
}

// appendScope appends day/region/service/aws4_request.
func (s *sigV4) appendScope(b, day []byte) []byte {
	b = append(b, day...)
	b = append(b, '/')
	b = append(b, s.region...)
	b = append(b, '/')
	b = append(b, s.service...)
	b = append(b, '/')
	return append(b, scopeTerminator...)
}

// deriveKey returns the signing key for day: HMAC chain over day, region, service, aws4_request.
func (s *sigV4) deriveKey(secret string, day []byte) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), day)
	k = hmacSHA256(k, []byte(s.region))
	k = hmacSHA256(k, []byte(s.service))
	return hmacSHA256(k, []byte(scopeTerminator))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// trimHeaderValue trims spaces at both ends and folds inner runs of spaces, as SigV4's
// canonical headers require (session tokens have none; done for exactness).
func trimHeaderValue(v string) string {
	start, end := 0, len(v)
	for start < end && v[start] == ' ' {
		start++
	}
	for end > start && v[end-1] == ' ' {
		end--
	}
	v = v[start:end]
	for i := 0; i+1 < len(v); i++ {
		if v[i] == ' ' && v[i+1] == ' ' {
			b := make([]byte, 0, len(v))
			for j := 0; j < len(v); j++ {
				if v[j] == ' ' && len(b) > 0 && b[len(b)-1] == ' ' {
					continue
				}
				b = append(b, v[j])
			}
			return string(b)
		}
	}
	return v
}

// canonicalPath returns the canonical URI of an already escaped request path: every byte other
// than unreserved characters and '/' percent-encoded once more, as the SDK's signer does for
// every service but S3.
func canonicalPath(escaped string) string {
	if escaped == "" {
		return "/"
	}
	for i := 0; i < len(escaped); i++ {
		if !unreservedOrSlash(escaped[i]) {
			b := make([]byte, 0, len(escaped)+16)
			for j := 0; j < len(escaped); j++ {
				if c := escaped[j]; unreservedOrSlash(c) {
					b = append(b, c)
				} else {
					b = append(b, '%', upperHex[c>>4], upperHex[c&0xF])
				}
			}
			return string(b)
		}
	}
	return escaped
}

const upperHex = "0123456789ABCDEF"

func unreservedOrSlash(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '/'
}
