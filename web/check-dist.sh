#!/usr/bin/env bash
# Rebuilds the dashboard from package-lock.json and fails if the committed
# web/dist differs from what the sources produce (CI calls this).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
npm test --silent
npm run build --silent
if ! git diff --quiet --exit-code -- dist || [ -n "$(git ls-files --others --exclude-standard -- dist)" ]; then
  echo "web/dist is stale: run 'cd web && npm ci && npm run build' and commit web/dist" >&2
  git status --short -- dist >&2
  exit 1
fi
echo "web/dist is up to date"
