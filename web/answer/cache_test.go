package answer_test

import (
	"bytes"
	"testing"

	"github.com/zunyi/battlemap/web/answer"
)

func bodyOf(n int, version int64) *answer.Body {
	return &answer.Body{Data: bytes.Repeat([]byte{'x'}, n), ETag: `"e"`, Version: version}
}

func TestCache(t *testing.T) {
	c := answer.NewCache(3000)
	c.Put("a", bodyOf(1000, 1))
	c.Put("b", bodyOf(1000, 1))
	if _, ok := c.Get("a", 1); !ok { // a is now the most recently used
		t.Fatal("a: want a hit")
	}
	c.Put("c", bodyOf(1000, 1)) // over the limit: b, the least recently used, goes
	if _, ok := c.Get("b", 1); ok {
		t.Error("b: want it evicted")
	}
	if _, ok := c.Get("a", 1); !ok {
		t.Error("a: want it kept")
	}
	if _, ok := c.Get("a", 2); ok {
		t.Error("a at a newer data version: want a miss")
	}
	c.Put("a", bodyOf(10, 3))
	c.Put("a", bodyOf(10, 2)) // an older body arriving late must not win
	if m, ok := c.Get("a", 3); !ok || len(m.Data) != 10 {
		t.Errorf("a at version 3: got %v, %v", m, ok)
	}
	c.Put("huge", bodyOf(5000, 3))
	if _, ok := c.Get("huge", 3); ok {
		t.Error("a body larger than the cache: want it not stored")
	}
	if st := c.Stats(); st.Bytes > st.Limit || st.Evicted != 1 {
		t.Errorf("stats %+v: want bytes within the limit and one eviction", st)
	}

	var off *answer.Cache = answer.NewCache(0)
	off.Put("a", bodyOf(10, 1))
	if _, ok := off.Get("a", 1); ok || off.Stats() != (answer.Stats{}) {
		t.Error("a disabled cache must hold nothing")
	}
}
