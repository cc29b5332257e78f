package localstack

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Secrets Manager version stages.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// secretsManager is a small Secrets Manager speaking the JSON 1.1 protocol (X-Amz-Target
// secretsmanager.<Operation>): CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret,
// ListSecrets and DeleteSecret, with versions and the AWSCURRENT / AWSPREVIOUS stages.
// It does not check signatures, encrypt, rotate or replicate; a deleted secret is gone at once
// when ForceDeleteWithoutRecovery is set and otherwise answers "marked for deletion".
type secretsManager struct {
	region, account string
	now             func() time.Time

	mu      sync.Mutex
	secrets map[string]*secret // by name
}

type secret struct {
	name, arn, description string
	created, changed       time.Time
	deleted                *time.Time
	versions               map[string]*secretVersion
}

type secretVersion struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

func newSecretsManager(region, account string) *secretsManager {
	return &secretsManager{region: region, account: account, now: time.Now, secrets: map[string]*secret{}}
}

// smError is an error answer of the JSON protocol.
type smError struct {
	status int
	typ    string
	msg    string
}

func errNotFound() *smError {
	return &smError{http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."}
}

func errInvalidParam(msg string) *smError {
	return &smError{http.StatusBadRequest, "InvalidParameterException", msg}
}

func (sm *secretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	var in map[string]json.RawMessage
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &in)
	}
	if err != nil || r.Method != http.MethodPost {
		writeSMError(w, &smError{http.StatusBadRequest, "SerializationException", "the request body is not a JSON object"})
		return
	}
	handlers := map[string]func(map[string]json.RawMessage) (any, *smError){
		"CreateSecret":   sm.create,
		"GetSecretValue": sm.getValue,
		"PutSecretValue": sm.putValue,
		"DescribeSecret": sm.describe,
		"ListSecrets":    sm.list,
		"DeleteSecret":   sm.delete,
	}
	h, ok := handlers[op]
	if !ok {
		writeSMError(w, &smError{http.StatusBadRequest, "UnknownOperationException", "operation " + op + " is not supported by the local Secrets Manager"})
		return
	}
	sm.mu.Lock()
	out, serr := h(in)
	sm.mu.Unlock()
	if serr != nil {
		writeSMError(w, serr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func writeSMError(w http.ResponseWriter, e *smError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.typ)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.msg})
}

func str(in map[string]json.RawMessage, k string) (string, bool) {
	raw, ok := in[k]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newVersionID uses the caller's ClientRequestToken (the SDK and CLI always send one) so that
// retries are idempotent, as in AWS.
func newVersionID(in map[string]json.RawMessage) string {
	if tok, ok := str(in, "ClientRequestToken"); ok && tok != "" {
		return tok
	}
	h := randHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// lookup finds a secret by name or ARN. A secret marked for deletion is found only when
// includeDeleted is set.
func (sm *secretsManager) lookup(in map[string]json.RawMessage, includeDeleted bool) (*secret, *smError) {
	id, _ := str(in, "SecretId")
	if id == "" {
		return nil, errInvalidParam("SecretId is required")
	}
	s := sm.secrets[id]
	if s == nil {
		for _, c := range sm.secrets {
			if c.arn == id {
				s = c
			}
		}
	}
	if s == nil {
		return nil, errNotFound()
	}
	if s.deleted != nil && !includeDeleted {
		return nil, &smError{http.StatusBadRequest, "InvalidRequestException",
			"You can't perform this operation on the secret because it was marked for deletion."}
	}
	return s, nil
}

func secretValue(in map[string]json.RawMessage) (*string, []byte, *smError) {
	s, hasStr := str(in, "SecretString")
	b64, hasBin := str(in, "SecretBinary")
	switch {
	case hasStr && hasBin:
		return nil, nil, errInvalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	case hasBin:
		bin, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, nil, errInvalidParam("SecretBinary is not base64")
		}
		return nil, bin, nil
	case hasStr:
		return &s, nil, nil
	}
	return nil, nil, nil
}

func (sm *secretsManager) create(in map[string]json.RawMessage) (any, *smError) {
	name, _ := str(in, "Name")
	if name == "" {
		return nil, errInvalidParam("Name is required")
	}
	if _, exists := sm.secrets[name]; exists {
		return nil, &smError{http.StatusBadRequest, "ResourceExistsException", "The operation failed because the secret " + name + " already exists."}
	}
	now := sm.now().UTC()
	desc, _ := str(in, "Description")
	s := &secret{
		name: name, description: desc, created: now, changed: now,
		arn:      fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", sm.region, sm.account, name, randHex(3)),
		versions: map[string]*secretVersion{},
	}
	v, bin, err := secretValue(in)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"ARN": s.arn, "Name": s.name}
	if v != nil || bin != nil {
		id := newVersionID(in)
		s.versions[id] = &secretVersion{id: id, str: v, bin: bin, stages: []string{stageCurrent}, created: now}
		out["VersionId"] = id
	}
	sm.secrets[name] = s
	return out, nil
}

func (s *secret) current() *secretVersion {
	for _, v := range s.versions {
		if hasStage(v, stageCurrent) {
			return v
		}
	}
	return nil
}

func hasStage(v *secretVersion, stage string) bool {
	for _, st := range v.stages {
		if st == stage {
			return true
		}
	}
	return false
}

func (sm *secretsManager) getValue(in map[string]json.RawMessage) (any, *smError) {
	s, err := sm.lookup(in, false)
	if err != nil {
		return nil, err
	}
	vid, _ := str(in, "VersionId")
	stage, _ := str(in, "VersionStage")
	if vid == "" && stage == "" {
		stage = stageCurrent
	}
	var found *secretVersion
	for _, v := range s.versions {
		if (vid == "" || v.id == vid) && (stage == "" || hasStage(v, stage)) {
			found = v
		}
	}
	if found == nil {
		return nil, &smError{http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: " + stage}
	}
	out := map[string]any{
		"ARN": s.arn, "Name": s.name, "VersionId": found.id,
		"VersionStages": found.stages, "CreatedDate": epoch(found.created),
	}
	if found.str != nil {
		out["SecretString"] = *found.str
	} else {
		out["SecretBinary"] = base64.StdEncoding.EncodeToString(found.bin)
	}
	return out, nil
}

func (sm *secretsManager) putValue(in map[string]json.RawMessage) (any, *smError) {
	s, err := sm.lookup(in, false)
	if err != nil {
		return nil, err
	}
	v, bin, serr := secretValue(in)
	if serr != nil {
		return nil, serr
	}
	if v == nil && bin == nil {
		return nil, errInvalidParam("You must provide either SecretString or SecretBinary.")
	}
	id := newVersionID(in)
	if old, exists := s.versions[id]; exists {
		same := (old.str != nil && v != nil && *old.str == *v) || (old.bin != nil && string(old.bin) == string(bin))
		if !same {
			return nil, &smError{http.StatusBadRequest, "ResourceExistsException", "You can't modify an existing version, you can only create a new version."}
		}
		return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": id, "VersionStages": old.stages}, nil
	}
	stages := []string{stageCurrent}
	if raw, ok := in["VersionStages"]; ok {
		if json.Unmarshal(raw, &stages) != nil {
			return nil, errInvalidParam("VersionStages must be a list of strings")
		}
	}
	now := sm.now().UTC()
	for _, st := range stages {
		for _, other := range s.versions {
			if st == stageCurrent && hasStage(other, stageCurrent) {
				// The old current version becomes the previous one; the old previous loses it.
				for _, o := range s.versions {
					removeStage(o, stagePrevious)
				}
				other.stages = append(other.stages, stagePrevious)
			}
			removeStage(other, st)
		}
	}
	s.versions[id] = &secretVersion{id: id, str: v, bin: bin, stages: stages, created: now}
	s.changed = now
	// Versions without a stage are deprecated; AWS keeps about 100, this keeps none.
	for vid, o := range s.versions {
		if len(o.stages) == 0 {
			delete(s.versions, vid)
		}
	}
	return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": id, "VersionStages": stages}, nil
}

func removeStage(v *secretVersion, stage string) {
	kept := v.stages[:0]
	for _, st := range v.stages {
		if st != stage {
			kept = append(kept, st)
		}
	}
	v.stages = kept
}

func (s *secret) describe() map[string]any {
	stages := map[string][]string{}
	for id, v := range s.versions {
		stages[id] = v.stages
	}
	out := map[string]any{
		"ARN": s.arn, "Name": s.name, "CreatedDate": epoch(s.created),
		"LastChangedDate": epoch(s.changed), "VersionIdsToStages": stages,
	}
	if s.description != "" {
		out["Description"] = s.description
	}
	if s.deleted != nil {
		out["DeletedDate"] = epoch(*s.deleted)
	}
	return out
}

func (sm *secretsManager) describe(in map[string]json.RawMessage) (any, *smError) {
	s, err := sm.lookup(in, true)
	if err != nil {
		return nil, err
	}
	return s.describe(), nil
}

func (sm *secretsManager) list(map[string]json.RawMessage) (any, *smError) {
	names := make([]string, 0, len(sm.secrets))
	for n, s := range sm.secrets {
		if s.deleted == nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	list := make([]map[string]any, 0, len(names))
	for _, n := range names {
		list = append(list, sm.secrets[n].describe())
	}
	return map[string]any{"SecretList": list}, nil
}

func (sm *secretsManager) delete(in map[string]json.RawMessage) (any, *smError) {
	s, err := sm.lookup(in, false)
	if err != nil {
		return nil, err
	}
	var force bool
	if raw, ok := in["ForceDeleteWithoutRecovery"]; ok {
		_ = json.Unmarshal(raw, &force)
	}
	now := sm.now().UTC()
	when := now.Add(30 * 24 * time.Hour)
	if force {
		delete(sm.secrets, s.name)
		when = now
	} else {
		s.deleted = &now
	}
	return map[string]any{"ARN": s.arn, "Name": s.name, "DeletionDate": epoch(when)}, nil
}

// put stores a value directly (for Stack.PutSecret): it creates the secret or adds a version.
func (sm *secretsManager) put(name, value string) (arn string, err error) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	raw := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	in := map[string]json.RawMessage{"Name": raw(name), "SecretId": raw(name), "SecretString": raw(value)}
	if _, exists := sm.secrets[name]; !exists {
		if _, e := sm.create(in); e != nil {
			return "", fmt.Errorf("datacloud: local secrets: %s", e.msg)
		}
	} else if _, e := sm.putValue(in); e != nil {
		return "", fmt.Errorf("datacloud: local secrets: %s", e.msg)
	}
	return sm.secrets[name].arn, nil
}

// value returns a secret's current string value.
func (sm *secretsManager) value(name string) (string, bool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	s := sm.secrets[name]
	if s == nil || s.deleted != nil {
		return "", false
	}
	v := s.current()
	if v == nil || v.str == nil {
		return "", false
	}
	return *v.str, true
}
