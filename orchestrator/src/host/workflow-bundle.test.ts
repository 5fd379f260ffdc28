import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '@gramfleet/core';
import { bundleKey, workflowBundle } from './workflow-bundle';

const workflowsPath = require.resolve('@gramfleet/workflows');
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'gf-wf-bundle-'));

describe('workflow bundle cache (orchestrator/src/host/workflow-bundle.ts)', () => {
  it('a whole cached bundle is used as it is (no webpack run)', async () => {
    const dir = tmp();
    try {
      const cached = 'globalThis.x = 1;\n//# sourceMappingURL=data:application/json;base64,e30=\n';
      fs.writeFileSync(path.join(dir, `${bundleKey(workflowsPath, [])}.js`), cached);
      assert.equal(await workflowBundle({ workflowsPath, cacheDir: dir, log: silentLogger }), cached);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a partial cached file is replaced by a fresh bundle of the workflows, which is kept', async () => {
    const dir = tmp();
    try {
      const file = path.join(dir, `${bundleKey(workflowsPath, [])}.js`);
      fs.writeFileSync(file, 'globalThis.x = 1; // cut off before its source map');
      const code = await workflowBundle({ workflowsPath, cacheDir: dir, log: silentLogger });
      assert.match(code, /grfWorkflow/);
      const map = code.slice(code.lastIndexOf('\n//# sourceMappingURL=data:') + 1);
      assert.match(map, /^\/\/# sourceMappingURL=data:application\/json[^,]*;base64,[A-Za-z0-9+/=]+\s*$/, 'the bundle ends with its inline source map');
      assert.equal(fs.readFileSync(file, 'utf8'), code);
      assert.deepEqual(fs.readdirSync(dir), [path.basename(file)], 'no temporary file left');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the key changes with the workflow code and with the interceptor modules', () => {
    const dir = tmp();
    try {
      const index = path.join(dir, 'index.js');
      fs.writeFileSync(index, 'exports.a = 1;\n');
      const k0 = bundleKey(index, []);
      assert.equal(bundleKey(index, []), k0);
      assert.notEqual(bundleKey(index, ['/some/interceptors.js']), k0);
      fs.mkdirSync(path.join(dir, 'sub'));
      fs.writeFileSync(path.join(dir, 'sub', 'b.js'), 'exports.b = 2;\n');
      const k1 = bundleKey(index, []);
      assert.notEqual(k1, k0);
      fs.writeFileSync(path.join(dir, 'sub', 'b.js'), 'exports.b = 3;\n');
      assert.notEqual(bundleKey(index, []), k1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
