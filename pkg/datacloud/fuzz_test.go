package datacloud

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzShortText: whatever a gateway sends, the message is one short line of valid UTF-8.
func FuzzShortText(f *testing.F) {
	for _, s := range []string{"<html><title>502 Bad Gateway</title></html>", "<p>a\nb</p>", "\xff\xfe", strings.Repeat("é", 300), "<title></title>x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := shortText(body)
		if len(s) > 203 || !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r\t") {
			t.Fatalf("shortText = %q", s)
		}
	})
}

// FuzzAllowedHostsCheck: an accepted URL is https (or http on loopback) on a listed host.
func FuzzAllowedHostsCheck(f *testing.F) {
	for _, s := range []string{"https://a.salesforce.com", "http://127.0.0.1:80", "https://evilsalesforce.com", "http://[::1]/x",
		"https://a.salesforce.com.evil.example", "HTTPS://A.FORCE.COM./", "https://u@a.salesforce.com", "//a.salesforce.com"} {
		f.Add(s)
	}
	hosts, err := ParseAllowedHosts(".salesforce.com,.force.com,127.0.0.1,::1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if hosts.Check(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted an unparsable URL %q", raw)
		}
		h := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		listed := strings.HasSuffix(h, ".salesforce.com") || strings.HasSuffix(h, ".force.com") || h == "127.0.0.1" || h == "::1"
		if !listed || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(h))) {
			t.Fatalf("accepted %q (host %q, scheme %q)", raw, h, u.Scheme)
		}
	})
}

// FuzzParseQueryResult: any body either fails cleanly or yields rows; object rows come out
// positional with one value per column.
func FuzzParseQueryResult(f *testing.F) {
	f.Add([]byte(`{"data":[["a",1]],"metadata":{"x":{"placeInOrder":0},"y":{"placeInOrder":1}},"done":true}`))
	f.Add([]byte(`{"data":[{"x":"a"}],"metadata":{"x":{"placeInOrder":3}}}`))
	f.Add([]byte(`{"data":[1e400]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := parseQueryResult("query", body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "datacloud: query: ") {
				t.Fatalf("error %q lacks the prefix", err)
			}
			return
		}
		if len(res.Columns) > 0 && res.Rows == nil {
			t.Fatal("nil rows")
		}
	})
}
