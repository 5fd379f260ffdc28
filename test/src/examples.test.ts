/** Every campaign spec in examples/campaigns validates (every workload kind, kinds mixed): the README's examples stay runnable. */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileCampaignSpec, workloadKinds } from '@gramfleet/core';
import { readCampaignFile } from '@gramfleet/orchestrator';

const DIR = path.resolve(__dirname, '..', '..', 'examples', 'campaigns');

describe('examples/campaigns', () => {
  it('every spec compiles, and together they use every workload kind', () => {
    const files = fs.readdirSync(DIR).filter((f) => /\.(ya?ml|json)$/.test(f));
    const kinds = new Set<string>();
    for (const f of files) {
      const c = compileCampaignSpec(readCampaignFile(path.join(DIR, f)), 'example');
      assert.ok(c.runsTotal > 0, f);
      for (const r of c.runs) kinds.add(r.kind);
      if (c.grid !== undefined) kinds.add(c.grid.kind);
    }
    assert.deepEqual([...kinds].sort(), workloadKinds());
  });
});
