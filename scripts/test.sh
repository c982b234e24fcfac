#!/usr/bin/env bash
# The README's test command: set up, run every test, end with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --for-tests || exit 1
rm -f .ci/jest-results.json
mkdir -p .ci
npx jest --runInBand --forceExit --json --outputFile=.ci/jest-results.json "$@"
status=$?
node -e '
  const fs = require("fs");
  const f = ".ci/jest-results.json";
  if (!fs.existsSync(f)) { console.log("0 passed, 1 failed"); process.exit(0); }
  const r = JSON.parse(fs.readFileSync(f, "utf8"));
  const failed = r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
  if (r.numPendingTests) console.log(`${r.numPendingTests} skipped`);
  console.log(`${r.numPassedTests} passed, ${failed} failed`);
'
exit $status
