// Package e2e holds the end-to-end tests: the real function bootstraps, built as for Lambda,
// run under the AWS Lambda Runtime Interface Emulator against the Data Cloud emulator (over
// TLS, trusted through SSL_CERT_FILE) and a real AWS API backend (moto_server, and the
// embedded stack of internal/localstack). README.md maps each clause of the contract to the
// test that covers it.
package e2e
