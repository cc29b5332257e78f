package datacloudtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// shape is the JSON structure of a recorded body: keys and value types, recursively.
// Arrays hold the merged shape of all their elements: a key is required when every
// element has it, allowed when any has it.
type shape struct {
	kind     string // object, map, array, string, number, bool, scalar, null
	fields   map[string]*shape
	required map[string]bool
	elem     *shape // array elements, map values
}

// shapeRules names the JSON paths whose objects are keyed by data (column names) rather
// than by a fixed set of keys, and the paths whose values are any scalar (row cells).
type shapeRules struct {
	maps    []string
	scalars []string
}

func inferShape(v any, path string, rules shapeRules) *shape {
	if slices.Contains(rules.scalars, path) {
		switch v.(type) {
		case map[string]any, []any:
		default:
			return &shape{kind: "scalar"}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		if slices.Contains(rules.maps, path) {
			var elem *shape
			for _, val := range x {
				elem = mergeShape(elem, inferShape(val, path+".*", rules))
			}
			return &shape{kind: "map", elem: elem}
		}
		s := &shape{kind: "object", fields: map[string]*shape{}, required: map[string]bool{}}
		for k, val := range x {
			s.fields[k] = inferShape(val, path+"."+k, rules)
			s.required[k] = true
		}
		return s
	case []any:
		s := &shape{kind: "array"}
		for _, val := range x {
			s.elem = mergeShape(s.elem, inferShape(val, path+"[]", rules))
		}
		return s
	case string:
		return &shape{kind: "string"}
	case float64:
		return &shape{kind: "number"}
	case bool:
		return &shape{kind: "bool"}
	}
	return &shape{kind: "null"}
}

// mergeShape unites two shapes of the same place (elements of one array, or bodies of
// several examples of one request).
func mergeShape(a, b *shape) *shape {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.kind == "null":
		return b
	case b.kind == "null":
		return a
	case a.kind != b.kind:
		return &shape{kind: "scalar"}
	}
	switch a.kind {
	case "object":
		m := &shape{kind: "object", fields: map[string]*shape{}, required: map[string]bool{}}
		for k, f := range a.fields {
			m.fields[k] = mergeShape(f, b.fields[k])
			m.required[k] = a.required[k] && b.required[k]
		}
		for k, f := range b.fields {
			if _, ok := a.fields[k]; !ok {
				m.fields[k] = f
			}
		}
		return m
	case "array", "map":
		return &shape{kind: a.kind, elem: mergeShape(a.elem, b.elem)}
	}
	return a
}

// compareShape lists how got departs from want: missing required keys, keys the recording
// never had, and type changes. null is accepted anywhere (columns are nullable).
func compareShape(want *shape, got any, path string) []string {
	if want == nil || got == nil {
		return nil
	}
	kindOf := func(v any) string {
		switch v.(type) {
		case map[string]any:
			return "object"
		case []any:
			return "array"
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "bool"
		}
		return "null"
	}
	k := kindOf(got)
	switch want.kind {
	case "null":
		return nil
	case "scalar":
		if k == "object" || k == "array" {
			return []string{fmt.Sprintf("%s: got %s, want a scalar", path, k)}
		}
		return nil
	case "map":
		m, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want object", path, k)}
		}
		var diffs []string
		for key, v := range m {
			diffs = append(diffs, compareShape(want.elem, v, path+"."+key)...)
		}
		return diffs
	case "object":
		m, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want object", path, k)}
		}
		var diffs []string
		for key := range want.required {
			if _, has := m[key]; !has && want.required[key] {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, key))
			}
		}
		for key, v := range m {
			f, known := want.fields[key]
			if !known {
				diffs = append(diffs, fmt.Sprintf("%s.%s: not in the recorded shape", path, key))
				continue
			}
			diffs = append(diffs, compareShape(f, v, path+"."+key)...)
		}
		return diffs
	case "array":
		arr, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want array", path, k)}
		}
		if want.elem != nil && len(arr) == 0 {
			return []string{fmt.Sprintf("%s: got an empty array, the recording has elements", path)}
		}
		var diffs []string
		for i, v := range arr {
			diffs = append(diffs, compareShape(want.elem, v, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return diffs
	}
	if k != want.kind {
		return []string{fmt.Sprintf("%s: got %s, want %s", path, k, want.kind)}
	}
	return nil
}

func TestCompareShape(t *testing.T) {
	rules := shapeRules{maps: []string{"$.m"}, scalars: []string{"$.rows[][]"}}
	recorded := map[string]any{
		"a": "x", "n": 1.0, "list": []any{map[string]any{"k": "v", "opt": true}, map[string]any{"k": "w"}},
		"m": map[string]any{"c1": map[string]any{"t": "s"}}, "rows": []any{[]any{"x", 1.0}}, "nul": nil,
	}
	want := inferShape(recorded, "$", rules)
	for _, tc := range []struct {
		name string
		got  map[string]any
		diff string // "" = conforms
	}{
		{"same", recorded, ""},
		{"optional key absent, null value, other map keys", map[string]any{"a": nil, "n": 2.0, "list": []any{map[string]any{"k": "z"}}, "m": map[string]any{"zz": map[string]any{"t": "u"}}, "rows": []any{[]any{true, nil}}, "nul": "s"}, ""},
		{"missing key", map[string]any{"n": 1.0, "list": []any{}, "m": map[string]any{}, "rows": []any{}, "nul": nil}, "$.a: missing"},
		{"extra key", map[string]any{"a": "x", "n": 1.0, "list": []any{map[string]any{"k": "v"}}, "m": map[string]any{}, "rows": []any{[]any{}}, "nul": nil, "new": 1.0}, "$.new: not in the recorded shape"},
		{"type change", map[string]any{"a": 1.0, "n": 1.0, "list": []any{map[string]any{"k": "v"}}, "m": map[string]any{}, "rows": []any{[]any{}}, "nul": nil}, "$.a: got number, want string"},
		{"empty array", map[string]any{"a": "x", "n": 1.0, "list": []any{}, "m": map[string]any{}, "rows": []any{[]any{}}, "nul": nil}, "$.list: got an empty array"},
		{"nested element", map[string]any{"a": "x", "n": 1.0, "list": []any{map[string]any{"k": 1.0}}, "m": map[string]any{}, "rows": []any{[]any{}}, "nul": nil}, "$.list[0].k: got number"},
		{"map value", map[string]any{"a": "x", "n": 1.0, "list": []any{map[string]any{"k": "v"}}, "m": map[string]any{"c": "flat"}, "rows": []any{[]any{}}, "nul": nil}, "$.m.c: got string, want object"},
		{"cell not scalar", map[string]any{"a": "x", "n": 1.0, "list": []any{map[string]any{"k": "v"}}, "m": map[string]any{}, "rows": []any{[]any{[]any{}}}, "nul": nil}, "$.rows[0][0]: got array, want a scalar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := strings.Join(compareShape(want, tc.got, "$"), "; ")
			if tc.diff == "" && diffs != "" || tc.diff != "" && !strings.Contains(diffs, tc.diff) {
				t.Fatalf("diffs %q, want %q", diffs, tc.diff)
			}
		})
	}
}
