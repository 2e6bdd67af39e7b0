package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/invitd/invitd/internal/testnode"
)

// root is the repository's top, from this package's directory.
const root = "../.."

// dockerfile reads the Dockerfile's instructions, continuation lines joined.
func dockerfile(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if l, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(l + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// The image's build stage cannot run here (no registry is reachable), so
// its go build runs as written, and the binary is checked to be static, as
// the distroless static base needs; the final stage is checked for what
// it promises.
func TestDockerfile(t *testing.T) {
	lines := dockerfile(t)
	var build string
	final := map[string][]string{}
	stage := 0
	for _, l := range lines {
		word, rest, _ := strings.Cut(l, " ")
		if word == "FROM" {
			stage++
			continue
		}
		if word == "RUN" && strings.Contains(rest, "go build") {
			build = rest
		}
		if stage == 2 {
			final[word] = append(final[word], rest)
		}
	}
	if stage != 2 || build == "" {
		t.Fatalf("want two stages and a go build in the first; %d stages, build %q", stage, build)
	}
	// RUN CGO_ENABLED=0 go build ... -o /out/invitd ./cmd/invitd, with the
	// output put in a temporary directory.
	fields := shellWords(build)
	var env, args []string
	for len(fields) > 0 && strings.Contains(fields[0], "=") {
		env, fields = append(env, fields[0]), fields[1:]
	}
	bin := filepath.Join(t.TempDir(), "invitd")
	for i := 0; i < len(fields); i++ {
		if fields[i] == "-o" && i+1 < len(fields) {
			args = append(args, "-o", bin)
			i++
			continue
		}
		args = append(args, fields[i])
	}
	if len(args) < 2 || args[0] != "go" || args[1] != "build" || !strings.Contains(strings.Join(env, " "), "CGO_ENABLED=0") {
		t.Fatalf("the build stage's command %q", build)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is not static: it has a %v segment", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "invitd ") {
		t.Errorf("the image's binary: %q %v", out, err)
	}

	one := func(word string) string {
		if len(final[word]) != 1 {
			t.Errorf("the final stage has %d %s, want 1", len(final[word]), word)
			return ""
		}
		return final[word][0]
	}
	if u := one("USER"); u == "" || u == "root" || strings.HasPrefix(u, "0") {
		t.Errorf("the final stage runs as %q, want a non-root user", u)
	}
	vol := one("VOLUME")
	envs := strings.Join(final["ENV"], " ")
	if !strings.Contains(vol, "/data") || !strings.Contains(envs, "INVITD_DB=sqlite:/data/") {
		t.Errorf("the database (ENV %q) is not on the volume %q", envs, vol)
	}
	port := regexp.MustCompile(`INVITD_ADDR=\S*:(\d+)`).FindStringSubmatch(envs)
	if port == nil || one("EXPOSE") != port[1] {
		t.Errorf("EXPOSE %v does not match INVITD_ADDR in %q", final["EXPOSE"], envs)
	}
	if hc := one("HEALTHCHECK"); !strings.Contains(hc, `"/usr/local/bin/invitd", "healthcheck"`) {
		t.Errorf("HEALTHCHECK %q does not run invitd healthcheck", hc)
	}
}

// shellWords splits a shell command line on spaces outside single quotes,
// which is all the Dockerfile's commands use.
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// invitd healthcheck succeeds against a ready node and fails with none.
func TestHealthcheck(t *testing.T) {
	n := testnode.StartReady(t, "INVITD_DB=sqlite:"+filepath.Join(t.TempDir(), "invitd.db"))
	_, port, _ := strings.Cut(n.Addr, ":")
	if _, errOut, code := invitd(t, testnode.Binary(t), "healthcheck", "--addr", "0.0.0.0:"+port); code != 0 {
		t.Errorf("healthcheck of a ready node: exit %d\n%s", code, errOut)
	}
	n.Kill()
	if _, errOut, code := invitd(t, testnode.Binary(t), "healthcheck", "--addr", n.Addr); code != 1 || !strings.Contains(errOut, "not ready") {
		t.Errorf("healthcheck with no node: exit %d\n%s", code, errOut)
	}
}

// The systemd unit runs serve with its database in the state directory
// systemd makes, as an unprivileged user.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "docs/deploy/invitd.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{"ExecStart=/usr/local/bin/invitd serve\n", "DynamicUser=yes\n", "StateDirectory=invitd\n",
		"Environment=INVITD_DB=sqlite:/var/lib/invitd/invitd.db\n", "NoNewPrivileges=yes\n", "ProtectSystem=strict\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
}

// Every file the documentation names exists in the repository: links, and
// paths in code spans that name a file (with an extension) or start at one
// of the repository's top folders.
func TestDocumentedPathsExist(t *testing.T) {
	docs := []string{"README.md"}
	for _, pattern := range []string{"docs/*/*.md", "*/README.md", "*/*/*/README.md", "*/*/*/*/README.md"} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, p := range m {
			rel, _ := filepath.Rel(root, p)
			docs = append(docs, rel)
		}
	}
	tops := map[string]bool{}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		tops[e.Name()] = true
	}
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	code := regexp.MustCompile("`([A-Za-z0-9_.*-]+(?:/[A-Za-z0-9_.*-]+)+/?)`")
	file := regexp.MustCompile(`\.(md|txt|json|go|sql|sh|service|conf)$`)
	exists := func(doc, p string) bool {
		for _, base := range []string{root, filepath.Join(root, filepath.Dir(doc))} {
			if m, _ := filepath.Glob(filepath.Join(base, p)); len(m) > 0 {
				return true
			}
		}
		return false
	}
	checked := 0
	for _, doc := range docs {
		b, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			if strings.Contains(m[1], "://") || strings.HasPrefix(m[1], "mailto:") {
				continue
			}
			checked++
			if !exists(doc, m[1]) {
				t.Errorf("%s links %s, which is not in the repository", doc, m[1])
			}
		}
		for _, m := range code.FindAllStringSubmatch(string(b), -1) {
			p := m[1]
			first, _, _ := strings.Cut(p, "/")
			if (!file.MatchString(p) && !tops[first]) || first == strings.ToUpper(first) {
				continue // a media type, a scope, an API path; DIR/... is a placeholder
			}
			checked++
			if strings.HasPrefix(p, "../") || !exists(doc, p) {
				t.Errorf("%s names %s, which is not in the repository", doc, p)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d paths checked: the scan reads nothing", checked)
	}
}
