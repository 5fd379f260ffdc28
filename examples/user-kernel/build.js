#!/usr/bin/env node
// Builds the example user kernel: node examples/user-kernel/build.js → build/modulation.wasm
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const here = __dirname;
const out = path.join(here, 'build', 'modulation.wasm');
fs.mkdirSync(path.dirname(out), { recursive: true });
const asc = require.resolve('assemblyscript/bin/asc.js');
execFileSync(
  process.execPath,
  [asc, path.join(here, 'modulation.ts'), '--runtime', 'stub', '--importMemory', '--initialMemory', '1', '-O3', '--noAssert', '-o', out],
  { stdio: 'inherit' },
);
process.stdout.write(out + '\n');
