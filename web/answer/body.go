// Package answer keeps the server's encoded answers: a Body is an answer
// ready to send (its bytes, strong ETag, gzip, headers) stamped with the
// data version it was made at, and a Cache holds bodies without ever
// returning one older than the version a lookup names. Tiles and the JSON
// API both go through it, so every answer the server keeps follows the
// data version that the database moves on each committed change
// (geo.Versions says which version is current).
package answer

import (
	"bytes"
	"compress/gzip"
	"hash/fnv"
	"strconv"
	"sync"
)

// Body is an encoded answer, ready to send, stamped with the data version
// it was made at.
type Body struct {
	Data []byte // the answer; empty when there is nothing (a tile with no features)
	Gzip []byte // Data compressed, when made ahead (cached bodies); else nil
	ETag string // strong validator: a hash of Data, quoted
	// Header holds the response headers that belong to Data (its media
	// type, links to other pages); nil when the caller sets them itself.
	Header  map[string]string
	Version int64 // the data version the answer was made at
}

// NewBody stamps data made at version with its ETag and, when gzipAhead
// (worth it for a body that will be kept and sent many times), compresses
// it now. The ETag is a hash of data, unless header names one ("ETag"):
// a feature's is its own, which edits name in If-Match.
func NewBody(data []byte, version int64, header map[string]string, gzipAhead bool) *Body {
	etag := header["ETag"]
	if etag == "" {
		h := fnv.New64a()
		h.Write(data)
		etag = `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
	}
	b := &Body{Data: data, Version: version, Header: header, ETag: etag}
	if gzipAhead && len(data) > 0 {
		b.Gzip = compress(data)
	}
	return b
}

// size is what b costs a cache, roughly, in bytes.
func (b *Body) size() int64 {
	n := len(b.Data) + len(b.Gzip) + len(b.ETag)
	for k, v := range b.Header {
		n += len(k) + len(v)
	}
	return int64(n)
}

// Gzipped returns the body compressed with gzip, compressing it now if
// that was not done ahead.
func (b *Body) Gzipped() []byte {
	if b.Gzip != nil || len(b.Data) == 0 {
		return b.Gzip
	}
	return compress(b.Data)
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

func compress(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/2 + 64)
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(&buf)
	w.Write(b) // writes to a bytes.Buffer cannot fail
	w.Close()
	gzipWriters.Put(w)
	return buf.Bytes()
}
