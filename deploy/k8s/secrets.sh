#!/bin/sh
# Makes Sandbank's Secrets in a namespace, where they are missing; an existing one is left
# as it is (tokens and messages signed with the keys stay valid, the databases keep their
# passwords). Nothing secret is written anywhere but the cluster.
#
#   deploy/k8s/secrets.sh [namespace]     (default: sandbank; needs kubectl and `sandbank`)
#
# sandbank-keys          every process's Ed25519 key pair (`sandbank keys`, shared/keys.py)
# sandbank-scrape-token  a metrics-only token for Prometheus, 90 days (`--scrape-token`)
# sandbank-pg-<process>  each process's PostgreSQL role (CloudNativePG's managed roles)
# sandbank-db            each process's DB_URL, with that role's password
#
# DB_HOST=... points the URLs at another PostgreSQL than the CloudNativePG cluster of
# dependencies/ (whose roles and databases must then exist already).
set -eu

NAMESPACE=${1:-sandbank}
DB_HOST=${DB_HOST:-sandbank-pg-rw}
SANDBANK=${SANDBANK:-sandbank}
PROCESSES="gateway accounts payments securities insurance"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

has() { kubectl -n "$NAMESPACE" get secret "$1" >/dev/null 2>&1; }

if has sandbank-keys; then
    echo "sandbank-keys: kept"
else
    "$SANDBANK" keys --dir "$work/keys" --scrape-token "$work/prometheus.token"
    kubectl -n "$NAMESPACE" create secret generic sandbank-keys --from-file="$work/keys"
    if has sandbank-scrape-token; then
        kubectl -n "$NAMESPACE" delete secret sandbank-scrape-token  # signed by the old keys
    fi
    kubectl -n "$NAMESPACE" create secret generic sandbank-scrape-token --from-file=token="$work/prometheus.token"
fi

if has sandbank-db; then
    echo "sandbank-db: kept"
else
    urls=""
    for process in $PROCESSES; do
        # 24 random bytes, URL-safe base64: it goes into the URL as it is.
        password=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
        if has "sandbank-pg-$process"; then
            kubectl -n "$NAMESPACE" delete secret "sandbank-pg-$process"
        fi
        kubectl -n "$NAMESPACE" create secret generic "sandbank-pg-$process" --type=kubernetes.io/basic-auth \
            --from-literal=username="$process" --from-literal=password="$password"
        kubectl -n "$NAMESPACE" label secret "sandbank-pg-$process" cnpg.io/reload=true
        urls="$urls --from-literal=$process=postgresql+asyncpg://$process:$password@$DB_HOST:5432/$process"
    done
    # shellcheck disable=SC2086 # one argument per process
    kubectl -n "$NAMESPACE" create secret generic sandbank-db $urls
fi
