package s3object

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestClaimConcurrentClaimersOneWins(t *testing.T) {
	cli, bucket := newS3(t)
	obj := putObject(t, cli, bucket, "ingest/s/o/a.csv", []byte("id\n1\n"), "")
	claims := NewClaims(cli, "", nil)

	const n = 12
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []string
		skips int
		errs  []error
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			owner := fmt.Sprintf("req-%d", i)
			cl, skip, err := claims.Acquire(context.Background(), obj, owner, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				errs = append(errs, err)
			case skip != nil:
				if skip.Reason != "claimed by another invocation" {
					errs = append(errs, fmt.Errorf("skip reason %q", skip.Reason))
				}
				skips++
			default:
				wins = append(wins, cl.Marker().Owner)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 || len(wins) != 1 || skips != n-1 {
		t.Fatalf("wins %v skips %d errs %v", wins, skips, errs)
	}
}

func TestClaimLifecycle(t *testing.T) {
	cli, bucket := newS3(t)
	ctx := context.Background()
	obj := putObject(t, cli, bucket, "ingest/s/o/a.csv", []byte("id\n1\n"), "")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	claims := NewClaims(cli, "", clock)

	first, skip, err := claims.Acquire(ctx, obj, "a", time.Minute)
	if err != nil || skip != nil {
		t.Fatalf("first acquire: %v %v", skip, err)
	}

	t.Run("live claim skips", func(t *testing.T) {
		_, skip, err := claims.Acquire(ctx, obj, "b", time.Minute)
		if err != nil || skip == nil || skip.Reason != "claimed by another invocation" || skip.Marker.Owner != "a" {
			t.Fatalf("skip %+v err %v", skip, err)
		}
	})

	var second *Claim
	t.Run("expired claim is taken over", func(t *testing.T) {
		now = now.Add(2 * time.Minute)
		second, skip, err = claims.Acquire(ctx, obj, "b", time.Minute)
		if err != nil || skip != nil || second.Marker().Owner != "b" {
			t.Fatalf("takeover: %+v %v", skip, err)
		}
	})

	t.Run("the expired owner learns it lost", func(t *testing.T) {
		err := first.Done(ctx)
		if !errors.Is(err, ErrClaimLost) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("failed claim is taken over at once", func(t *testing.T) {
		if err := second.Fail(ctx, `deadline "x"`); err != nil {
			t.Fatal(err)
		}
		third, skip, err := claims.Acquire(ctx, obj, "c", time.Minute)
		if err != nil || skip != nil {
			t.Fatalf("after fail: %+v %v", skip, err)
		}
		if err := third.Done(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("done skips even after expiry", func(t *testing.T) {
		now = now.Add(24 * time.Hour)
		_, skip, err := claims.Acquire(ctx, obj, "d", time.Minute)
		if err != nil || skip == nil || skip.Reason != "already ingested" {
			t.Fatalf("skip %+v err %v", skip, err)
		}
	})

	t.Run("a new version is a new claim", func(t *testing.T) {
		v2 := putObject(t, cli, bucket, obj.Key, []byte("id\n2\n"), "")
		cl, skip, err := claims.Acquire(ctx, v2, "e", time.Minute)
		if err != nil || skip != nil || cl.Key() == first.Key() {
			t.Fatalf("v2: %+v %v", skip, err)
		}
	})
}

func TestClaimMarkerKeyOutsideLayout(t *testing.T) {
	c := NewClaims(nil, "", nil)
	k1 := c.MarkerKey(Object{Bucket: "b", Key: "ingest/x y/ü.csv", ETag: `"abc"`})
	k2 := c.MarkerKey(Object{Bucket: "b", Key: "ingest/x y/ü.csv", ETag: "abc"})
	if k1 != k2 {
		t.Errorf("quoting changes the key: %s %s", k1, k2)
	}
	if k3 := c.MarkerKey(Object{Bucket: "b", Key: "ingest/x y/ü.csv", ETag: "abc", VersionID: "v2"}); k3 == k1 {
		t.Errorf("a new version with the same bytes shares the marker")
	}
	if len(k1) != len(DefaultClaimPrefix)+64+5 || k1[:len(DefaultClaimPrefix)] != DefaultClaimPrefix {
		t.Errorf("key %q", k1)
	}
}
