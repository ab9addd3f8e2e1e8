package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/zunyi/battlemap/geo"
	"github.com/zunyi/battlemap/web/ogc"
)

// rankingsQuery is what a rankings request asks for.
type rankingsQuery struct {
	By, Measure, Format string
	// At is the moment; nil for now.
	At *time.Time
}

// parseRankings reads the query string raw of a rankings request: by,
// measure (checked against the catalogue by geo.RegionRankings), at and
// f (json or csv). Any other parameter, or a bad at or f, is an EInvalid
// error naming it.
func parseRankings(raw string) (rankingsQuery, error) {
	v, err := ogc.Params(raw, "by", "measure", "at", "f")
	if err != nil {
		return rankingsQuery{}, err
	}
	q := rankingsQuery{By: v["by"], Measure: v["measure"]}
	if q.At, err = ogc.ParseAt(v); err != nil {
		return rankingsQuery{}, err
	}
	if q.Format, err = ogc.FormatOf(v, ogc.FormatJSON, ogc.FormatCSV); err != nil {
		return rankingsQuery{}, err
	}
	return q, nil
}

// rankings serves GET /api/regions/{code}/rankings?by=&measure=&at=&f=:
// the counties, townships or paired units under the region ranked by a
// measure as of at (nil: now), each with its rank at the end of the month
// before and the change (geo.RegionRankings); as CSV for Excel with
// f=csv. The answer is kept under the month it is read in, not only the
// URL: without at, the month compared with moves with the calendar.
func (s *Server) rankings(c *fiber.Ctx) error {
	q, err := parseRankings(rawQuery(c))
	if err != nil {
		return err
	}
	code := strings.Clone(c.Params("code"))
	key := s.baseURL(c) + c.OriginalURL() + "\x00" + time.Now().In(geo.DataZone).Format("2006-01")
	return s.answer(c, s.cache, key, s.apiCacheControl, globalStamp,
		func(ctx context.Context) ([]byte, map[string]string, error) {
			rs, err := geo.RegionRankings(ctx, s.reads, code, q.By, q.Measure, q.At)
			if err != nil {
				return nil, nil, err
			}
			if q.Format == ogc.FormatCSV {
				data, err := rankingsCSV(rs)
				return data, map[string]string{
					fiber.HeaderContentType:        ogc.CSVType,
					fiber.HeaderContentDisposition: `attachment; filename="` + rankingsFilename(rs) + `"`,
				}, err
			}
			data, err := json.Marshal(rs)
			return data, map[string]string{fiber.HeaderContentType: fiber.MIMEApplicationJSON}, err
		})
}

// rankingsFilename names a ranking's CSV file: the region's code, what is
// ranked, by which measure, as of which day ("rankings-520300-county-
// exits-2016-06-30.csv"), all ASCII so that every browser keeps it.
func rankingsFilename(rs *geo.Rankings) string {
	return "rankings-" + rs.Region.Code + "-" + rs.By + "-" + rs.Measure + "-" + rs.At.Format(time.DateOnly) + ".csv"
}

// rankingsHeader is the header record of a ranking's CSV, in Chinese for
// the spreadsheet's readers.
var rankingsHeader = []string{"排名", "上月排名", "名次变化", "代码", "名称", "层级",
	"当年出列村数", "应出列村数", "出列进度", "年初贫困人口", "现有贫困人口", "脱贫人数",
	"项目数", "项目平均完成度(%)", "计划资金(元)", "已拨付资金(元)", "资金拨付率"}

// rankingsCSV writes rs as CSV that Excel opens as it is: a UTF-8 byte
// order mark, CRLF line ends, a record per row in rank order. Text cells
// begin with the guard the database chose (geo's csvFormulaGuard), so
// that a unit named =… stays text; levels are in Chinese; numbers are
// bare, ratios as decimals, and a figure there is none of is an empty
// cell.
func rankingsCSV(rs *geo.Rankings) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("\ufeff")
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	if err := w.Write(rankingsHeader); err != nil {
		return nil, err
	}
	for _, r := range rs.Rows {
		code, level := r.Code, geo.RegionLevels.Label(r.Level)
		if rs.By == geo.ByUnit { // a unit's code is its name; its level, its pairing's
			code, level = r.Guard+code, geo.PairingLevels.Label(r.Level)
		}
		rec := []string{intCell(r.Rank), intCell(r.PreviousRank), intCell(r.Change), code, r.Guard + r.Name, level,
			strconv.FormatInt(r.VillagesExited, 10), strconv.FormatInt(r.VillagesToExit, 10), floatCell(r.ExitRate),
			strconv.FormatInt(r.PoorAtStart, 10), strconv.FormatInt(r.PoorNow, 10), strconv.FormatInt(r.PeopleOut, 10),
			strconv.FormatInt(r.Projects, 10), floatCell(r.CompletionAvg), strconv.FormatInt(r.Planned, 10),
			strconv.FormatInt(r.Disbursed, 10), floatCell(r.DisbursementRate)}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// intCell and floatCell write a figure as a CSV cell, empty for none.
func intCell(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

func floatCell(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', -1, 64)
}

// unit serves GET /api/units/{name}?at=: a paired unit with its villages
// and their progress (geo.PairedUnit), as of at.
func (s *Server) unit(c *fiber.Ctx) error {
	_, at, err := ogc.ParseFormatAt(rawQuery(c), ogc.FormatJSON)
	if err != nil {
		return err
	}
	name, err := url.PathUnescape(c.Params("name"))
	if err != nil {
		return geo.Errorf(geo.EInvalid, "malformed unit name in the path: %v", err)
	}
	key := s.baseURL(c) + c.OriginalURL() + "\x00" + time.Now().In(geo.DataZone).Format("2006")
	return s.answer(c, s.cache, key, s.apiCacheControl, globalStamp,
		func(ctx context.Context) ([]byte, map[string]string, error) {
			u, err := geo.PairedUnit(ctx, s.reads, name, at)
			if err != nil {
				return nil, nil, err
			}
			data, err := json.Marshal(u)
			return data, map[string]string{fiber.HeaderContentType: fiber.MIMEApplicationJSON}, err
		})
}
