package datacloud_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/dcbridge/datacloud-lambda/pkg/datacloud"
	"github.com/dcbridge/datacloud-lambda/pkg/datacloud/datacloudtest"
)

// Example logs in with the JWT bearer flow, streams two records and queries them back,
// here against the emulator on loopback.
func Example() {
	emu := datacloudtest.New(datacloudtest.Options{})
	defer emu.Close()
	kp, err := datacloudtest.GenerateKeyPair()
	if err != nil {
		log.Fatal(err)
	}
	if err := emu.RegisterApp(datacloudtest.App{ClientID: "3MVG9-example", Usernames: []string{"etl@example.com"}, CertificatePEM: kp.CertPEM}); err != nil {
		log.Fatal(err)
	}
	run := emu.Start()
	defer run.Close()

	// In a Lambda function the JSON comes from Secrets Manager and the list from
	// DATACLOUD_ALLOWED_HOSTS.
	secret, _ := json.Marshal(map[string]string{"client_id": "3MVG9-example", "username": "etl@example.com",
		"private_key": kp.PKCS8PEM, "login_url": run.URL})
	creds, err := datacloud.ParseCredentials(secret)
	if err != nil {
		log.Fatal(err)
	}
	hosts, err := datacloud.ParseAllowedHosts("127.0.0.1")
	if err != nil {
		log.Fatal(err)
	}
	auth, err := datacloud.NewAuthenticator(creds, datacloud.WithAuthAllowedHosts(hosts))
	if err != nil {
		log.Fatal(err)
	}
	client, err := datacloud.NewClient(datacloud.NewCachedTokenSource(auth, 5*time.Minute), datacloud.WithAllowedHosts(hosts))
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	body := []byte(`{"data":[{"id":"1","name":"Ada"},{"id":"2","name":"Grace"}]}`)
	if err := client.UpsertBody(ctx, "Event_API", "runner_profiles", body); err != nil {
		log.Fatal(err)
	}
	cols, rows := client.Rows(ctx, "SELECT id, name FROM runner_profiles ORDER BY id")
	for row, err := range rows {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(cols()[1].Name, row[1])
	}
	// Output:
	// name Ada
	// name Grace
}

// ExampleIsRetryable shows how a caller tells a final error from a passing one.
func ExampleIsRetryable() {
	err := &datacloud.APIError{Op: "upsert", Method: "POST", Path: "/api/v1/ingest/sources/S/o", StatusCode: 503}
	fmt.Println(datacloud.IsRetryable(err), datacloud.IsUnauthorized(err))
	fmt.Println(err)
	// Output:
	// true false
	// datacloud: upsert: POST /api/v1/ingest/sources/S/o: 503
}
