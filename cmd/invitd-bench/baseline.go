package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite"
)

// sampleBodies returns an invitation and a page of 20 as invitd writes them.
func sampleBodies() (one, page []byte) {
	inv := map[string]any{
		"id": "01936f3e-7b1c-7cc3-9c61-0f1f1d1f8a10", "number": 12345, "organization_id": "01JD7S2W6T0M6V7B5X1PQ4R8ZK",
		"email": "someone@example.com", "role": "member", "permissions": []string{"billing"},
		"inviter": map[string]any{"id": "u_1", "name": "Alice"}, "state": "pending",
		"created_at": time.Now(), "updated_at": time.Now(), "expires_at": time.Now(), "finished_at": nil, "error": nil,
		"metadata": map[string]any{}, "locale": "", "send_count": 1, "last_sent_at": time.Now(),
	}
	one, _ = json.Marshal(inv)
	data := make([]any, 20)
	for i := range data {
		data[i] = inv
	}
	page, _ = json.Marshal(map[string]any{"data": data, "next_cursor": "eyJzIjoiLWNyZWF0ZWRfYXQiLCJ0IjoxNzk2MDcwODUyMDAwMDAwLCJuIjo0MjF9"})
	return one, page
}

const rawTable = `CREATE TABLE IF NOT EXISTS raw_insert (
	id TEXT PRIMARY KEY, org_id TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
	state TEXT NOT NULL, created_at BIGINT NOT NULL, payload TEXT NOT NULL)`

func rawSQLite(path, sync string, conc int, d time.Duration) (result, error) {
	// The same settings as store/sqlite: WAL, one writer, IMMEDIATE transactions.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous("+sync+")&_pragma=temp_store(MEMORY)&_txlock=immediate")
	if err != nil {
		return result{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(rawTable); err != nil {
		return result{}, err
	}
	return load("(b) raw SQLite insert tx", conc, d, func(w, i int) error {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO raw_insert VALUES (?, ?, ?, ?, ?, ?, ?)", fmt.Sprint(i), "org", fmt.Sprintf("r%d@example.com", i),
			"member", "pending", time.Now().UnixMicro(), "{}"); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}), nil
}

func rawPostgres(ctx context.Context, url string, conc int, d time.Duration) (result, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return result{}, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, strings.Replace(rawTable, "raw_insert", "bench_raw_insert", 1)); err != nil {
		return result{}, err
	}
	defer pool.Exec(ctx, "DROP TABLE bench_raw_insert")
	prefix := fmt.Sprint(time.Now().UnixNano())
	return load("(b) raw PostgreSQL insert tx", conc, d, func(w, i int) error {
		tx, err := pool.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO bench_raw_insert VALUES ($1, $2, $3, $4, $5, $6, $7)", prefix+fmt.Sprint(i), "org",
			fmt.Sprintf("r%d@example.com", i), "member", "pending", time.Now().UnixMicro(), "{}"); err != nil {
			tx.Rollback(ctx)
			return err
		}
		return tx.Commit(ctx)
	}), nil
}
