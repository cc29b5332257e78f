package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dcbridge/datacloud-lambda/internal/querysvc"
)

// demoNote is the multi-line quoted field every 7th CSV row carries.
func demoNote(i int) string {
	return fmt.Sprintf("Called on day %d, said \"call back\".\nSecond line, with a comma", i%28+1)
}

func demoID(i int) string { return fmt.Sprintf("C%06d", i) }

// demoCSV is a contacts file with a header and n rows; every 7th Notes field is quoted and
// holds a newline, a comma and doubled quotes (RFC 4180).
func demoCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Id,FirstName,LastName,Email,Notes,Amount\n")
	first := []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Frances"}
	last := []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Allen"}
	for i := 1; i <= n; i++ {
		note := "plain note"
		if i%7 == 0 {
			note = `"` + strings.ReplaceAll(demoNote(i), `"`, `""`) + `"`
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s.%d@example.com,%s,%d.%02d\n", demoID(i), first[i%7], last[i%7],
			strings.ToLower(first[i%7]), i, note, i%1000, i%100)
	}
	return b.Bytes()
}

// demoJSONLines is an orders file with n records, one per line.
func demoJSONLines(n int) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := 1; i <= n; i++ {
		// OrderId first: it is the primary key (the emulator takes the first field).
		_ = enc.Encode(struct {
			OrderID   string  `json:"OrderId"`
			ContactID string  `json:"ContactId"`
			Total     float64 `json:"Total"`
			Status    string  `json:"Status"`
		}{fmt.Sprintf("O%06d", i), demoID(i%500 + 1), float64(i%997) + 0.5, []string{"open", "paid", "shipped"}[i%3]})
	}
	return b.Bytes()
}

// queryAnswer is a 200 POST /query body (contract §5).
type queryAnswer = querysvc.Answer

// call sends one request to the local API and decodes a JSON answer.
func (d *demo) call(ctx context.Context, method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.apiURL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s answered %d with a body that is not JSON: %.200s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode, nil
}

func (d *demo) queryBack(ctx context.Context) (string, error) {
	var lines []string
	rows := map[string]map[string]any{}
	var pages int
	req := map[string]string{"sql": "SELECT Id, FirstName, Email, Notes FROM Contact"}
	maxPages := d.csvRows + 10 // every answer holds at least one row, or it is the last
	for pages = 1; pages <= maxPages; pages++ {
		var ans queryAnswer
		status, err := d.call(ctx, http.MethodPost, "/query", req, &ans)
		if err != nil {
			return "", err
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("POST /query page %d answered %d", pages, status)
		}
		if ans.RowCount != len(ans.Rows) {
			return "", fmt.Errorf("page %d: rowCount %d but %d rows", pages, ans.RowCount, len(ans.Rows))
		}
		for _, r := range ans.Rows {
			rows[fmt.Sprint(r["Id"])] = r
		}
		if pages == 1 {
			var cols []string
			for _, c := range ans.Columns {
				cols = append(cols, c.Name+" "+c.Type)
			}
			lines = append(lines, fmt.Sprintf("POST /query {\"sql\": %q}", req["sql"]), "columns: "+strings.Join(cols, ", "))
		}
		if ans.Cursor == "" {
			break
		}
		if pages%2 == 0 {
			fmt.Fprintf(d.out, "      ... %d rows read in %d pages\n", len(rows), pages)
		}
		req = map[string]string{"cursor": ans.Cursor}
	}
	if len(rows) != d.csvRows {
		return "", fmt.Errorf("read %d distinct rows back, want %d", len(rows), d.csvRows)
	}
	lines = append(lines, fmt.Sprintf("read all %d rows in %d pages by following cursor", len(rows), pages))
	id := demoID(7)
	if got := fmt.Sprint(rows[id]["Notes"]); got != demoNote(7) {
		return "", fmt.Errorf("row %s Notes = %q, want the multi-line field %q", id, got, demoNote(7))
	}
	lines = append(lines, fmt.Sprintf("row %s kept its multi-line field: %q", id, demoNote(7)))

	var count queryAnswer
	if status, err := d.call(ctx, http.MethodPost, "/query", map[string]string{"sql": "SELECT COUNT(*) AS n FROM SalesOrder"}, &count); err != nil || status != 200 || len(count.Rows) != 1 {
		return "", fmt.Errorf("count query: status %d, %v", status, err)
	}
	if n := fmt.Sprint(count.Rows[0]["n"]); n != fmt.Sprint(d.jsonRows) {
		return "", fmt.Errorf("SalesOrder has %s rows, want %d", n, d.jsonRows)
	}
	lines = append(lines, fmt.Sprintf("SELECT COUNT(*) FROM SalesOrder -> %d (the JSON Lines records)", d.jsonRows))

	var meta json.RawMessage
	if status, err := d.call(ctx, http.MethodGet, "/metadata", nil, &meta); err != nil || status != 200 {
		return "", fmt.Errorf("GET /metadata: status %d, %v", status, err)
	}
	lines = append(lines, fmt.Sprintf("GET /metadata -> 200, %d bytes", len(meta)))

	var bad struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	status, err := d.call(ctx, http.MethodPost, "/query", map[string]string{"sql": ""}, &bad)
	if err != nil || status != http.StatusBadRequest || bad.Error.Code == "" {
		return "", fmt.Errorf("POST /query with an empty sql: status %d (want 400), %v", status, err)
	}
	lines = append(lines, fmt.Sprintf("POST /query {\"sql\": \"\"} -> 400 %s: %s", bad.Error.Code, bad.Error.Message))
	return strings.Join(lines, "\n"), nil
}
