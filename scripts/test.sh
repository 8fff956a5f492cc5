#!/usr/bin/env bash
# Runs every test file (node's test runner, TypeScript through tsx), one file at a time: the
# browser suites measure real media on a 2-core machine and must not compete with each other.
# Pass files to run a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
exec node --import tsx --test --test-concurrency=1 --test-timeout=900000 "${files[@]}"
