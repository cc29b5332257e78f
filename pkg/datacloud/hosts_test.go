package datacloud

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAllowedHosts(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "empty gives defaults", in: "", want: DefaultAllowedHosts},
		{name: "blank gives defaults", in: "  ", want: DefaultAllowedHosts},
		{name: "trims and lowers", in: " .Salesforce.com , 127.0.0.1,", want: ".salesforce.com,127.0.0.1"},
		{name: "ipv6 loopback", in: "::1", want: "::1"},
		{name: "scheme rejected", in: "https://x.salesforce.com", wantErr: `invalid entry "https://x.salesforce.com"`},
		{name: "port rejected", in: "localhost:8080", wantErr: "invalid entry"},
		{name: "wildcard rejected", in: "*.salesforce.com", wantErr: "invalid entry"},
		{name: "lone dot rejected", in: ".", wantErr: "invalid entry"},
		{name: "only commas", in: ",,", wantErr: "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAllowedHosts(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "datacloud: allowed hosts: ") {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.String() != tt.want {
				t.Errorf("String() = %q, want %q", a.String(), tt.want)
			}
		})
	}
}

func TestAllowedHostsCheck(t *testing.T) {
	custom, err := ParseAllowedHosts(".salesforce.com,127.0.0.1,localhost,::1,exact.example.com")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		hosts   AllowedHosts
		url     string
		wantErr string // "" means allowed
	}{
		{"zero value allows salesforce", AllowedHosts{}, "https://login.salesforce.com", ""},
		{"zero value allows force.com", AllowedHosts{}, "https://x.my.force.com/path", ""},
		{"zero value refuses loopback", AllowedHosts{}, "https://127.0.0.1:8443", "not in the allowed hosts"},
		{"tenant host", custom, "https://abc.c360a.salesforce.com", ""},
		{"upper case and trailing dot", custom, "https://ABC.C360A.SALESFORCE.COM./api", ""},
		{"suffix needs a dot boundary", custom, "https://evilsalesforce.com", "not in the allowed hosts"},
		{"suffix is not the bare domain", custom, "https://salesforce.com.evil.example", "not in the allowed hosts"},
		{"exact host", custom, "https://exact.example.com", ""},
		{"exact host no subdomain", custom, "https://a.exact.example.com", "not in the allowed hosts"},
		{"http loopback ip", custom, "http://127.0.0.1:1234", ""},
		{"http localhost", custom, "http://localhost:1234", ""},
		{"http ipv6 loopback", custom, "http://[::1]:1234", ""},
		{"http not loopback", custom, "http://abc.c360a.salesforce.com", "plain http is allowed only for loopback"},
		{"http loopback not listed", AllowedHosts{}, "http://127.0.0.1:1", "not in the allowed hosts"},
		{"ftp", custom, "ftp://abc.salesforce.com", `scheme "ftp" is not https`},
		{"bare host", custom, "abc.salesforce.com", "not an absolute URL"},
		{"userinfo", custom, "https://user:pw@abc.salesforce.com", "user information"},
		{"empty", custom, "", "not an absolute URL"},
		{"other loopback address", custom, "http://127.0.0.2", "not in the allowed hosts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.hosts.Check(tt.url)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.url, err)
				}
				return
			}
			var he *HostNotAllowedError
			if !errors.As(err, &he) || !strings.Contains(he.Reason, tt.wantErr) {
				t.Fatalf("Check(%q) = %v, want HostNotAllowedError with %q", tt.url, err, tt.wantErr)
			}
			if strings.Contains(he.URL, "pw@") || strings.Contains(he.URL, "/api") {
				t.Errorf("URL %q should hold only scheme and host", he.URL)
			}
		})
	}
}

func TestCheckNeverQuotesAKey(t *testing.T) {
	err := AllowedHosts{}.Check("-----BEGIN RSA PRIVATE KEY-----\nMIIEow")
	if err == nil || strings.Contains(err.Error(), "MIIE") || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Fatalf("err = %v", err)
	}
}

func TestNormalizeInstanceURL(t *testing.T) {
	for in, want := range map[string]string{
		"abc.c360a.salesforce.com":          "https://abc.c360a.salesforce.com",
		"https://abc.c360a.salesforce.com/": "https://abc.c360a.salesforce.com",
		"http://127.0.0.1:8080":             "http://127.0.0.1:8080",
		" ":                                 "",
	} {
		if got := normalizeInstanceURL(in); got != want {
			t.Errorf("normalizeInstanceURL(%q) = %q, want %q", in, got, want)
		}
	}
}
