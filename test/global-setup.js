// Builds the WebAssembly kernel before the tests when it is missing or older than its source.
const { existsSync, statSync } = require('node:fs');
const { execSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = async () => {
  const root = join(__dirname, '..');
  const wasm = join(root, 'libs', 'qs', 'wasm', 'qs-kernel.wasm');
  const source = join(root, 'libs', 'qs', 'assembly', 'kernel.ts');
  if (!existsSync(wasm) || statSync(wasm).mtimeMs < statSync(source).mtimeMs) {
    execSync('npm run build:kernel --silent', { cwd: root, stdio: 'inherit' });
  }
  // the end-to-end tests start the compiled services (scripts/test.sh always builds first)
  if (!existsSync(join(root, 'dist', 'apps', 'worker', 'src', 'main.js'))) {
    execSync('npm run build --silent', { cwd: root, stdio: 'inherit' });
  }
};
