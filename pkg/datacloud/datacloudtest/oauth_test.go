package datacloudtest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestLoginSuccess(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		name string
		aud  string
	}{
		{"login host", "https://login.salesforce.com"},
		{"test host bare with slash", "test.salesforce.com/"},
		{"own origin", e.run.URL},
		{"own origin as localhost", strings.Replace(e.run.URL, "127.0.0.1", "localhost", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.assertion(func(c jwt.MapClaims) { c["aud"] = tc.aud })
			code, body := e.postForm("/services/oauth2/token", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {a}})
			if code != 200 {
				t.Fatalf("status %d body %v", code, body)
			}
			if !regexp.MustCompile(`^00D[A-Za-z0-9]{12}!AQ[A-Za-z0-9._]+$`).MatchString(body["access_token"].(string)) {
				t.Errorf("access_token %q does not look like a core token", body["access_token"])
			}
			want := map[string]any{"scope": "cdp_ingest_api cdp_query_api api", "instance_url": e.run.URL, "token_type": "Bearer"}
			for k, v := range want {
				if body[k] != v {
					t.Errorf("%s = %v, want %v", k, body[k], v)
				}
			}
			if body["issued_at"] != "1772366400000" {
				t.Errorf("issued_at = %v, want the fake clock in ms", body["issued_at"])
			}
			for _, k := range []string{"id", "signature"} {
				if s, _ := body[k].(string); s == "" {
					t.Errorf("%s missing", k)
				}
			}
		})
	}
}

func TestLoginQueryParams(t *testing.T) {
	e := newEnv(t, Options{})
	q := url.Values{"grant_type": {GrantJWTBearer}, "assertion": {e.assertion(nil)}}
	res, err := e.http.Post(e.run.URL+"/services/oauth2/token?"+q.Encode(), "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func TestLoginFailures(t *testing.T) {
	e := newEnv(t, Options{})
	other := NewKeyPair(t)
	otherSigned := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": testClientID, "sub": testUser, "aud": "login.salesforce.com", "exp": e.clock.Now().Add(time.Minute).Unix(),
		}).SignedString(other.Key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs256, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": testClientID}).SignedString([]byte("k"))
	for _, tc := range []struct {
		name string
		form url.Values
		code string
		desc string
	}{
		{"wrong grant type", url.Values{"grant_type": {"password"}, "assertion": {e.assertion(nil)}}, "unsupported_grant_type", "grant type not supported"},
		{"missing grant type", url.Values{"assertion": {e.assertion(nil)}}, "unsupported_grant_type", "grant type not supported"},
		{"missing assertion", url.Values{"grant_type": {GrantJWTBearer}}, "invalid_grant", "invalid assertion"},
		{"malformed assertion", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {"not.a.jwt"}}, "invalid_grant", "invalid assertion"},
		{"unknown issuer", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {e.assertion(func(c jwt.MapClaims) { c["iss"] = "nope" })}}, "invalid_client_id", "client identifier invalid"},
		{"wrong key", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {otherSigned()}}, "invalid_grant", "invalid assertion"},
		{"hs256", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {hs256}}, "invalid_grant", "invalid assertion"},
		{"expired", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {e.assertion(func(c jwt.MapClaims) { c["exp"] = e.clock.Now().Add(-time.Second).Unix() })}}, "invalid_grant", "expired authorization code"},
		{"exp too far ahead", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {e.assertion(func(c jwt.MapClaims) { c["exp"] = e.clock.Now().Add(time.Hour).Unix() })}}, "invalid_grant", "invalid assertion"},
		{"no exp", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {e.assertion(func(c jwt.MapClaims) { delete(c, "exp") })}}, "invalid_grant", "invalid assertion"},
		{"bad audience", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {e.assertion(func(c jwt.MapClaims) { c["aud"] = "https://evil.example.com" })}}, "invalid_grant", "audience is invalid"},
		{"unknown user", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {e.assertion(func(c jwt.MapClaims) { c["sub"] = "other@example.com" })}}, "invalid_grant", "user hasn't approved this consumer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.postForm("/services/oauth2/token", tc.form)
			if code != 400 || body["error"] != tc.code || body["error_description"] != tc.desc {
				t.Fatalf("got %d %v, want 400 %s %q", code, body, tc.code, tc.desc)
			}
		})
	}
}

func TestUserInfoAndRevoke(t *testing.T) {
	e := newEnv(t, Options{})
	core := e.coreToken()
	get := func() (int, map[string]any) {
		req, _ := http.NewRequest("GET", e.run.URL+"/services/oauth2/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+core)
		res, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m) //nolint:errcheck // the 403 body is text
		return res.StatusCode, m
	}
	code, info := get()
	if code != 200 {
		t.Fatalf("userinfo %d", code)
	}
	if urls, _ := info["urls"].(map[string]any); urls["custom_domain"] != e.run.URL {
		t.Errorf("urls.custom_domain = %v, want %s", urls["custom_domain"], e.run.URL)
	}
	if info["preferred_username"] != testUser {
		t.Errorf("preferred_username = %v", info["preferred_username"])
	}
	if code, body := e.postForm("/services/oauth2/revoke", url.Values{"token": {core}}); code != 200 {
		t.Fatalf("revoke: %d %v", code, body)
	}
	if code, _ := get(); code != http.StatusForbidden {
		t.Fatalf("userinfo after revoke: %d, want 403", code)
	}
	if code, body := e.postForm("/services/oauth2/revoke", url.Values{"token": {"unknown"}}); code != 400 || body["error"] != "unsupported_token_type" {
		t.Fatalf("revoke unknown: %d %v", code, body)
	}
}

func TestExchange(t *testing.T) {
	e := newEnv(t, Options{TokenTTL: 90 * time.Minute})
	exchange := func(form url.Values) (int, map[string]any) {
		return e.postForm("/services/a360/token", form)
	}
	valid := func(extra ...string) url.Values {
		v := url.Values{"grant_type": {GrantCDPExchange}, "subject_token": {e.coreToken()}, "subject_token_type": {TokenTypeAccessToken}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	t.Run("success", func(t *testing.T) {
		code, body := exchange(valid())
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		if body["instance_url"] != e.run.URL || body["token_type"] != "Bearer" || body["issued_token_type"] != TokenTypeJWT || body["expires_in"] != float64(5400) {
			t.Errorf("body %v", body)
		}
		if parts := strings.Split(body["access_token"].(string), "."); len(parts) != 3 {
			t.Errorf("access token has %d parts, want a JWT-looking 3", len(parts))
		}
	})
	t.Run("dataspace recorded", func(t *testing.T) {
		code, body := exchange(valid("dataspace", "sales"))
		if code != 200 {
			t.Fatalf("%d %v", code, body)
		}
		info, ok := e.s.Token(body["access_token"].(string))
		if !ok || !info.Tenant || info.Dataspace != "sales" || info.Username != testUser || info.ClientID != testClientID ||
			info.ExpiresAt.Sub(info.IssuedAt) != 90*time.Minute || info.Revoked {
			t.Fatalf("token info %+v", info)
		}
		if _, ok := e.s.Token("nope"); ok {
			t.Fatal("unknown token described")
		}
	})
	for _, tc := range []struct {
		name string
		form url.Values
		code string
		desc string
	}{
		{"known dataspace", valid("dataspace", "sales"), "", ""},
		{"default dataspace", valid("dataspace", "default"), "", ""},
		{"unknown dataspace", valid("dataspace", "nope"), "invalid_request", "invalid dataspace"},
		{"wrong grant", valid("grant_type", GrantJWTBearer), "unsupported_grant_type", "grant type not supported"},
		{"wrong subject type", valid("subject_token_type", "x"), "invalid_request", "invalid subject_token_type"},
		{"bad subject token", valid("subject_token", "00Dxx!AQbad"), "invalid_grant", "invalid subject token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := exchange(tc.form)
			if tc.code == "" {
				if code != 200 {
					t.Fatalf("%d %v", code, body)
				}
				return
			}
			if code != 400 || body["error"] != tc.code || body["error_description"] != tc.desc {
				t.Fatalf("got %d %v, want 400 %s %q", code, body, tc.code, tc.desc)
			}
		})
	}
	t.Run("expired core token", func(t *testing.T) {
		form := valid()
		e.clock.Advance(91 * time.Minute)
		if code, body := exchange(form); code != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("got %d %v", code, body)
		}
	})
}

func TestExchangeOverTLSAnswersBareHost(t *testing.T) {
	s := New(Options{})
	kp := sharedKeyPair(t)
	if err := s.RegisterApp(App{ClientID: testClientID, Usernames: []string{testUser}, PublicKey: kp.PublicKey()}); err != nil {
		t.Fatal(err)
	}
	run := s.StartTLS()
	t.Cleanup(func() { run.Close(); s.Close() })
	if run.CACertFile == "" || !strings.HasPrefix(run.URL, "https://127.0.0.1:") {
		t.Fatalf("running %+v", run)
	}
	e := &env{t: t, s: s, run: run, kp: kp, clock: &fakeClock{t: time.Now()}, http: run.Client()}
	code, body := e.postForm("/services/a360/token", url.Values{
		"grant_type": {GrantCDPExchange}, "subject_token": {e.coreToken()}, "subject_token_type": {TokenTypeAccessToken},
	})
	if code != 200 || body["instance_url"] != strings.TrimPrefix(run.URL, "https://") {
		t.Fatalf("got %d instance_url %v, want bare %s", code, body["instance_url"], run.URL)
	}
	// The certificate also verifies for "localhost".
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: run.CertPool, MinVersion: tls.VersionTLS12}}
	res, err := (&http.Client{Transport: tr}).Get(strings.Replace(run.URL, "127.0.0.1", "localhost", 1) + "/api/v1/metadata")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("status %d, want 401 without a token", res.StatusCode)
	}
}

func TestRegisterAppErrors(t *testing.T) {
	s := New(Options{})
	t.Cleanup(func() { s.Close() })
	ecCert, _, err := tlsKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		app  App
		want string
	}{
		{"no client id", App{}, "empty client id"},
		{"no pem", App{ClientID: "x", CertificatePEM: "junk"}, "no PEM block"},
		{"private key instead of cert", App{ClientID: "x", CertificatePEM: sharedKeyPair(t).PKCS1PEM}, "unexpected PEM block"},
		{"ecdsa certificate", App{ClientID: "x", CertificatePEM: string(ecCert)}, "not RSA"},
		{"bad certificate bytes", App{ClientID: "x", CertificatePEM: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "parse certificate"},
		{"bad public key bytes", App{ClientID: "x", CertificatePEM: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}, "parse public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.RegisterApp(tc.app)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRegisterAppWithPublicKeyPEMAndSetClock(t *testing.T) {
	e := newEnv(t, Options{})
	der, err := x509.MarshalPKIXPublicKey(e.kp.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := e.s.RegisterApp(App{ClientID: "pem-app", Usernames: []string{testUser}, CertificatePEM: string(pubPEM)}); err != nil {
		t.Fatal(err)
	}
	later := e.clock.Now().Add(time.Hour)
	e.s.SetClock(func() time.Time { return later })
	// An assertion valid on the old clock has expired on the new one.
	a := e.assertion(func(c jwt.MapClaims) { c["iss"] = "pem-app" })
	if code, body := e.postForm("/services/oauth2/token", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {a}}); code != 400 || body["error_description"] != "expired authorization code" {
		t.Fatalf("got %d %v", code, body)
	}
	a = e.assertion(func(c jwt.MapClaims) { c["iss"] = "pem-app"; c["exp"] = later.Add(time.Minute).Unix() })
	if code, body := e.postForm("/services/oauth2/token", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {a}}); code != 200 || body["issued_at"] != strconv.FormatInt(later.UnixMilli(), 10) {
		t.Fatalf("got %d %v", code, body)
	}
	if got := e.s.Options().TokenTTL; got != DefaultTokenTTL {
		t.Errorf("Options().TokenTTL = %v", got)
	}
}
