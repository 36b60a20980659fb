#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and benchmarks, from Debian's
# `postgresql` package: a new cluster in DIR, on a free port on loopback,
# trusting connections from this machine only, with fsync off (nothing in
# it outlives the run).
#
#   scripts/pg-local.sh start DIR   # prints postgres://lookout@127.0.0.1:PORT/postgres
#
# With openssl installed it also serves TLS, with a certificate for
# 127.0.0.1 signed by a throwaway authority, DIR/tls/ca.pem:
#   postgres://lookout@127.0.0.1:PORT/postgres?sslmode=verify-full&sslrootcert=DIR/tls/ca.pem
#   scripts/pg-local.sh stop DIR    # stops it and removes DIR
#
# PostgreSQL refuses to run as root: as root, the server runs as the
# unprivileged `postgres` user that the package creates, and DIR (which
# must not exist yet, in a folder that user can reach, such as /tmp) is
# made theirs.
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
if [[ -z "$cmd" || -z "$dir" ]]; then
    echo "usage: $0 start|stop DIR" >&2
    exit 2
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
    echo "$0: PostgreSQL is not installed (Debian package postgresql; scripts/setup.sh installs it)" >&2
    exit 1
fi

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "$cmd" in
start)
    if [[ -e "$dir" ]]; then
        echo "$0: $dir exists; give a new folder" >&2
        exit 2
    fi
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U lookout -A trust -E UTF8 --locale=C --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # TLS, for the tests of sslmode: a throwaway certificate authority
    # (DIR/tls/ca.pem, which clients give as sslrootcert) and a server
    # certificate for 127.0.0.1 signed by it. Clients may still connect
    # without TLS.
    tls=()
    if command -v openssl >/dev/null; then
        mkdir -p "$dir/tls"
        (
            cd "$dir/tls"
            ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
            openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 \
                -subj "/CN=lookout test CA" 2>/dev/null
            openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >server.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out server.crt -days 2 -extfile server.ext 2>/dev/null
            chmod 600 server.key ca.key
            chmod 644 ca.pem server.crt
        ) || { echo "$0: cannot make the TLS certificates" >&2; exit 1; }
        if [[ $(id -u) -eq 0 ]]; then chown -R postgres: "$dir/tls"; fi
        tls=(-c ssl=on -c "ssl_cert_file=$dir/tls/server.crt" -c "ssl_key_file=$dir/tls/server.key")
    fi
    # A free port: the kernel's pick for a socket bound to port 0. Another
    # process may take it before the server binds; the start then fails
    # and is tried again on another.
    for attempt in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c max_connections=200 ${tls[*]}" \
            start >/dev/null; then
            echo "postgres://lookout@127.0.0.1:$port/postgres"
            exit 0
        fi
    done
    cat "$dir/server.log" >&2
    exit 1
    ;;
stop)
    if [[ -d "$dir/data" ]]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac
