package datacloud

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// DefaultAllowedHosts is the allow-list used when DATACLOUD_ALLOWED_HOSTS is empty.
const DefaultAllowedHosts = ".salesforce.com,.force.com"

// AllowedHosts is the list of host names (exact, "login.example.com") and suffixes
// (".salesforce.com") that login, instance and tenant URLs may point at. Tokens and
// assertions are sent nowhere else. The zero value is the default list.
type AllowedHosts struct {
	entries []string // lower case; a leading "." marks a suffix
}

// ParseAllowedHosts parses a comma-separated allow-list; "" gives DefaultAllowedHosts.
// Entries are host names or suffixes without scheme, port or path.
func ParseAllowedHosts(csv string) (AllowedHosts, error) {
	if strings.TrimSpace(csv) == "" {
		csv = DefaultAllowedHosts
	}
	var a AllowedHosts
	for raw := range strings.SplitSeq(csv, ",") {
		e := strings.ToLower(strings.TrimSpace(raw))
		if e == "" {
			continue
		}
		if e == "." || strings.ContainsAny(e, "/:@?#* \t") && net.ParseIP(e) == nil {
			return AllowedHosts{}, fmt.Errorf("datacloud: allowed hosts: invalid entry %q: want a host name or a suffix like .salesforce.com", raw)
		}
		a.entries = append(a.entries, strings.TrimSuffix(e, "."))
	}
	if len(a.entries) == 0 {
		return AllowedHosts{}, fmt.Errorf("datacloud: allowed hosts: no host in %q", csv)
	}
	return a, nil
}

// String returns the list in its comma-separated form.
func (a AllowedHosts) String() string { return strings.Join(a.list(), ",") }

func (a AllowedHosts) list() []string {
	if len(a.entries) == 0 {
		return []string{".salesforce.com", ".force.com"}
	}
	return a.entries
}

// Check returns a *HostNotAllowedError unless rawURL is an https URL (or http on a loopback
// host) whose host is on the list.
func (a AllowedHosts) Check(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return &HostNotAllowedError{URL: redactURL(rawURL), Reason: "not an absolute URL"}
	}
	shown := u.Scheme + "://" + u.Host
	if u.User != nil {
		return &HostNotAllowedError{URL: shown, Reason: "URL holds user information"}
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(host) {
			return &HostNotAllowedError{URL: shown, Reason: "plain http is allowed only for loopback hosts"}
		}
	default:
		return &HostNotAllowedError{URL: shown, Reason: fmt.Sprintf("scheme %q is not https", u.Scheme)}
	}
	if host == "" {
		return &HostNotAllowedError{URL: shown, Reason: "no host"}
	}
	for _, e := range a.list() {
		if host == e || strings.HasPrefix(e, ".") && strings.HasSuffix(host, e) {
			return nil
		}
	}
	return &HostNotAllowedError{URL: shown, Reason: "not in the allowed hosts (" + a.String() + ")"}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL keeps only what identifies the endpoint of an unparsable URL, so that a secret
// pasted into the wrong field does not reach an error message.
func redactURL(raw string) string {
	if len(raw) > 64 {
		raw = raw[:64] + "..."
	}
	if strings.Contains(raw, "PRIVATE KEY") || strings.ContainsAny(raw, "\n\r") {
		return "[redacted]"
	}
	return fmt.Sprintf("%q", raw)
}

// normalizeInstanceURL turns the exchange's bare host ("abc.c360a.salesforce.com") into
// "https://abc.c360a.salesforce.com" and keeps a full URL (minus a trailing slash).
func normalizeInstanceURL(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	return strings.TrimRight(s, "/")
}

// guardRedirects returns a copy of hc whose redirects must stay on allowed hosts: Go's
// client replays a POST body (an assertion, a subject token) on 307/308 and keeps the
// Authorization header for subdomains, so a redirect is checked like any other URL.
func guardRedirects(hc *http.Client, hosts AllowedHosts) *http.Client {
	g := *hc
	next := hc.CheckRedirect
	g.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := hosts.Check(req.URL.String()); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &g
}
