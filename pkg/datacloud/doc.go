// Package datacloud is a small client for Salesforce Data Cloud (Data 360): the JWT bearer
// login and the a360 token exchange, the streaming and bulk Ingestion APIs, Query V1/V2 and
// Metadata. It imports no AWS package.
//
// Tokens come from a chain of TokenSources, built like golang.org/x/oauth2 but with a
// context on every call: an Authenticator logs in anew on each call, a CachedTokenSource
// reuses its token until shortly before expiry and shares one refresh between concurrent
// callers. The Client sends every request through one path that checks the tenant URL
// against the AllowedHosts before attaching the token, retries throttling, server errors
// and broken connections where repeating cannot duplicate data, and on a 401 invalidates
// the token and tries once more.
//
// Errors start with "datacloud: <operation>:" and never hold a token, an assertion or key
// material; use errors.As with *OAuthError, *APIError, *RateLimitError and
// *HostNotAllowedError, and errors.Is with ErrOutcomeUnknown.
//
// Usage:
//
//	creds, err := datacloud.ParseCredentials(secretJSON)
//	if err != nil { return err }
//	hosts, err := datacloud.ParseAllowedHosts(os.Getenv("DATACLOUD_ALLOWED_HOSTS"))
//	if err != nil { return err }
//	auth, err := datacloud.NewAuthenticator(creds, datacloud.WithAuthAllowedHosts(hosts))
//	if err != nil { return err }
//	ts := datacloud.NewCachedTokenSource(auth, 5*time.Minute)
//	client, err := datacloud.NewClient(ts, datacloud.WithAllowedHosts(hosts))
//	if err != nil { return err }
//	err = client.UpsertBody(ctx, "Event_API", "runner_profiles", []byte(`{"data":[{"id":"1"}]}`))
//
//	cols, rows := client.Rows(ctx, "SELECT Id__c FROM Individual__dlm", datacloud.PrefetchBatches())
//	for row, err := range rows {
//		if err != nil { return err }
//		fmt.Println(cols()[0].Name, row[0])
//	}
package datacloud
