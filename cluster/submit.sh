#!/usr/bin/env bash
# Submit `oorl train` to a Ray cluster as a job.
#   cluster/submit.sh [--address http://HEAD:8265] -- --config configs/X.yaml [key=value ...]
# The working directory (this repo, minus what .gitignore lists: .venv, runs/) is uploaded; the
# cluster's Python environment must have oorl's dependencies (the oorl/gpu image on the head and GPU
# nodes, oorl/executor on reward nodes, or `make setup`; see cluster/README.md). Pass --output-dir on
# storage every node sees: the default runs/ would be inside the job's temporary working directory.
# With token authentication (RAY_AUTH_MODE=token) export the token first: `ray get-auth-token`.
set -euo pipefail
address="${RAY_ADDRESS:-http://127.0.0.1:8265}"
if [ "${1:-}" = "--address" ]; then address="$2"; shift 2; fi
[ "${1:-}" = "--" ] && shift
cd "$(dirname "$0")/.."
exec ray job submit --address "$address" --working-dir . -- oorl train "$@"
