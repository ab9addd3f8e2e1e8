package web

import (
	"bufio"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
)

// Server-Sent Events: GET /api/events streams every change committed to
// the map data, in commit order, each with its position in the durable
// change log (the audit log) as its id. A client that reconnects sends
// the last id it saw (Last-Event-ID, which EventSource sends by itself)
// and gets what it missed first, from the log, whichever instance it
// reaches and however often instances restarted.

// Defaults of the event streams' settings.
const (
	// DefaultMaxEventStreams bounds the open streams of an instance.
	DefaultMaxEventStreams = 256
	// DefaultEventHeartbeat is how often a stream without changes sends
	// a comment, so that proxies keep it open and a dead client is found.
	DefaultEventHeartbeat = 15 * time.Second
)

// eventBatch is how many changes a stream reads from the log at once.
const eventBatch = 500

// eventRetry is the reconnection delay streams ask EventSource for.
const eventRetry = "retry: 2000\n\n"

// streamWriteTimeout bounds each write of a stream: a client that stops
// reading is let go, however long the stream has been open (the server's
// write timeout would otherwise cut every stream after the first).
const streamWriteTimeout = 30 * time.Second

// lastEventID is where a stream resumes: the Last-Event-ID header, or
// the last_event_id parameter (for a client that cannot set headers);
// ok is false when neither is given, and the stream starts at the newest
// change.
func lastEventID(c *fiber.Ctx) (id int64, ok bool, err error) {
	v := c.Get("Last-Event-ID")
	if v == "" {
		v = c.Query("last_event_id")
	}
	if v == "" {
		return 0, false, nil
	}
	id, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || id < 0 {
		return 0, false, geo.Errorf(geo.EInvalid, "invalid Last-Event-ID %s: want the id of an event of this stream", geo.Quote(v))
	}
	return id, true, nil
}

// events serves GET /api/events. Reads need what every read needs
// (Config.ReadAccess); past Config.MaxEventStreams open streams the
// answer is 503 with Retry-After.
func (s *Server) events(c *fiber.Ctx) error {
	last, resume, err := lastEventID(c)
	if err != nil {
		return err
	}
	select {
	case s.streams <- struct{}{}:
	default:
		return &statusError{fiber.StatusServiceUnavailable,
			"this server has as many event streams open as it takes (" + strconv.Itoa(cap(s.streams)) + "); try again later"}
	}
	release := func() { <-s.streams }
	wake, ok := s.changes.Subscribe()
	if !ok {
		release()
		return &statusError{fiber.StatusServiceUnavailable, "the server is shutting down"}
	}
	if !resume {
		if last, err = geo.LastEvent(c.UserContext(), s.pool); err != nil {
			s.changes.Unsubscribe(wake)
			release()
			return err
		}
	}
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	conn := c.Context().Conn()
	heartbeat := s.cfg.EventHeartbeat
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer release()
		defer s.changes.Unsubscribe(wake)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		flush := func() error {
			conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			return w.Flush()
		}
		w.WriteString(eventRetry)
		if flush() != nil {
			return
		}
		tick := time.NewTicker(heartbeat)
		defer tick.Stop()
		for {
			if last, err = s.sendEvents(ctx, w, flush, last); err != nil {
				return
			}
			select {
			case _, open := <-wake:
				if !open {
					return
				}
			case <-tick.C:
				w.WriteString(": ping\n\n")
				if flush() != nil {
					return
				}
			}
		}
	})
	return nil
}

// sendEvents writes the changes after position last and returns the
// position of the last one written.
func (s *Server) sendEvents(ctx context.Context, w *bufio.Writer, flush func() error, last int64) (int64, error) {
	for {
		events, err := s.changes.Since(ctx, last, eventBatch)
		if err != nil {
			s.log.Warn("event stream: reading the change log", slog.Any("err", err))
			return last, err
		}
		for _, e := range events {
			w.WriteString("id: ")
			w.WriteString(strconv.FormatInt(e.ID, 10))
			w.WriteString("\nevent: change\ndata: ")
			w.Write(e.JSON)
			w.WriteString("\n\n")
			last = e.ID
		}
		if len(events) > 0 {
			if err := flush(); err != nil {
				return last, err
			}
		}
		if len(events) < eventBatch {
			return last, nil
		}
	}
}
