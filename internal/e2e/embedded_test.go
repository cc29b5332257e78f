package e2e

import (
	"context"

	"github.com/dcbridge/datacloud-lambda/internal/localstack"
)

// startEmbedded starts the embedded stack (internal/localstack: gofakes3 with tagging and a
// small Secrets Manager in this process). It needs nothing installed, so it never skips.
func startEmbedded(ctx context.Context) ([]string, string, func(), string, error) {
	st, err := localstack.Start(ctx, localstack.Options{})
	if err != nil {
		return nil, "", nil, "", err
	}
	return st.Env(), st.URL, func() { _ = st.Close() }, "", nil
}
