package testenv

import (
	"net/http"
	"testing"
)

func TestMotoForTestAnswers(t *testing.T) {
	m := MotoForTest(t)
	resp, err := http.Get(m.URL + "/moto-api/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto-api status %d", resp.StatusCode)
	}
}
