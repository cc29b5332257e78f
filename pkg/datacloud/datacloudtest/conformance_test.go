package datacloudtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The conformance test replays the requests of Salesforce's Postman collection that the
// emulator implements and compares status codes and JSON shapes with the saved examples.

// pmItem is a request of the Postman collection (schema v2.1).
type pmItem struct {
	Name    string   `json:"name"`
	Item    []pmItem `json:"item"`
	Request *struct {
		Method string `json:"method"`
		Header []pmKV `json:"header"`
		Body   *struct {
			Raw string `json:"raw"`
		} `json:"body"`
		URL struct {
			Raw   string   `json:"raw"`
			Path  []string `json:"path"`
			Query []pmKV   `json:"query"`
		} `json:"url"`
	} `json:"request"`
	Response []struct {
		Name   string `json:"name"`
		Code   *int   `json:"code"`
		Header []pmKV `json:"header"`
		Body   string `json:"body"`
	} `json:"response"`
	folder string
}

type pmKV struct {
	Key      string  `json:"key"`
	Value    *string `json:"value"`
	Disabled bool    `json:"disabled"`
}

// sharedDir returns the repository's sibling "shared" directory, or skips the test when it
// is absent (failing instead under REQUIRE_SHARED=1).
func sharedDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(shared); err != nil {
		if os.Getenv("REQUIRE_SHARED") == "1" {
			t.Fatalf("REQUIRE_SHARED=1 but %s is missing: %v", shared, err)
		}
		t.Skipf("%s is absent", shared)
	}
	return shared
}

func loadCollection(t *testing.T) []pmItem {
	t.Helper()
	path := filepath.Join(sharedDir(t), "data", "postman", "datacloud-apis.postman_collection.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("REQUIRE_SHARED") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	var coll struct{ Item []pmItem }
	if err := json.Unmarshal(raw, &coll); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var flat []pmItem
	var walk func(items []pmItem, folder string)
	walk = func(items []pmItem, folder string) {
		for _, it := range items {
			if it.Request == nil {
				walk(it.Item, strings.TrimPrefix(folder+" › "+it.Name, " › "))
				continue
			}
			it.folder = folder
			flat = append(flat, it)
		}
	}
	walk(coll.Item, "")
	return flat
}

// documentedStatus is the status the docs give where Postman saved none (ingestion).
var documentedStatus = map[string]int{
	"Insert Records": 202, "Delete Records": 202, "Sync Record Validation": 200,
	"Create Job": 201, "Upload Job": 202, "Close Job": 200, "Abort Job": 200,
	"Delete Job": 204, "Get Job Info": 200, "Get All Jobs": 200,
}

// documentedV2 is the Query V2 shape from datacloud-api.md §5b: Postman's saved V2
// examples are copies of the V1 example (object rows), so they are not the reference.
const documentedV2 = `{"data":[["00034d6c-f5b4-348a-9fc2-7707d5b07dba","Larae"]],
 "startTime":"2021-09-21T10:38:55.520428Z","endTime":"2021-09-21T10:39:02.995939Z",
 "rowCount":1,"queryId":"20210921_103858_00784_rpkgk",
 "nextBatchId":"f98c7bcd-b1bd-4e8d-b98d-11aabdd6c604","done":false,
 "metadata":{"Id__c":{"type":"VARCHAR","placeInOrder":0,"typeCode":12},
             "FirstName__c":{"type":"VARCHAR","placeInOrder":1,"typeCode":12}}}`

var (
	queryRules = shapeRules{maps: []string{"$.data[]", "$.metadata"}, scalars: []string{"$.data[].*", "$.data[][]"}}
	fromRE     = regexp.MustCompile(`(?i)\bFROM\s+([A-Za-z_][A-Za-z0-9_]*)`)
)

// expectedShape returns the reference shape of a request's answer and where it comes from.
func expectedShape(t *testing.T, it pmItem, all []pmItem) (*shape, string) {
	t.Helper()
	decode := func(body string) any {
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("%s: recorded body: %v", it.Name, err)
		}
		return v
	}
	switch {
	case strings.HasPrefix(it.folder, "Query API V2"):
		s := inferShape(decode(documentedV2), "$", queryRules)
		s.required["nextBatchId"] = false // absent on the final batch
		return s, "documented (datacloud-api.md §5b)"
	case strings.HasPrefix(it.folder, "Metadata API"):
		// An entity's optional keys (relationships, indexes...) vary by entity type, so the
		// reference is the shape merged over every saved metadata example.
		var s *shape
		for _, other := range all {
			if strings.HasPrefix(other.folder, "Metadata API") {
				for _, r := range other.Response {
					s = mergeShape(s, inferShape(decode(r.Body), "$", shapeRules{}))
				}
			}
		}
		return s, "recorded (all metadata examples merged)"
	case len(it.Response) == 0 || strings.TrimSpace(it.Response[0].Body) == "":
		return nil, "no recorded body"
	}
	var s *shape
	for _, r := range it.Response {
		s = mergeShape(s, inferShape(decode(r.Body), "$", queryRules))
	}
	return s, "recorded"
}

// seedFromCollection derives object settings and records from the saved examples, so the
// replayed queries and metadata requests find the tables they name.
func seedFromCollection(t *testing.T, items []pmItem) (map[string]ObjectSpec, map[string][]map[string]any) {
	t.Helper()
	specs := map[string]ObjectSpec{"runner_profiles": {PrimaryKey: "maid", Category: "Engagement"}}
	records := map[string][]map[string]any{}
	sample := map[string]any{"STRING": "x", "DATE_TIME": "2024-01-25T11:43:09.000Z", "NUMBER": 1.0, "BOOLEAN": true}
	for _, it := range items {
		for _, r := range it.Response {
			var body struct {
				Metadata json.RawMessage
				Data     []map[string]any
			}
			if json.Unmarshal([]byte(r.Body), &body) != nil {
				continue
			}
			var entities []struct {
				Name, Category string
				Fields         []struct{ Name, Type string }
				PrimaryKeys    []struct{ Name string }
			}
			if it.folder == "Metadata API" && json.Unmarshal(body.Metadata, &entities) == nil {
				for _, e := range entities {
					if _, seen := specs[e.Name]; seen {
						continue
					}
					spec := ObjectSpec{Category: e.Category}
					if len(e.PrimaryKeys) > 0 {
						spec.PrimaryKey = e.PrimaryKeys[0].Name
					}
					specs[e.Name] = spec
					rec := map[string]any{}
					for _, f := range e.Fields {
						rec[f.Name] = sample[f.Type]
					}
					records[e.Name] = append(records[e.Name], rec)
				}
			}
			if m := fromRE.FindStringSubmatch(rawBody(it)); m != nil && len(body.Data) > 0 && !strings.Contains(it.folder, "V2") {
				records[m[1]] = append(records[m[1]], body.Data...)
				if _, ok := specs[m[1]]; !ok {
					specs[m[1]] = ObjectSpec{PrimaryKey: uniqueColumn(body.Data)}
				}
			}
		}
	}
	return specs, records
}

func rawBody(it pmItem) string {
	if it.Request.Body == nil {
		return ""
	}
	return it.Request.Body.Raw
}

// uniqueColumn picks a column whose values differ on every row, to serve as primary key.
func uniqueColumn(rows []map[string]any) string {
	var cols []string
	for k := range rows[0] {
		cols = append(cols, k)
	}
	slices.Sort(cols)
	for _, c := range cols {
		seen := map[string]bool{}
		for _, r := range rows {
			seen[fmt.Sprint(r[c])] = true
		}
		if len(seen) == len(rows) {
			return c
		}
	}
	return ""
}
