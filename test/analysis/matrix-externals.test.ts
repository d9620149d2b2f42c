// `strata matrix --externals`: network sets and an outside address as destination columns, each
// cell exactly what `strata explain` decides for that source, address and port.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

interface ExternalsJson {
  readonly columns: readonly { id: string; kind: string; address: string }[];
  readonly results: readonly { from: string; to: string; address: string; port: number | null; protocol: string; verdict: string }[];
}

describe('matrix --externals', () => {
  it('has a column per network set and one outside all of them, and every cell agrees with explain', async () => {
    const r = await run(['matrix', '-f', 'examples/multi-tenant', '--externals', '--port', '443/TCP', '-o', 'json', '-q']);
    assert.equal(r.code, 0, r.err);
    const x = (JSON.parse(r.out) as { externals: ExternalsJson }).externals;
    const ids = x.columns.map((c) => c.id);
    assert.ok(ids.includes('settlement-partners') && ids.includes('threatfeed.ip-blocklist'), ids.join(', '));
    assert.equal(ids.at(-1), 'external');
    assert.ok(x.results.some((c) => c.verdict === 'allow') && x.results.some((c) => c.verdict === 'deny'), 'both verdicts occur');
    for (const c of x.results) {
      const e = await run(['explain', '-f', 'examples/multi-tenant', '--from', c.from, '--to', c.address, '--port', String(c.port), '--protocol', c.protocol, '-o', 'json', '-q']);
      const verdict = (JSON.parse(e.out) as { verdict: string }).verdict;
      assert.equal(c.verdict, verdict, `${c.from} → ${c.to} (${c.address}) ${c.port}/${c.protocol}`);
    }
  });

  it('prints a table of external destinations after the endpoint matrix', async () => {
    const r = await run(['matrix', '-f', 'examples/multi-tenant', '--externals', '--port', '443/TCP', '-q']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /443\/TCP to external destinations/);
    assert.match(r.out, /external \(203\.0\.113\.10\)/);
  });
});
