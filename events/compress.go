package events

import (
	"fmt"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// compression is a per-record compression algorithm.
type compression uint8

const (
	compNone compression = iota
	compGzip
	compZlib
	compZstd
)

func parseCompression(s string) (compression, error) {
	switch s {
	case "", "none":
		return compNone, nil
	case "gzip":
		return compGzip, nil
	case "zlib":
		return compZlib, nil
	case "zstd":
		return compZstd, nil
	}
	return 0, fmt.Errorf("events: compression %q: want none, gzip, zlib or zstd", s)
}

// compressors holds one reusable compressor per algorithm, created on first use.
type compressors struct {
	w    appendWriter
	gzip *gzip.Writer
	zlib *zlib.Writer
	zstd *zstd.Encoder
}

// appendWriter is an io.Writer that appends to a byte slice.
type appendWriter struct{ buf []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// compress appends src compressed with alg to dst.
func (c *compressors) compress(alg compression, dst, src []byte) ([]byte, error) {
	var err error
	switch alg {
	case compZstd:
		if c.zstd == nil {
			// EncodeAll with concurrency 1 starts no goroutines.
			if c.zstd, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1)); err != nil {
				return dst, err
			}
		}
		return c.zstd.EncodeAll(src, dst), nil
	case compGzip:
		c.w.buf = dst
		if c.gzip == nil {
			c.gzip = gzip.NewWriter(&c.w)
		} else {
			c.gzip.Reset(&c.w)
		}
		_, err = c.gzip.Write(src)
		if err == nil {
			err = c.gzip.Close()
		}
	case compZlib:
		c.w.buf = dst
		if c.zlib == nil {
			c.zlib = zlib.NewWriter(&c.w)
		} else {
			c.zlib.Reset(&c.w)
		}
		_, err = c.zlib.Write(src)
		if err == nil {
			err = c.zlib.Close()
		}
	default:
		return append(dst, src...), nil
	}
	out := c.w.buf
	c.w.buf = nil
	if err != nil {
		return dst, err
	}
	return out, nil
}
