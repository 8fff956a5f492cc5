#!/usr/bin/env bash
# Runs every test file (node's test runner, TypeScript through tsx). Pass files to run a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
exec node --import tsx --test --test-concurrency=2 --test-timeout=900000 "${files[@]}"
