package templatecheck

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// noValue is what AWS::NoValue resolves to: the property is dropped.
type noValue struct{}

// Resolver evaluates intrinsic functions the way a local run needs them: parameters from their
// defaults and overrides, pseudo parameters from fixed local values, and a Ref to a resource as
// its logical id (there is no physical resource locally; env.json overrides such values).
type Resolver struct {
	t      *Template
	params map[string]string
	pseudo map[string]string
}

// NewResolver returns a resolver using each parameter's default, replaced by overrides.
// It fails when an override names an unknown parameter or a parameter has no value.
func (t *Template) NewResolver(overrides map[string]string) (*Resolver, error) {
	r := &Resolver{t: t, params: map[string]string{}, pseudo: map[string]string{
		"AWS::Region":    "us-east-1",
		"AWS::AccountId": "123456789012",
		"AWS::StackName": "local",
		"AWS::Partition": "aws",
		"AWS::URLSuffix": "amazonaws.com",
	}}
	for name, p := range t.Parameters {
		if p.HasDefault {
			r.params[name] = p.Default
		}
	}
	for k, v := range overrides {
		if _, ok := t.Parameters[k]; !ok {
			return nil, fmt.Errorf("datacloud: parameter overrides: unknown parameter %q", k)
		}
		r.params[k] = v
	}
	for name := range t.Parameters {
		if _, ok := r.params[name]; !ok {
			return nil, fmt.Errorf("datacloud: parameter overrides: parameter %q has no default and no override", name)
		}
	}
	return r, nil
}

// Param returns a parameter's resolved value.
func (r *Resolver) Param(name string) (string, bool) {
	v, ok := r.params[name]
	return v, ok
}

// String resolves v to a string. ok is false when v resolves to AWS::NoValue.
func (r *Resolver) String(v any) (s string, ok bool, err error) {
	out, err := r.Resolve(v)
	if err != nil {
		return "", false, err
	}
	if _, drop := out.(noValue); drop {
		return "", false, nil
	}
	switch x := out.(type) {
	case map[string]any, []any:
		return "", false, fmt.Errorf("datacloud: template: %v does not resolve to a string", v)
	default:
		return scalarString(x), true, nil
	}
}

// Resolve evaluates every intrinsic function inside v.
func (r *Resolver) Resolve(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			val, err := r.Resolve(e)
			if err != nil {
				return nil, err
			}
			if _, drop := val.(noValue); !drop {
				out[k] = val
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			val, err := r.Resolve(e)
			if err != nil {
				return nil, err
			}
			if _, drop := val.(noValue); !drop {
				out = append(out, val)
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

func (r *Resolver) intrinsic(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		return r.ref(asString(arg))
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::GetAtt":
		parts := asList(arg)
		if len(parts) != 2 {
			return nil, fmt.Errorf("datacloud: template: Fn::GetAtt needs [resource, attribute], got %v", arg)
		}
		return scalarString(parts[0]) + "." + scalarString(parts[1]), nil
	case "Fn::If":
		parts := asList(arg)
		if len(parts) != 3 {
			return nil, fmt.Errorf("datacloud: template: Fn::If needs 3 arguments, got %v", arg)
		}
		cond, err := r.Condition(asString(parts[0]))
		if err != nil {
			return nil, err
		}
		if cond {
			return r.Resolve(parts[1])
		}
		return r.Resolve(parts[2])
	case "Fn::Join":
		parts := asList(arg)
		if len(parts) != 2 {
			return nil, fmt.Errorf("datacloud: template: Fn::Join needs [delimiter, list], got %v", arg)
		}
		list, err := r.Resolve(parts[1])
		if err != nil {
			return nil, err
		}
		var ss []string
		for _, e := range asList(list) {
			ss = append(ss, scalarString(e))
		}
		return strings.Join(ss, scalarString(parts[0])), nil
	case "Fn::Select":
		parts := asList(arg)
		if len(parts) != 2 {
			return nil, fmt.Errorf("datacloud: template: Fn::Select needs [index, list], got %v", arg)
		}
		i, err := strconv.Atoi(scalarString(parts[0]))
		list, lerr := r.Resolve(parts[1])
		if err != nil || lerr != nil || i < 0 || i >= len(asList(list)) {
			return nil, fmt.Errorf("datacloud: template: Fn::Select index %v out of range", parts[0])
		}
		return asList(list)[i], nil
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return r.evalCondition(map[string]any{fn: arg})
	}
	return nil, fmt.Errorf("datacloud: template: %s is not supported locally", fn)
}

func (r *Resolver) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := r.pseudo[name]; ok {
		return v, nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if _, ok := r.t.Resources[name]; ok {
		return name, nil
	}
	return nil, fmt.Errorf("datacloud: template: Ref to unknown name %q", name)
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func (r *Resolver) sub(arg any) (any, error) {
	var (
		text string
		vars = map[string]any{}
	)
	switch x := arg.(type) {
	case string:
		text = x
	case []any:
		if len(x) != 2 {
			return nil, fmt.Errorf("datacloud: template: Fn::Sub needs a string or [string, map], got %v", arg)
		}
		text = asString(x[0])
		vars = asMap(x[1])
	default:
		return nil, fmt.Errorf("datacloud: template: Fn::Sub needs a string, got %v", arg)
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		var v any
		var err error
		if local, ok := vars[name]; ok {
			v, err = r.Resolve(local)
		} else if res, attr, found := strings.Cut(name, "."); found && !strings.HasPrefix(name, "AWS::") {
			v = res + "." + attr
		} else {
			v, err = r.ref(name)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return scalarString(v)
	})
	if firstErr != nil {
		return nil, firstErr
	}
	// ${!Literal} renders as ${Literal}.
	return strings.ReplaceAll(out, "${!", "${"), nil
}

// Condition evaluates a named condition of the Conditions section.
func (r *Resolver) Condition(name string) (bool, error) {
	c, ok := r.t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("datacloud: template: unknown condition %q", name)
	}
	return r.evalCondition(c)
}

func (r *Resolver) evalCondition(c any) (bool, error) {
	m := asMap(c)
	if len(m) != 1 {
		return false, fmt.Errorf("datacloud: template: %v is not a condition", c)
	}
	for fn, arg := range m {
		args := asList(arg)
		switch fn {
		case "Condition":
			return r.Condition(asString(arg))
		case "Fn::Equals":
			if len(args) != 2 {
				return false, errors.New("datacloud: template: Fn::Equals needs 2 arguments")
			}
			a, _, err := r.String(args[0])
			if err != nil {
				return false, err
			}
			b, _, err := r.String(args[1])
			return a == b, err
		case "Fn::Not":
			if len(args) != 1 {
				return false, errors.New("datacloud: template: Fn::Not needs 1 argument")
			}
			v, err := r.evalCondition(args[0])
			return !v, err
		case "Fn::And", "Fn::Or":
			want := fn == "Fn::Or"
			for _, a := range args {
				v, err := r.evalCondition(a)
				if err != nil {
					return false, err
				}
				if v == want {
					return want, nil
				}
			}
			return !want, nil
		}
		return false, fmt.Errorf("datacloud: template: %s is not a condition function", fn)
	}
	return false, nil
}

// Env resolves a function's environment variables. Variables that resolve to AWS::NoValue are
// left out.
func (r *Resolver) Env(f Function) (map[string]string, error) {
	out := make(map[string]string, len(f.Env))
	for k, v := range f.Env {
		s, ok, err := r.String(v)
		if err != nil {
			return nil, fmt.Errorf("datacloud: template: %s environment %s: %w", f.LogicalID, k, err)
		}
		if ok {
			out[k] = s
		}
	}
	return out, nil
}
