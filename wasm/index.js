'use strict';
// Locates the compiled AssemblyScript kernel module. Built by `npm run build -w @gramfleet/wasm`
// (scripts/setup.sh does it for you).
const path = require('node:path');
/** Absolute path of the compiled kernel module. */
const kernelsWasmPath = path.join(__dirname, 'build', 'kernels.wasm');
module.exports = { kernelsWasmPath };
