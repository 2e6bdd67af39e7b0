package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/invitd/invitd/invite"
)

// SecretPath is where the server secret of the database at path is kept
// when none is given: beside it, so that one database has one secret.
func SecretPath(path string) string { return path + ".secret" }

// Secret returns the server secret kept at SecretPath(path), making one
// (mode 0600) on first use. It is written whole to a file of its own and
// then linked into place, so that a process starting at the same moment
// reads this secret or makes the one both use, never half of one.
func Secret(path string) (string, error) {
	file := SecretPath(path)
	secret, err := readSecret(file)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".invitd-secret-*")
	if err != nil {
		return "", fmt.Errorf("sqlite: make the secret file: %w", err)
	}
	defer os.Remove(tmp.Name())
	secret = invite.RandomSecret()
	_, err = tmp.WriteString(secret + "\n")
	if err == nil {
		err = tmp.Chmod(0o600) // CreateTemp's mode is 0600 already; the umask may have taken more
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), file)
	}
	if errors.Is(err, fs.ErrExist) {
		return readSecret(file) // another process made it first
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: make the secret file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		_ = d.Sync() // the new name survives a crash
		d.Close()
	}
	return secret, nil
}

func readSecret(file string) (string, error) {
	if err := narrow(file, true); err != nil {
		return "", err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("sqlite: read the secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < invite.MinSecretLen {
		return "", fmt.Errorf("sqlite: the secret file %s holds %d bytes, fewer than %d: it is damaged; restore it (links and webhook secrets made under it need it), or remove it to make a new one", file, len(s), invite.MinSecretLen)
	}
	return s, nil
}
