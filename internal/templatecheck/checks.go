package templatecheck

import (
	"fmt"
	"sort"
	"strings"
)

// Finding is one problem a check found.
type Finding struct {
	Check    string // the check's name, e.g. "wildcard-resource"
	Resource string // the logical id it concerns
	Message  string
}

func (f Finding) String() string { return f.Check + ": " + f.Resource + ": " + f.Message }

// SecretAccess lists, per secret action, the secret resources (logical ids) a function may use.
type SecretAccess map[string][]string

// Rules is what a template must satisfy.
type Rules struct {
	// Env lists, per function logical id, the environment variables it must declare.
	Env map[string][]string
	// Secrets lists, per function logical id, the secrets it may touch and how.
	Secrets map[string]SecretAccess
	// NeedsSecrets lists, per function logical id, the access it cannot work without.
	NeedsSecrets map[string]SecretAccess
}

// ContractRules are the rules of contract §1 and §6 for this project's three functions.
func ContractRules() Rules {
	consumer := SecretAccess{
		"secretsmanager:GetSecretValue": {"TokenSecret", "CredentialsSecret"},
		"secretsmanager:PutSecretValue": {"TokenSecret"},
	}
	return Rules{
		Env: map[string][]string{
			"TokenRefreshFunction": {"DATACLOUD_TOKEN_SECRET", "DATACLOUD_CREDENTIALS_SECRET",
				"DATACLOUD_ALLOWED_HOSTS", "DATACLOUD_REFRESH_MARGIN", "LOG_LEVEL"},
			"S3IngestFunction": {"DATACLOUD_TOKEN_SECRET", "DATACLOUD_CREDENTIALS_SECRET",
				"DATACLOUD_ALLOWED_HOSTS", "INGEST_PREFIX", "INGEST_BULK_PART_BYTES",
				"INGEST_STREAMING_PAYLOAD_BYTES", "LOG_LEVEL"},
			"QueryTriggerFunction": {"DATACLOUD_TOKEN_SECRET", "DATACLOUD_CREDENTIALS_SECRET",
				"DATACLOUD_ALLOWED_HOSTS", "LOG_LEVEL"},
		},
		Secrets: map[string]SecretAccess{
			"TokenRefreshFunction": consumer,
			"S3IngestFunction":     consumer,
			"QueryTriggerFunction": consumer,
		},
		NeedsSecrets: map[string]SecretAccess{
			"TokenRefreshFunction": consumer,
			"S3IngestFunction":     {"secretsmanager:GetSecretValue": {"TokenSecret"}},
			"QueryTriggerFunction": {"secretsmanager:GetSecretValue": {"TokenSecret"}},
		},
	}
}

// Check runs every check and returns the findings, sorted.
func Check(t *Template, rules Rules) []Finding {
	var out []Finding
	out = append(out, CheckRuntime(t)...)
	out = append(out, CheckEnv(t, rules)...)
	out = append(out, CheckWildcardResources(t)...)
	out = append(out, CheckSecretAccess(t, rules)...)
	out = append(out, CheckAPIAuth(t)...)
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// CheckRuntime checks that every function runs a Go bootstrap on provided.al2023 / arm64 and is
// built by the Makefile.
func CheckRuntime(t *Template) []Finding {
	var out []Finding
	add := func(id, msg string, args ...any) {
		out = append(out, Finding{"runtime", id, fmt.Sprintf(msg, args...)})
	}
	for _, f := range t.Functions() {
		if f.Runtime != "provided.al2023" {
			add(f.LogicalID, "Runtime is %q, want provided.al2023", f.Runtime)
		}
		if f.Handler != "bootstrap" {
			add(f.LogicalID, "Handler is %q, want bootstrap", f.Handler)
		}
		if len(f.Architectures) != 1 || f.Architectures[0] != "arm64" {
			add(f.LogicalID, "Architectures is %v, want [arm64]", f.Architectures)
		}
		if f.BuildMethod != "makefile" {
			add(f.LogicalID, "Metadata.BuildMethod is %q, want makefile", f.BuildMethod)
		}
	}
	return out
}

// CheckEnv checks that each function declares the variables the contract says it reads, and
// that every function the template defines is known to the rules.
func CheckEnv(t *Template, rules Rules) []Finding {
	var out []Finding
	for _, f := range t.Functions() {
		want, known := rules.Env[f.LogicalID]
		if !known {
			out = append(out, Finding{"env", f.LogicalID, "function has no entry in the contract rules"})
			continue
		}
		for _, k := range want {
			if _, ok := f.Env[k]; !ok {
				out = append(out, Finding{"env", f.LogicalID, "missing environment variable " + k})
			}
		}
	}
	return out
}

// statement is one IAM policy statement with the function it belongs to.
type statement struct {
	owner     string
	effect    string
	actions   []string
	resources []any
}

// statements collects the inline statements of every function policy (both branches of an
// Fn::If) and of AWS::IAM::Policy / AWS::IAM::Role resources. A policy that cannot be reviewed
// (a managed policy name, a SAM policy template) is reported by the returned findings.
func statements(t *Template) ([]statement, []Finding) {
	var (
		out      []statement
		findings []Finding
	)
	var walkDoc func(owner string, doc any)
	walkDoc = func(owner string, doc any) {
		m := asMap(doc)
		if ifArgs, ok := m["Fn::If"]; ok && len(m) == 1 {
			for _, branch := range asList(ifArgs)[1:] {
				walkDoc(owner, branch)
			}
			return
		}
		if ref, ok := m["Ref"]; ok && len(m) == 1 && ref == "AWS::NoValue" {
			return
		}
		if st, ok := m["Statement"]; ok {
			for _, s := range asList(st) {
				sm := asMap(s)
				var acts []string
				for _, a := range asList(sm["Action"]) {
					acts = append(acts, strings.ToLower(scalarString(a)))
				}
				out = append(out, statement{owner, scalarString(sm["Effect"]), acts, asList(sm["Resource"])})
			}
			return
		}
		if s, ok := doc.(string); ok {
			if s != "AWSLambdaBasicExecutionRole" && s != "AWSXrayWriteOnlyAccess" {
				findings = append(findings, Finding{"policy", owner, "managed policy " + s + " cannot be reviewed; use inline statements"})
			}
			return
		}
		var names []string
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		findings = append(findings, Finding{"policy", owner, "policy " + strings.Join(names, ",") + " cannot be reviewed; use inline statements"})
	}
	for _, f := range t.Functions() {
		for _, p := range f.Policies {
			walkDoc(f.LogicalID, p)
		}
	}
	for id, r := range t.Resources {
		switch r.Type {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			walkDoc(id, r.Properties["PolicyDocument"])
		case "AWS::IAM::Role":
			for _, p := range asList(r.Properties["Policies"]) {
				walkDoc(id, asMap(p)["PolicyDocument"])
			}
		}
	}
	return out, findings
}

func touchesGuarded(actions []string) bool {
	for _, a := range actions {
		if a == "*" || strings.HasPrefix(a, "s3:") || strings.HasPrefix(a, "secretsmanager:") {
			return true
		}
	}
	return false
}

// isWildcard reports whether a resource grants every bucket, object or secret.
func isWildcard(res any) bool {
	var text string
	switch x := res.(type) {
	case string:
		text = x
	case map[string]any:
		if sub, ok := x["Fn::Sub"]; ok {
			if s, ok := sub.(string); ok {
				text = s
			} else {
				text = asString(asList(sub)[0])
			}
		} else {
			return false // Ref / GetAtt name one resource
		}
	}
	if text == "*" {
		return true
	}
	// ${AWS::Partition} and friends hold colons; a variable names one thing, so stand it in.
	text = subVar.ReplaceAllString(text, "v")
	if rest, ok := strings.CutPrefix(text, "arn:"); ok {
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) == 5 {
			switch {
			case parts[1] == "s3":
				bucket, _, _ := strings.Cut(parts[4], "/")
				return bucket == "" || strings.Contains(bucket, "*")
			case parts[1] == "secretsmanager":
				return strings.HasSuffix(parts[4], "secret:*") || parts[4] == "*"
			}
		}
	}
	return false
}

// CheckWildcardResources fails an Allow statement for S3 or Secrets Manager actions with a `*`
// resource (or a wildcard action such as s3:*).
func CheckWildcardResources(t *Template) []Finding {
	sts, out := statements(t)
	for _, s := range sts {
		if !strings.EqualFold(s.effect, "Allow") || !touchesGuarded(s.actions) {
			continue
		}
		for _, a := range s.actions {
			if a == "*" || a == "s3:*" || a == "secretsmanager:*" {
				out = append(out, Finding{"wildcard-resource", s.owner, "wildcard action " + a})
			}
		}
		for _, r := range s.resources {
			if isWildcard(r) {
				out = append(out, Finding{"wildcard-resource", s.owner,
					fmt.Sprintf("actions %s on wildcard resource %v", strings.Join(s.actions, ","), r)})
			}
		}
	}
	return out
}

// CheckSecretAccess fails a function that may use a secret (or an action on a secret) that its
// rules do not allow, a secret resource that is not a Ref to a secret of the template, and a
// function that lacks access it needs.
func CheckSecretAccess(t *Template, rules Rules) []Finding {
	sts, out := statements(t)
	granted := map[string]bool{} // owner + " " + action + " " + secret id
	for _, s := range sts {
		if strings.EqualFold(s.effect, "Allow") {
			for _, a := range s.actions {
				for _, r := range s.resources {
					granted[s.owner+" "+a+" "+asString(asMap(r)["Ref"])] = true
				}
			}
		}
	}
	for owner, needs := range rules.NeedsSecrets {
		if _, defined := t.Resources[owner]; !defined {
			continue
		}
		for action, ids := range needs {
			for _, id := range ids {
				if !granted[owner+" "+strings.ToLower(action)+" "+id] {
					out = append(out, Finding{"secret-access", owner, "lacks " + action + " on " + id})
				}
			}
		}
	}
	for _, s := range sts {
		if !strings.EqualFold(s.effect, "Allow") {
			continue
		}
		allowed, known := rules.Secrets[s.owner]
		for _, a := range s.actions {
			if !strings.HasPrefix(a, "secretsmanager:") && a != "*" {
				continue
			}
			if !known {
				out = append(out, Finding{"secret-access", s.owner, "has secret actions but no allowed set in the rules"})
				break
			}
			var ok []string
			for act, ids := range allowed {
				if strings.EqualFold(act, a) {
					ok = ids
				}
			}
			for _, r := range s.resources {
				id := asString(asMap(r)["Ref"])
				if id == "" || t.Resources[id].Type != "AWS::SecretsManager::Secret" {
					out = append(out, Finding{"secret-access", s.owner, fmt.Sprintf("%s on %v: not a Ref to a secret of this template", a, r)})
					continue
				}
				if !contains(ok, id) {
					out = append(out, Finding{"secret-access", s.owner, fmt.Sprintf("%s on %s is not needed", a, id)})
				}
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// CheckAPIAuth fails any API route that is not behind IAM authorization: every HttpApi must
// default to AWS_IAM, every HttpApi event must name such an API (or the implicit API must
// default to AWS_IAM) and must not switch its authorizer off. REST Api events are not allowed.
func CheckAPIAuth(t *Template) []Finding {
	var out []Finding
	iam := func(props map[string]any) bool {
		return asString(asMap(props["Auth"])["DefaultAuthorizer"]) == "AWS_IAM"
	}
	for id, r := range t.Resources {
		if r.Type == "AWS::Serverless::HttpApi" && !iam(r.Properties) && !iam(t.Globals["HttpApi"]) {
			out = append(out, Finding{"api-auth", id, "HttpApi without Auth.DefaultAuthorizer: AWS_IAM"})
		}
		if r.Type == "AWS::Serverless::Api" || r.Type == "AWS::ApiGatewayV2::Route" || r.Type == "AWS::ApiGateway::Method" {
			out = append(out, Finding{"api-auth", id, r.Type + " is not allowed; use an AWS::Serverless::HttpApi with IAM auth"})
		}
	}
	for _, f := range t.Functions() {
		for name, ev := range f.Events {
			em := asMap(ev)
			props := asMap(em["Properties"])
			where := f.LogicalID + "." + name
			switch asString(em["Type"]) {
			case "Api":
				out = append(out, Finding{"api-auth", where, "REST Api event; use an HttpApi with IAM auth"})
			case "HttpApi":
				if a := asString(asMap(props["Auth"])["Authorizer"]); a != "" && a != "AWS_IAM" {
					out = append(out, Finding{"api-auth", where, "route authorizer is " + a + ", want AWS_IAM"})
				}
				apiID := asString(asMap(props["ApiId"])["Ref"])
				if apiID == "" {
					if !iam(t.Globals["HttpApi"]) {
						out = append(out, Finding{"api-auth", where, "route on the implicit HttpApi, which has no IAM auth"})
					}
					continue
				}
				if t.Resources[apiID].Type != "AWS::Serverless::HttpApi" {
					out = append(out, Finding{"api-auth", where, "ApiId " + apiID + " is not an AWS::Serverless::HttpApi of this template"})
				}
			}
		}
	}
	return out
}
