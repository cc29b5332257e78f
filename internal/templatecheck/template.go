// Package templatecheck reads the project's SAM template (template.yaml) and checks it against
// the contract: runtime and build settings, environment variables, least-privilege policies and
// IAM auth on every API route. cmd/sam-local uses the same reader to run functions locally.
//
// CloudFormation's short tags (!Ref, !Sub, !GetAtt, !If, ...) are turned into their long forms
// ({"Ref": x}, {"Fn::Sub": x}, ...) so the rest of the code sees one shape.
package templatecheck

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template.
type Template struct {
	Parameters map[string]Parameter
	Conditions map[string]any
	Resources  map[string]Resource
	// Globals holds the Globals section, keyed by resource kind ("Function", "HttpApi").
	Globals map[string]map[string]any
}

// Parameter is one entry of the Parameters section.
type Parameter struct {
	Type    string
	Default string
	// HasDefault tells an empty default from none.
	HasDefault bool
	// MinValue and MaxValue are a Number parameter's bounds ("" when absent).
	MinValue, MaxValue string
}

// Resource is one entry of the Resources section.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	Condition  string
}

// Load reads and parses a template file.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("datacloud: read template: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("datacloud: parse template %s: %w", path, err)
	}
	return t, nil
}

// Parse parses a template from YAML (JSON is YAML too).
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("empty template")
	}
	v, err := decodeNode(doc.Content[0])
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("template is not a mapping")
	}
	t := &Template{
		Parameters: map[string]Parameter{},
		Conditions: asMap(root["Conditions"]),
		Resources:  map[string]Resource{},
		Globals:    map[string]map[string]any{},
	}
	for name, raw := range asMap(root["Parameters"]) {
		m := asMap(raw)
		p := Parameter{Type: asString(m["Type"]), MinValue: scalarString(m["MinValue"]), MaxValue: scalarString(m["MaxValue"])}
		if d, ok := m["Default"]; ok {
			p.Default, p.HasDefault = scalarString(d), true
		}
		t.Parameters[name] = p
	}
	for name, raw := range asMap(root["Resources"]) {
		m := asMap(raw)
		if m == nil {
			return nil, fmt.Errorf("resource %s is not a mapping", name)
		}
		r := Resource{
			Type:       asString(m["Type"]),
			Properties: asMap(m["Properties"]),
			Metadata:   asMap(m["Metadata"]),
			Condition:  asString(m["Condition"]),
		}
		if r.Type == "" {
			return nil, fmt.Errorf("resource %s has no Type", name)
		}
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
		t.Resources[name] = r
	}
	for kind, raw := range asMap(root["Globals"]) {
		t.Globals[kind] = asMap(raw)
	}
	return t, nil
}

// intrinsicTags maps CloudFormation short tags to their long function names.
var intrinsicTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!If": "Fn::If", "!Equals": "Fn::Equals",
	"!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!FindInMap": "Fn::FindInMap",
	"!Base64": "Fn::Base64", "!ImportValue": "Fn::ImportValue", "!GetAZs": "Fn::GetAZs",
	"!Cidr": "Fn::Cidr", "!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString",
}

// decodeNode turns a YAML node into plain Go values (map[string]any, []any, string, bool,
// int64, float64, nil), rewriting short intrinsic tags into their long forms.
func decodeNode(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return decodeNode(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := decodeNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := decodeNode(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		v = scalarValue(n)
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	fn, ok := intrinsicTags[n.Tag]
	if !ok {
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
		}
		return v, nil
	}
	if fn == "Fn::GetAtt" {
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, s)
			}
			v = []any{res, attr}
		}
	}
	return map[string]any{fn: v}, nil
}

func scalarValue(n *yaml.Node) any {
	// Tagged scalars (!Ref X) carry a custom tag; their value is always the text.
	switch n.ShortTag() {
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f
		}
	case "!!bool":
		if b, err := strconv.ParseBool(n.Value); err == nil {
			return b
		}
	case "!!null":
		return nil
	}
	return n.Value
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// asList returns v as a list; a single value becomes a one-element list.
func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// scalarString renders a scalar the way CloudFormation passes it on (numbers as decimal text).
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// Function is a serverless function with the template's Globals applied.
type Function struct {
	LogicalID string
	Runtime   string
	Handler   string
	// Architectures as declared (SAM's default is x86_64 when absent).
	Architectures []string
	Timeout       any
	MemorySize    any
	BuildMethod   string
	// Env holds the unresolved environment variables (Globals merged, the function's own win).
	Env map[string]any
	// Policies is the function's Policies property as a list.
	Policies []any
	// Events is the function's Events property.
	Events     map[string]any
	Properties map[string]any
}

// Functions returns every AWS::Serverless::Function, sorted by logical id.
func (t *Template) Functions() []Function {
	g := t.Globals["Function"]
	var out []Function
	for id, r := range t.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		prop := func(k string) any {
			if v, ok := r.Properties[k]; ok {
				return v
			}
			return g[k]
		}
		f := Function{
			LogicalID:   id,
			Runtime:     asString(prop("Runtime")),
			Handler:     asString(prop("Handler")),
			Timeout:     prop("Timeout"),
			MemorySize:  prop("MemorySize"),
			BuildMethod: asString(r.Metadata["BuildMethod"]),
			Env:         map[string]any{},
			Policies:    asList(r.Properties["Policies"]),
			Events:      asMap(r.Properties["Events"]),
			Properties:  r.Properties,
		}
		for _, a := range asList(prop("Architectures")) {
			f.Architectures = append(f.Architectures, scalarString(a))
		}
		for _, src := range []map[string]any{g, r.Properties} {
			for k, v := range asMap(asMap(asMap(src)["Environment"])["Variables"]) {
				f.Env[k] = v
			}
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out
}

// Function returns the function with the given logical id.
func (t *Template) Function(id string) (Function, error) {
	for _, f := range t.Functions() {
		if f.LogicalID == id {
			return f, nil
		}
	}
	var ids []string
	for _, f := range t.Functions() {
		ids = append(ids, f.LogicalID)
	}
	return Function{}, fmt.Errorf("datacloud: template: no function %q (have %s)", id, strings.Join(ids, ", "))
}

// Route is one HttpApi route of a function.
type Route struct {
	Method, Path string
	Function     string // logical id
}

// Routes returns every HttpApi event route, sorted by path and method.
func (t *Template) Routes() []Route {
	var out []Route
	for _, f := range t.Functions() {
		for _, ev := range f.Events {
			em := asMap(ev)
			if asString(em["Type"]) != "HttpApi" {
				continue
			}
			p := asMap(em["Properties"])
			out = append(out, Route{Method: strings.ToUpper(asString(p["Method"])), Path: asString(p["Path"]), Function: f.LogicalID})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}
