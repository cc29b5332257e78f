package datacloudtest

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the pure-Go SQL engine behind queries
)

// Data Cloud column types the emulator uses.
const (
	typeVarchar   = "VARCHAR"
	typeDecimal   = "DECIMAL"
	typeTimestamp = "TIMESTAMP"
	typeBoolean   = "BOOLEAN"
	typeBigint    = "BIGINT"
)

var (
	identRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,254}$`)
	numberRE  = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
	isoTimeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$`)
)

// field is one name/value pair of a record, in the record's order.
type field struct {
	name  string
	value any // nil, string, bool, json.Number
}

type column struct{ name, typ string }

// object is one ingested object: a SQLite table of the same name.
type object struct {
	name    string
	sources map[string]bool
	pk      string
	cols    []column
}

func (o *object) column(name string) (column, bool) {
	for _, c := range o.cols {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return column{}, false
}

func openStore() (*sql.DB, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, err
	}
	// One connection: an in-memory database lives and dies with its connection.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, db.Ping()
}

// timestampDecl declares timestamp columns: text affinity, and not a type name the driver
// parses into time.Time (ingested text must come back as sent).
const timestampDecl = "VARCHAR_TIMESTAMP"

func ddlType(typ string) string {
	if typ == typeTimestamp {
		return timestampDecl
	}
	return typ
}

func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// inferType picks the column type for a first-seen value.
func inferType(v any) string {
	switch x := v.(type) {
	case json.Number:
		return typeDecimal
	case bool:
		return typeBoolean
	case string:
		if isoTimeRE.MatchString(x) {
			return typeTimestamp
		}
	}
	return typeVarchar
}

// csvValue turns a CSV cell into a typed value: empty → null, plain numbers → numbers,
// true/false → booleans, anything else stays text.
func csvValue(s string) any {
	switch {
	case s == "":
		return nil
	case numberRE.MatchString(s):
		return json.Number(s)
	case s == "true" || s == "false":
		return s == "true"
	}
	return s
}

// storeValue converts v for a column of type typ.
func storeValue(v any, typ string) any {
	switch x := v.(type) {
	case nil:
		return nil
	case json.Number:
		if typ == typeVarchar || typ == typeTimestamp {
			return x.String()
		}
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case bool:
		if typ == typeBoolean || typ == typeDecimal {
			if x {
				return int64(1)
			}
			return int64(0)
		}
		return strconv.FormatBool(x)
	case string:
		if typ == typeBoolean && (x == "true" || x == "false") {
			return storeValue(x == "true", typ)
		}
		if typ == typeDecimal && numberRE.MatchString(x) {
			return storeValue(json.Number(x), typ)
		}
		return x
	}
	return fmt.Sprint(v)
}

// readValue converts a value read from SQLite back for a column of type typ.
func readValue(v any, typ string) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case int64:
		if typ == typeBoolean {
			return x != 0
		}
	}
	return v
}

// ensureObjectLocked creates the object's table or adds the columns records need.
func (s *Server) ensureObjectLocked(source, name string, records [][]field) (*object, error) {
	if !identRE.MatchString(name) {
		return nil, fmt.Errorf("invalid object name %q", name)
	}
	o, ok := s.objects[strings.ToLower(name)]
	if !ok {
		o = &object{name: name, sources: map[string]bool{}, pk: s.opts.Objects[name].PrimaryKey}
	}
	var add []column
	untyped := map[int]bool{} // columns of add seen only with null values so far
	for _, rec := range records {
		for _, f := range rec {
			if !identRE.MatchString(f.name) {
				return nil, fmt.Errorf("invalid field name %q", f.name)
			}
			if _, exists := o.column(f.name); exists {
				continue
			}
			if i := indexCol(add, f.name); i >= 0 {
				if untyped[i] && f.value != nil {
					add[i].typ, untyped[i] = inferType(f.value), false
				}
				continue
			}
			untyped[len(add)] = f.value == nil
			add = append(add, column{name: f.name, typ: inferType(f.value)})
		}
	}
	if !ok {
		if len(add) == 0 {
			return nil, fmt.Errorf("object %s: records have no fields", name)
		}
		if o.pk == "" {
			o.pk = add[0].name
		}
		defs := make([]string, len(add))
		for i, c := range add {
			defs[i] = quoteIdent(c.name) + " " + ddlType(c.typ)
		}
		if _, err := s.db.Exec("CREATE TABLE " + quoteIdent(name) + " (" + strings.Join(defs, ", ") + ")"); err != nil {
			return nil, fmt.Errorf("create table %s: %w", name, err)
		}
		if indexCol(add, o.pk) < 0 {
			// A configured key the first records lack still needs its column.
			add = append(add, column{name: o.pk, typ: typeVarchar})
			if _, err := s.db.Exec("ALTER TABLE " + quoteIdent(name) + " ADD COLUMN " + quoteIdent(o.pk) + " " + typeVarchar); err != nil {
				return nil, fmt.Errorf("add key column %s.%s: %w", name, o.pk, err)
			}
		}
		// Upserts and deletes look rows up by key: without an index each is a table scan.
		if _, err := s.db.Exec("CREATE INDEX " + quoteIdent("pk_"+name) + " ON " + quoteIdent(name) + " (" + quoteIdent(o.pk) + ")"); err != nil {
			return nil, fmt.Errorf("index %s.%s: %w", name, o.pk, err)
		}
		o.cols = add
		s.objects[strings.ToLower(name)] = o
	} else {
		for _, c := range add {
			if _, err := s.db.Exec("ALTER TABLE " + quoteIdent(o.name) + " ADD COLUMN " + quoteIdent(c.name) + " " + ddlType(c.typ)); err != nil {
				return nil, fmt.Errorf("add column %s.%s: %w", name, c.name, err)
			}
			o.cols = append(o.cols, c)
		}
	}
	if source != "" {
		o.sources[source] = true
	}
	return o, nil
}

func indexCol(cols []column, name string) int {
	for i, c := range cols {
		if strings.EqualFold(c.name, name) {
			return i
		}
	}
	return -1
}

// upsertLocked writes records, replacing rows with the same primary key.
func (s *Server) upsertLocked(source, name string, records [][]field) error {
	o, err := s.ensureObjectLocked(source, name, records)
	if err != nil {
		return err
	}
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	table, key := quoteIdent(o.name), quoteIdent(o.pk)
	del, err := tx.Prepare("DELETE FROM " + table + " WHERE " + key + " = ?")
	if err != nil {
		return err
	}
	defer del.Close()
	inserts := map[string]*sql.Stmt{} // by column list: records of one batch usually share it
	defer func() {
		for _, st := range inserts {
			st.Close()
		}
	}()
	for _, rec := range records {
		names := make([]string, 0, len(rec))
		args := make([]any, 0, len(rec))
		var keyValue any
		for _, f := range rec {
			c, _ := o.column(f.name)
			v := storeValue(f.value, c.typ)
			if strings.EqualFold(f.name, o.pk) {
				keyValue = v
			}
			names = append(names, quoteIdent(c.name))
			args = append(args, v)
		}
		if keyValue != nil {
			if _, err := del.Exec(keyValue); err != nil {
				return err
			}
		}
		cols := strings.Join(names, ", ")
		ins, ok := inserts[cols]
		if !ok {
			marks := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
			if ins, err = tx.Prepare("INSERT INTO " + table + " (" + cols + ") VALUES (" + marks + ")"); err != nil {
				return err
			}
			inserts[cols] = ins
		}
		if _, err := ins.Exec(args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// deleteLocked removes rows whose primary key is one of ids; an unknown object is a no-op.
func (s *Server) deleteLocked(source, name string, ids []string) error {
	o, ok := s.objects[strings.ToLower(name)]
	if !ok {
		return nil
	}
	if source != "" {
		o.sources[source] = true
	}
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for _, id := range ids {
		if _, err := tx.Exec("DELETE FROM "+quoteIdent(o.name)+" WHERE "+quoteIdent(o.pk)+" = ?", id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Records returns the rows of object (in insertion order) if source ever wrote to it.
// Numbers come back as int64 or float64, booleans as bool, null as nil.
func (s *Server) Records(source, objectName string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceJobsLocked()
	o, ok := s.objects[strings.ToLower(objectName)]
	if !ok || !o.sources[source] {
		return nil
	}
	rows, err := s.db.Query("SELECT * FROM " + quoteIdent(o.name) + " ORDER BY rowid")
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(o.cols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return out
		}
		m := make(map[string]any, len(vals))
		for i, c := range o.cols {
			m[c.name] = readValue(vals[i], c.typ)
		}
		out = append(out, m)
	}
	return out
}

// Objects returns the names of the ingested objects, sorted.
func (s *Server) Objects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceJobsLocked()
	names := make([]string, 0, len(s.objects))
	for _, o := range s.objects {
		names = append(names, o.name)
	}
	sort.Strings(names)
	return names
}
