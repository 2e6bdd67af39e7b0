package main

import (
	"context"
	"net/http"
)

func benchScale(ctx context.Context, o options, client *http.Client, dir, db string) error {
	return nil
}
func benchProcess(ctx context.Context, o options, dir string) error { return nil }
