/**
 * The documentation's relative links resolve: every `[text](path#anchor)` in README.md,
 * CONTRIBUTING.md and docs/*.md names a file of the repository, and an anchor names a heading
 * of that file (GitHub's slugs). Docs move between files; a link left behind fails here.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** GitHub's heading anchor: lower case, punctuation but `-` and `_` dropped, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = fs.readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] as string)));
}

describe('documentation links', () => {
  it('every relative link in README, CONTRIBUTING and docs/ names an existing file and heading', () => {
    const docs = [
      'README.md',
      'CONTRIBUTING.md',
      ...fs
        .readdirSync(path.join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const broken: string[] = [];
    let links = 0;
    for (const doc of docs) {
      const file = path.join(ROOT, doc);
      const text = fs.readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        links++;
        const [rel, anchor] = target.split('#') as [string, string | undefined];
        const to = rel === '' ? file : path.resolve(path.dirname(file), rel);
        if (!fs.existsSync(to)) {
          broken.push(`${doc}: ${target} (no such file)`);
          continue;
        }
        if (anchor !== undefined && to.endsWith('.md') && !anchorsOf(to).has(anchor)) broken.push(`${doc}: ${target} (no such heading)`);
      }
    }
    assert.ok(links > 30, `${links} links`);
    assert.deepEqual(broken, []);
  });
});
