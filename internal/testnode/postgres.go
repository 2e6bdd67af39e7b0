package testnode

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDB makes a fresh database on the server named by
// INVITD_TEST_POSTGRES_URL and returns its URL; the database is dropped when
// the test ends. Without the variable the test is skipped, or failed under
// CI, where the variable must be set.
func PostgresDB(t testing.TB) string {
	t.Helper()
	base := os.Getenv("INVITD_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("INVITD_TEST_POSTGRES_URL is needed under CI (bash .ci/postgres.sh prints one)")
		}
		t.Skip("needs PostgreSQL: export INVITD_TEST_POSTGRES_URL=$(bash .ci/postgres.sh)")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("INVITD_TEST_POSTGRES_URL: %v", err)
	}
	name := fmt.Sprintf("invitd_testnode_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(context.Background())
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
