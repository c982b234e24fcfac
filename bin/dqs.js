#!/usr/bin/env node
// Runs the compiled CLI; builds it first when this checkout has not been built yet.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { execSync } = require('node:child_process');

const root = join(__dirname, '..');
const entry = join(root, 'dist', 'apps', 'cli', 'src', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write('dqs: first run in this checkout, building (npm run build)...\n');
  execSync('npm run build --silent', { cwd: root, stdio: 'inherit' });
}
require(entry)
  .main(process.argv.slice(2))
  .then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`dqs: unexpected failure: ${e && e.stack ? e.stack : e}\n`);
      process.exitCode = 1;
    },
  );
