// Puts the compiled WebAssembly kernel beside the compiled engine (dist/libs/qs/wasm), as in the source tree.
const { copyFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');
const root = join(__dirname, '..');
mkdirSync(join(root, 'dist', 'libs', 'qs', 'wasm'), { recursive: true });
copyFileSync(join(root, 'libs', 'qs', 'wasm', 'qs-kernel.wasm'), join(root, 'dist', 'libs', 'qs', 'wasm', 'qs-kernel.wasm'));
