package datacloud

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Default login and audience URLs (contract §2.1).
const (
	ProductionLoginURL = "https://login.salesforce.com"
	SandboxLoginURL    = "https://test.salesforce.com"
)

// Credentials is the connected-app credentials secret (contract §2.1).
type Credentials struct {
	ClientID      string `json:"client_id"`
	Username      string `json:"username"`
	PrivateKeyPEM string `json:"private_key"`
	LoginURL      string `json:"login_url"`
	Audience      string `json:"audience,omitempty"`
	Dataspace     string `json:"dataspace,omitempty"`
}

// ParseCredentials decodes and validates the credentials secret, including the private key.
// Its errors name the bad field and never quote the key.
func ParseCredentials(data []byte) (Credentials, error) {
	var c Credentials
	if err := json.Unmarshal(data, &c); err != nil {
		// json's messages can quote input; report only where it broke.
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return Credentials{}, fmt.Errorf("datacloud: credentials: invalid JSON at byte %d", syn.Offset)
		case errors.As(err, &typ):
			return Credentials{}, fmt.Errorf("datacloud: credentials: field %q must be a %s", typ.Field, typ.Type)
		default:
			return Credentials{}, errors.New("datacloud: credentials: not a JSON object")
		}
	}
	// Values pasted into a console often carry a trailing newline; Salesforce would reject them.
	for _, f := range []*string{&c.ClientID, &c.Username, &c.LoginURL, &c.Audience, &c.Dataspace} {
		*f = strings.TrimSpace(*f)
	}
	if _, err := c.parse(); err != nil {
		return Credentials{}, err
	}
	if c.LoginURL == "" {
		c.LoginURL = ProductionLoginURL
	}
	c.LoginURL = normalizeInstanceURL(c.LoginURL)
	return c, nil
}

// parse validates c and returns its private key.
func (c Credentials) parse() (*rsa.PrivateKey, error) {
	for _, f := range []struct{ name, v string }{
		{"client_id", c.ClientID}, {"username", c.Username}, {"private_key", c.PrivateKeyPEM},
	} {
		if strings.TrimSpace(f.v) == "" {
			return nil, fmt.Errorf("datacloud: credentials: %s is missing", f.name)
		}
	}
	if c.LoginURL != "" {
		u, err := url.Parse(normalizeInstanceURL(c.LoginURL))
		if err != nil || u.Host == "" {
			return nil, errors.New("datacloud: credentials: login_url is not a URL")
		}
	}
	if c.Audience != "" && strings.ContainsAny(c.Audience, " \n\r\t") {
		return nil, errors.New("datacloud: credentials: audience holds white space")
	}
	return parsePrivateKey(c.PrivateKeyPEM)
}

// parsePrivateKey reads an RSA key in PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY")
// PEM. Keys pasted with literal "\n" sequences (a common console accident) are accepted.
func parsePrivateKey(p string) (*rsa.PrivateKey, error) {
	if !strings.Contains(p, "\n") && strings.Contains(p, `\n`) {
		p = strings.ReplaceAll(p, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(strings.TrimSpace(p)))
	if block == nil {
		return nil, errors.New("datacloud: credentials: private_key: no PEM block found")
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("datacloud: credentials: private_key: encrypted keys are not supported")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("datacloud: credentials: private_key: invalid PKCS#1 RSA key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("datacloud: credentials: private_key: invalid PKCS#8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("datacloud: credentials: private_key: %T is not an RSA key (RS256 needs RSA)", k)
		}
		return rk, nil
	default:
		return nil, fmt.Errorf("datacloud: credentials: private_key: PEM block %q is not a private key", block.Type)
	}
}

// EffectiveAudience is the JWT aud: Audience when set, else https://test.salesforce.com for
// test.salesforce.com and *.sandbox.my.salesforce.com login hosts, else https://login.salesforce.com.
func (c Credentials) EffectiveAudience() string {
	if c.Audience != "" {
		return c.Audience
	}
	u, err := url.Parse(normalizeInstanceURL(c.LoginURL))
	if err != nil {
		return ProductionLoginURL
	}
	h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if h == "test.salesforce.com" || strings.HasSuffix(h, ".sandbox.my.salesforce.com") {
		return SandboxLoginURL
	}
	return ProductionLoginURL
}

// String prints the credentials without the private key.
func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{client_id=%s, username=%s, login_url=%s, audience=%s, dataspace=%s, private_key=[redacted]}",
		c.ClientID, c.Username, c.LoginURL, c.EffectiveAudience(), c.Dataspace)
}

// GoString keeps %#v from printing the private key.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps slog from printing the private key.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("client_id", c.ClientID), slog.String("username", c.Username),
		slog.String("login_url", c.LoginURL), slog.String("dataspace", c.Dataspace))
}
