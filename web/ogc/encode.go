package ogc

import (
	"errors"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/zunyi/battlemap/geo"
)

// Media types of the OGC API – Features answers.
const (
	GeoJSONType = "application/geo+json"
	CSVType     = "text/csv; charset=utf-8"
	JSONType    = "application/json"
)

// crlf ends every CSV record (RFC 4180, and what Excel writes).
const crlf = "\r\n"

// appendCSVStart appends what opens every CSV answer about c's features:
// a UTF-8 byte order mark (without it Excel takes the Chinese text for
// another encoding) and the header row.
func appendCSVStart(b []byte, c *geo.Collection) []byte {
	return append(append(append(b, "\ufeff"...), c.CSVHeader()...), crlf...)
}

// Link is a link of an OGC API document.
type Link struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

// Encoding is how the database writes features for an answer in format,
// FormatJSON or FormatCSV.
func Encoding(format string) geo.Encoding {
	if format == FormatCSV {
		return geo.CSV
	}
	return geo.GeoJSON
}

// URL is the absolute URL of the page q asks for on the server at base
// (scheme and host).
func (q Query) URL(base string) string {
	return base + "/collections/" + q.Collection.ID + "/items?" + q.Encode()
}

// Header is the response header of an answer about c's features in
// format: its media type, and for CSV a file name for the download.
func Header(c *geo.Collection, format string) map[string]string {
	if format == FormatCSV {
		return map[string]string{
			"Content-Type":        CSVType,
			"Content-Disposition": `attachment; filename="` + c.ID + `.csv"`,
		}
	}
	return map[string]string{"Content-Type": GeoJSONType}
}

// Items writes a page of features, each as the database wrote it, into
// the answer OGC API – Features gives: a GeoJSON FeatureCollection whose
// numberMatched, numberReturned, timeStamp and links come before the
// features, or CSV, a header row and a record per feature, with the next
// page's link in the Link header. Everything but the features is known
// before the first of them, so the answer can go out as the database
// sends it: Append writes it a part at a time.
type Items struct {
	q        Query
	base     string
	features *geo.Features
	stamp    time.Time
	started  bool
	n        int // features written
}

// NewItems writes features, the page q asks for, as the server at base
// (scheme and host) answers it, stamped now.
func NewItems(q Query, base string, features *geo.Features, now time.Time) *Items {
	return &Items{q: q, base: base, features: features, stamp: now}
}

// Header is the response header of the answer.
func (w *Items) Header() map[string]string {
	h := Header(w.q.Collection, w.q.Format)
	if w.q.Format == FormatCSV && w.features.NextCursor != "" {
		h["Link"] = "<" + w.q.After(w.features.NextCursor).URL(w.base) + `>; rel="next"`
	}
	return h
}

// errShortPage is an error of the database: it said how many features a
// page holds and sent another number.
var errShortPage = errors.New("the page holds another number of features than the database said")

// Append appends the next part of the answer to b: its start, a feature,
// or its end, which done reports. An error is the database's; the answer
// is then incomplete and must not reach the client as if whole.
func (w *Items) Append(b []byte) (_ []byte, done bool, err error) {
	csv := w.q.Format == FormatCSV
	if !w.started {
		w.started = true
		if csv {
			return appendCSVStart(b, w.q.Collection), false, nil
		}
		return w.appendHead(b), false, nil
	}
	if w.features.Next() {
		if !csv && w.n > 0 {
			b = append(b, ',')
		}
		w.n++
		b = append(b, w.features.Feature()...)
		if csv {
			b = append(b, crlf...)
		}
		return b, false, nil
	}
	if err := w.features.Err(); err != nil {
		return b, false, err
	}
	if int64(w.n) != w.features.Returned {
		return b, false, errShortPage
	}
	if !csv {
		b = append(b, "]}"...)
	}
	return b, true, nil
}

// Close releases the connection the features are read from.
func (w *Items) Close() { w.features.Close() }

// appendHead appends the FeatureCollection up to its first feature. It
// writes the JSON itself, a few fixed members around the links: through
// encoding/json's reflection the head cost several times as much, a
// share worth having of what the server spends on a small page.
func (w *Items) appendHead(b []byte) []byte {
	c, f := w.q.Collection, w.features
	b = append(b, `{"type":"FeatureCollection",`...)
	// Past geo.MaxMatched the count is not known, and OGC API – Features
	// lets the member be left out.
	if f.Matched >= 0 {
		b = append(b, `"numberMatched":`...)
		b = strconv.AppendInt(b, f.Matched, 10)
		b = append(b, ',')
	}
	b = append(b, `"numberReturned":`...)
	b = strconv.AppendInt(b, f.Returned, 10)
	b = append(b, `,"timeStamp":"`...)
	b = w.stamp.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, `","links":[`...)
	params := w.q.params()
	b = w.appendPageLink(b, params, "self", GeoJSONType, "this page")
	b = w.appendPageLink(append(b, ','), withParam(params, "f", FormatCSV), "alternate", CSVType, "this page as CSV")
	b = appendLink(append(b, ','), Link{w.base + "/collections/" + c.ID, "collection", JSONType, c.Title})
	if f.NextCursor != "" {
		b = w.appendPageLink(append(b, ','), withParam(params, "cursor", f.NextCursor), "next", GeoJSONType, "the next page")
	}
	return append(b, `],"features":[`...)
}

// appendPageLink appends the link to the page of the collection's items
// with params, its URL written straight into b.
func (w *Items) appendPageLink(b []byte, params []param, rel, mediaType, title string) []byte {
	b = appendString(append(b, `{"href":`...), w.base)
	b = b[:len(b)-1] // the href goes on: path and query need no escaping
	b = appendQuery(append(append(append(b, "/collections/"...), w.q.Collection.ID...), "/items?"...), params)
	return appendLinkTail(append(b, '"'), rel, mediaType, title)
}

// appendLink appends l as JSON, its members named as encoding/json names them.
func appendLink(b []byte, l Link) []byte {
	return appendLinkTail(appendString(append(b, `{"href":`...), l.Href), l.Rel, l.Type, l.Title)
}

// appendLinkTail appends the members of a link after its href, and ends it.
func appendLinkTail(b []byte, rel, mediaType, title string) []byte {
	b = appendString(append(b, `,"rel":`...), rel)
	if mediaType != "" {
		b = appendString(append(b, `,"type":`...), mediaType)
	}
	if title != "" {
		b = appendString(append(b, `,"title":`...), title)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD, as encoding/json
// reads them back.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}

// AppendFeature appends to b the answer about one feature of c, as the
// database wrote it in format (geo.Item): as GeoJSON, the feature with
// its links, on the server at base (scheme and host); as CSV, the header
// row and the feature's record.
func AppendFeature(b []byte, base string, c *geo.Collection, id, format string, feature []byte) []byte {
	if format == FormatCSV {
		return append(append(appendCSVStart(b, c), feature...), crlf...)
	}
	collection := base + "/collections/" + c.ID
	// The feature is an object: its links go before its closing brace.
	b = append(append(b, feature[:len(feature)-1]...), `,"links":[`...)
	b = appendLink(b, Link{collection + "/items/" + url.PathEscape(id), "self", GeoJSONType, "this feature"})
	b = appendLink(append(b, ','), Link{collection, "collection", JSONType, c.Title})
	return append(b, "]}"...)
}
