package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/web/answer"
	"github.com/zunyi/battlemap/web/ogc"
)

// parts is an answer the database writes a part at a time, as it sends
// the rows: a page of features.
type parts interface {
	// Header is the answer's response header, known before its parts.
	Header() map[string]string
	// Append appends the next part to b; done reports that it was the
	// last. After an error the answer is incomplete.
	Append(b []byte) (_ []byte, done bool, err error)
	// Close releases what the parts are read from.
	Close()
}

var _ parts = (*ogc.Items)(nil)

// wholeBytes bounds the answers made whole before they are sent. One that
// fits is kept and sent as cached's are, with its ETag (when there is a
// cache); a larger one goes to the client as the database sends it,
// without an ETag, and is not kept, so that a page of any size costs the
// server the same memory.
const wholeBytes = 64 << 10

// cachedStream is cached for an answer that start begins and the database
// writes a part at a time. Every error a client can cause (a bad
// parameter, an unknown collection) comes before start; errors of the
// database before the first part come from start, and are answered as
// usual. A streamed answer can only be cut short by a later error, which
// is logged. stamp reads the stamp the answer is kept under (see answer).
func (s *Server) cachedStream(c *fiber.Ctx, stamp stamp, start func(ctx context.Context) (parts, error)) error {
	key := s.baseURL(c) + c.OriginalURL()
	ctx, version, sent, err := s.fromCache(c, s.cache, key, s.apiCacheControl, stamp)
	if err != nil || sent {
		return err
	}
	// A streamed answer's query runs on after the handler returns, until
	// the answer is written or the request's time is up: withDeadline
	// leaves the request's context to the stream to end. A replica that
	// fails it before its first part leaves it to the primary.
	p, err := start(ctx)
	if s.replicas.Retry(ctx, err) {
		p, err = start(c.UserContext())
	}
	if err != nil {
		return err
	}
	buf := buffers.Get().(*[]byte)
	data, done := (*buf)[:0], false
	for !done && err == nil && len(data) < wholeBytes {
		data, done, err = p.Append(data)
	}
	if done || err != nil {
		p.Close()
		defer putBuffer(buf, data)
		if err != nil {
			return err
		}
		if s.cache != nil {
			b := answer.NewBody(bytes.Clone(data), version, p.Header(), true)
			s.cache.Put(key, b)
			return sendBody(c, b, s.apiCacheControl)
		}
		// Made for this request alone: no client can hold its ETag (a
		// page carries the time it was read), so it goes without one.
		if s.setHeader(c, p.Header()) {
			data = (&answer.Body{Data: data}).Gzipped()
		}
		c.Response().SetBody(data) // a copy: buf goes back to the pool
		return nil
	}
	st := &bodyStream{parts: p, out: data, log: s.log, path: strings.Clone(c.Path())}
	if s.setHeader(c, p.Header()) {
		st.compress()
	}
	c.Response().SetBodyStream(st, -1)
	return nil
}

// setHeader sets the response header of an answer sent without an ETag,
// and reports whether it goes gzipped, as it does when the client accepts
// gzip.
func (s *Server) setHeader(c *fiber.Ctx, header map[string]string) (gzipped bool) {
	for k, v := range header {
		c.Set(k, v)
	}
	c.Set(fiber.HeaderCacheControl, s.apiCacheControl)
	c.Vary(fiber.HeaderAcceptEncoding)
	if !acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		return false
	}
	c.Set(fiber.HeaderContentEncoding, "gzip")
	return true
}

// buffers hold the answers made whole; most are a few kilobytes.
var buffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 8<<10)
	return &b
}}

// putBuffer gives buf back to buffers, with data, what it grew into, unless
// that grew past what an answer made whole takes.
func putBuffer(buf *[]byte, data []byte) {
	if cap(data) <= 2*wholeBytes {
		*buf = data[:0]
		buffers.Put(buf)
	}
}

// bodyStream is an answer sent as its parts are made. fasthttp reads it
// after the handler has returned, writing each Read as one chunk of the
// response, and closes it once the response is written, the client has
// gone or the server shuts down. A Read error makes fasthttp drop the
// connection without the last chunk, so that the client sees a broken
// answer, never a short one that looks whole.
type bodyStream struct {
	parts parts
	out   []byte // made and not yet read
	off   int    // how much of out has been read
	done  bool   // out holds the end of the answer
	gz    *gzip.Writer
	plain []byte // a part before gz compresses it into out
	// cancel ends the request's context, which the parts' query runs
	// under; withDeadline sets it when the handler has returned.
	cancel context.CancelFunc
	log    *slog.Logger
	path   string
}

// Read hands out what is made, making parts until p can be filled: a
// feature is far smaller than a chunk.
func (st *bodyStream) Read(p []byte) (int, error) {
	for len(st.out)-st.off < len(p) && !st.done {
		if st.off > 0 {
			st.out = append(st.out[:0], st.out[st.off:]...)
			st.off = 0
		}
		if err := st.more(); err != nil {
			st.log.Error("answer cut short after it began", slog.String("path", st.path), slog.Any("err", err))
			return 0, err
		}
	}
	if st.off == len(st.out) {
		return 0, io.EOF
	}
	n := copy(p, st.out[st.off:])
	st.off += n
	return n, nil
}

// more makes the next part, into out, through gz when the answer is
// compressed.
func (st *bodyStream) more() (err error) {
	if st.gz == nil {
		st.out, st.done, err = st.parts.Append(st.out)
		return err
	}
	if st.plain, st.done, err = st.parts.Append(st.plain[:0]); err != nil {
		return err
	}
	st.gz.Write(st.plain) // into out: cannot fail
	if st.done {
		st.gz.Close()
	}
	return nil
}

// compress makes the answer gzip, from what is made so far on.
func (st *bodyStream) compress() {
	gz, err := gzip.NewWriterLevel(st, gzip.BestSpeed)
	if err != nil {
		panic("web: " + err.Error()) // a valid level: cannot happen
	}
	st.gz = gz
	st.plain, st.out = st.out, nil
	st.gz.Write(st.plain)
}

// Write takes what gz has compressed.
func (st *bodyStream) Write(b []byte) (int, error) {
	st.out = append(st.out, b...)
	return len(b), nil
}

// Close ends the answer's query first, should it still run (the client
// has gone), so that releasing the connection does not wait for the rows
// left, then releases it.
func (st *bodyStream) Close() error {
	if st.cancel != nil {
		st.cancel()
	}
	st.parts.Close()
	return nil
}
