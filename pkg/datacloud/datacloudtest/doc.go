// Package datacloudtest is an in-process emulator of the Salesforce side of Data Cloud
// (Data 360): the core login (JWT bearer), the a360 token exchange and the tenant APIs
// (streaming and bulk ingestion, query v1/v2, metadata), served on one origin by an
// http.Handler. It also holds test helpers: RSA key pairs with a self-signed certificate,
// and loopback HTTP/TLS servers whose CA file works as SSL_CERT_FILE.
//
// The emulator keeps all state behind one mutex, derives ids and tokens from a seeded
// generator (Options.Seed), reads time only from an injectable clock (Options.Clock,
// Server.SetClock), records every request without secrets (Server.Requests), remembers
// every secret it saw (Server.IssuedSecrets, for leak tests) and can inject faults
// (Server.InjectFault).
//
// # Routes
//
//	POST /services/oauth2/token      JWT bearer grant → core token (form body or query string)
//	GET  /services/oauth2/userinfo   core token → user info with urls.custom_domain
//	POST /services/oauth2/revoke     revokes a core or Data Cloud token
//	POST /services/a360/token        core token → Data Cloud token (+ optional dataspace)
//	POST   /api/v1/ingest/sources/{source}/{object}               streaming upsert
//	DELETE /api/v1/ingest/sources/{source}/{object}               streaming delete (?ids= or {"ids":[...]})
//	POST   /api/v1/ingest/sources/{source}/{object}/actions/test  synchronous validation
//	POST /api/v1/ingest/jobs, GET /api/v1/ingest/jobs, GET|PATCH|DELETE /api/v1/ingest/jobs/{id},
//	PUT /api/v1/ingest/jobs/{id}/batches                            bulk ingestion
//	POST /api/v1/query, POST /api/v2/query, GET /api/v2/query/{nextBatchId}
//	GET  /api/v1/metadata (and /api/v1/metadata/)
//
// Tenant answers carry the gateway's x-ratelimit-*, x-trace-id and server headers, and are
// gzip-compressed when the request accepts gzip (Go's transport undoes that by itself).
// Inspection: Records, Objects, Jobs, Job, JobData, Requests, IssuedSecrets, Token,
// TenantTokens; control: Revoke, RevokeAll, SetClock, IssueTenantToken, InjectFault, ClearFaults.
//
// # Choices where Salesforce's behaviour is not documented
//
//   - An assertion whose exp lies more than Options.MaxAssertionLifetime (3 minutes) ahead
//     is rejected with 400 invalid_grant "invalid assertion".
//   - An unknown dataspace in the exchange answers 400
//     {"error":"invalid_request","error_description":"invalid dataspace"}; a bad subject
//     token answers 400 invalid_grant "invalid subject token".
//   - A streaming body of Options.MaxStreamingBytes (200,000) bytes or more answers 400
//     (the documented rule is "less than 200 KB"; no 413 was ever observed).
//   - Failed synchronous validation (actions/test) answers 400 with
//     {"timestamp","accepted":false,"validationReport":[{"recordIndex","errors":[...]}]}.
//   - A bulk list limit outside 1..100 and a query v1 limit outside 1..49,999 answer 400.
//   - A nextBatchId that is unknown, already used or older than one hour answers 404.
//   - userinfo with a bad token answers 403 "Bad_OAuth_Token" (text/plain); revoking an
//     unknown token answers 400 unsupported_token_type.
//   - With a valid token, an unknown path answers Spring's 404 and a known path with
//     another method 405 (with Allow); without one, both answer 401 first.
//   - Uploads are accepted whatever their Content-Type (Postman's own example sends none).
//   - A streaming record that is not a flat JSON object (nested objects or arrays, field
//     names that are not identifiers) makes the whole request 400, rather than being
//     dropped later as the asynchronous service would.
//   - A bulk job with one malformed CSV (ragged rows, bad quotes, invalid UTF-8, bad header)
//     ends Failed with none of its files applied. Job.Error says why (not in the API body).
//   - An unknown entityName answers {"metadata":[]}.
//   - A core token may be exchanged any number of times while it is valid.
//
// # What it simplifies
//
//   - One origin serves login, core and tenant hosts; the exchange's instance_url is this
//     origin (bare host:port under TLS, http://127.0.0.1:port over plain HTTP).
//   - Tokens are opaque random strings looked up in memory; the Data Cloud token only
//     looks like a JWT. Dataspaces scope nothing: all data lives in one store.
//   - Ingested data becomes queryable immediately (streaming) or when a bulk job
//     completes (synchronously on close, or Options.JobProcessingDelay later on the
//     injected clock). The real service is asynchronous (about 3 minutes).
//   - One SQLite table per object name (the object name is the table name, not the
//     "<object>__dll" name Salesforce derives); the same object in two sources shares a
//     table. Columns are created on the fly from field names; there is no schema
//     declaration, so records are not checked against one. Upserts replace the row with
//     the same primary key: Options.Objects[object].PrimaryKey, else the first field of
//     the first record (JSON) or the first CSV column that created the table.
//   - SQL is SQLite's dialect, not Data Cloud's; only SELECT/WITH statements run.
//   - Column types come from a column's first non-null value: JSON numbers → DECIMAL,
//     booleans → BOOLEAN, ISO-8601 date-times → TIMESTAMP, everything else VARCHAR (CSV
//     cells: plain numbers, true/false and date-times likewise); later values are stored
//     under that type. Expressions map SQLite values to BIGINT, DECIMAL or VARCHAR.
//     Timestamps come back as 2021-02-28T00:00:00.000+00:00, as the query API shows them.
//   - Rate limits are reported in x-ratelimit-* headers. Only the Ingestion API's documented
//     250 requests a second can be enforced (Options.StreamingRequestsPerSecond, off by
//     default); otherwise inject a 429 fault. Bulk hourly/concurrency limits and 7-day job
//     expiry are not modelled.
//   - Metadata lists only ingested objects, as DataLakeObject entities.
package datacloudtest
