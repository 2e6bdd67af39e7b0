#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with trust
# authentication for user postgres from 127.0.0.1 (installing and starting it
# when needed), creates a new database for this run and prints its URL, and
# only that, on stdout. Diagnostics go to stderr.
#
#   export INVITD_TEST_POSTGRES_URL=$(bash .ci/postgres.sh)
#
# Running it again is harmless: it starts nothing that runs and changes no
# setting that is right already. Each run makes its own database; databases
# of earlier runs older than a day are dropped.
#
# On failure it exits non-zero under CI=true. Elsewhere it prints nothing and
# exits 0, so the PostgreSQL tests skip and say how to enable them.
set -uo pipefail

HOST=127.0.0.1
PORT=5432
DBUSER=postgres
PREFIX=invitd_ci_

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

fail() {
	log "error: $*"
	if [[ "${CI:-}" == "true" ]]; then
		exit 1
	fi
	log "no database; the PostgreSQL tests will be skipped"
	exit 0
}

# as_root runs a command as root, through sudo when not root already.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo -n "$@"
	else
		log "need root for: $*"
		return 1
	fi
}

q() { psql -h "$HOST" -p "$PORT" -U "$DBUSER" -w -X -v ON_ERROR_STOP=1 -qAt "$@"; }

answers() {
	if command -v pg_isready >/dev/null; then
		pg_isready -q -h "$HOST" -p "$PORT" -t 2
	else
		q -d postgres -c 'SELECT 1' >/dev/null 2>&1
	fi
}

can_login() { q -d postgres -c 'SELECT 1' >/dev/null 2>&1; }

# cluster_version is the newest installed cluster's version, if any.
cluster_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

install_server() {
	command -v apt-get >/dev/null || fail "PostgreSQL is not installed and there is no apt-get to install it"
	log "installing PostgreSQL"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update >&2 || fail "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2 || fail "apt-get install postgresql failed"
}

start_cluster() {
	local v
	v=$(cluster_version)
	if [[ -z "$v" ]]; then
		v=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
		[[ -n "$v" ]] || fail "no PostgreSQL server found in /usr/lib/postgresql"
		log "creating cluster $v/main"
		as_root pg_createcluster --port "$PORT" "$v" main >&2 || fail "pg_createcluster $v main failed"
	fi
	if pg_lsclusters -h 2>/dev/null | awk -v v="$v" '$1 == v && $2 == "main" && $4 ~ /online/ { found = 1 } END { exit !found }'; then
		return 0
	fi
	log "starting cluster $v/main"
	as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2 || fail "pg_ctlcluster $v main start failed"
}

wait_ready() {
	local i
	for i in $(seq 1 60); do
		answers && return 0
		sleep 1
	done
	return 1
}

# allow_trust puts a trust rule for user postgres from 127.0.0.1 first in
# pg_hba.conf and reloads the server.
allow_trust() {
	local v hba rule='host all postgres 127.0.0.1/32 trust'
	v=$(cluster_version)
	hba=/etc/postgresql/$v/main/pg_hba.conf
	[[ -n "$v" && -f "$hba" ]] || fail "cannot log in as $DBUSER on $HOST:$PORT and found no pg_hba.conf to allow it"
	if ! grep -qxF "$rule" "$hba"; then
		log "allowing trust authentication for $DBUSER from $HOST in $hba"
		as_root sed -i "1i $rule" "$hba" || fail "cannot edit $hba"
	fi
	as_root pg_ctlcluster --skip-systemctl-redirect "$v" main reload >&2 || fail "pg_ctlcluster $v main reload failed"
}

drop_stale() {
	local cutoff name stamp
	cutoff=$(($(date +%s) - 86400))
	q -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE '${PREFIX}%'" 2>/dev/null |
		while read -r name; do
			stamp=${name#"$PREFIX"}
			stamp=${stamp%%_*}
			if [[ "$stamp" =~ ^[0-9]+$ ]] && ((stamp < cutoff)); then
				log "dropping $name from an earlier run"
				q -d postgres -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >&2 || true
			fi
		done
}

main() {
	if ! answers; then
		if ! command -v pg_ctlcluster >/dev/null; then
			install_server
		fi
		command -v pg_ctlcluster >/dev/null || fail "pg_ctlcluster is missing after installing PostgreSQL"
		start_cluster
		wait_ready || fail "PostgreSQL does not answer on $HOST:$PORT"
	fi
	command -v psql >/dev/null || fail "psql is missing"
	if ! can_login; then
		allow_trust
		local i
		for i in $(seq 1 10); do
			can_login && break
			sleep 1
		done
		can_login || fail "cannot log in as $DBUSER on $HOST:$PORT without a password"
	fi
	drop_stale
	local name="${PREFIX}$(date +%s)_$$_${RANDOM}"
	q -d postgres -c "CREATE DATABASE \"$name\"" >&2 || fail "CREATE DATABASE $name failed"
	log "created database $name"
	printf 'postgres://%s@%s:%s/%s?sslmode=disable\n' "$DBUSER" "$HOST" "$PORT" "$name"
}

main
