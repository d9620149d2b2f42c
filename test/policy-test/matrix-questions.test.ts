// `strata matrix` answering questions: --from/--to filters, namespace aggregation, the combined
// all-ports view, the pending (staged) view, and class-level JSON that agrees with every pair.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

const dir = mkdtempSync(path.join(tmpdir(), 'strata-matrix-'));
const pod = (ns: string, name: string, app: string, port: number): string =>
  `---\napiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${ns}, labels: {app: ${app}}}\nspec: {containers: [{name: c, ports: [{containerPort: ${port}}]}]}\n`;
// Two identical web pods (one class), an api that only web may reach on 8080, a db nobody reaches
// on 5432 but api, and a dev namespace with no policy.
const CLUSTER = path.join(dir, 'cluster.yaml');
writeFileSync(
  CLUSTER,
  `apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n` +
    pod('prod', 'web-1', 'web', 80) +
    pod('prod', 'web-2', 'web', 80) +
    pod('prod', 'api', 'api', 8080) +
    pod('prod', 'db', 'db', 5432) +
    pod('dev', 'tool', 'tool', 80) +
    `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 8080}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 5432}]}]
`,
);

interface Pairs {
  results: { from: string; to: string; port: number | null; verdict: string }[];
}
interface Classes {
  classes: { id: string; members: string[] }[];
  ports: { spec: string; allowed: [string, string][] }[];
}

describe('matrix -o json: endpoint classes', () => {
  it('lists every endpoint once, the identical web pods in one class', async () => {
    const r = await run(['matrix', '-f', CLUSTER, '-o', 'json']);
    assert.equal(r.code, 0, r.err);
    const c = JSON.parse(r.out) as Classes;
    const members = c.classes.flatMap((k) => k.members);
    assert.deepEqual([...members].sort(), ['dev/tool', 'prod/api', 'prod/db', 'prod/web-1', 'prod/web-2']);
    assert.equal(new Set(members).size, members.length);
    assert.ok(c.classes.some((k) => k.members.join(',') === 'prod/web-1,prod/web-2'));
  });

  it('agrees with -o json-pairs on every pair of distinct endpoints', async () => {
    const c = JSON.parse((await run(['matrix', '-f', CLUSTER, '-o', 'json'])).out) as Classes;
    const p = JSON.parse((await run(['matrix', '-f', CLUSTER, '-o', 'json-pairs'])).out) as Pairs;
    const classOf = new Map(c.classes.flatMap((k) => k.members.map((m) => [m, k.id] as const)));
    for (const cell of p.results) {
      if (cell.from === cell.to) continue;
      const port = c.ports.find((x) => x.spec === `${cell.port}/TCP`)!;
      const listed = port.allowed.some(([a, b]) => a === classOf.get(cell.from) && b === classOf.get(cell.to));
      assert.equal(listed, cell.verdict === 'allow', `${cell.from} -> ${cell.to} ${cell.port}`);
    }
  });

  it('on the multi-tenant example too', async () => {
    const d = path.join(ROOT, 'examples/multi-tenant');
    const c = JSON.parse((await run(['matrix', '-f', d, '-o', 'json'])).out) as Classes;
    const p = JSON.parse((await run(['matrix', '-f', d, '-o', 'json-pairs'])).out) as Pairs & { ports: string[] };
    const classOf = new Map(c.classes.flatMap((k) => k.members.map((m) => [m, k.id] as const)));
    const allowed = new Set(c.ports.flatMap((x) => x.allowed.map(([a, b]) => `${x.spec} ${a} ${b}`)));
    for (const cell of p.results.filter((x) => x.from !== x.to)) {
      const spec = p.ports.find((s) => s.startsWith(`${cell.port}/`) && (s.endsWith('UDP') ? (cell as unknown as { protocol: string }).protocol === 'UDP' : (cell as unknown as { protocol: string }).protocol === 'TCP'))!;
      assert.equal(allowed.has(`${spec} ${classOf.get(cell.from)} ${classOf.get(cell.to)}`), cell.verdict === 'allow', `${cell.from} -> ${cell.to} ${spec}`);
    }
  });
});

describe('matrix filters, aggregation, all ports, pending', () => {
  const cellsOf = async (args: string[]): Promise<{ block: string; from: string; to: string; verdict: string; allowedPorts?: string[] }[]> => {
    const r = await run(['matrix', '-f', CLUSTER, ...args, '-o', 'json-pairs']);
    assert.equal(r.code, 0, r.err);
    return (JSON.parse(r.out) as { results: { block: string; from: string; to: string; verdict: string; allowedPorts?: string[] }[] }).results;
  };

  const filters: readonly { name: string; args: string[]; froms: string[]; tos: string[] }[] = [
    { name: 'NS/NAME on both sides', args: ['--from', 'prod/web-1', '--to', 'prod/api'], froms: ['prod/web-1'], tos: ['prod/api'] },
    { name: 'NS/* keeps a namespace', args: ['--from', 'dev/*'], froms: ['dev/tool'], tos: ['dev/tool', 'prod/api', 'prod/db', 'prod/web-1', 'prod/web-2'] },
    { name: 'k=v label selectors', args: ['--from', 'app=web', '--to', 'app=api'], froms: ['prod/web-1', 'prod/web-2'], tos: ['prod/api'] },
    { name: 'Calico selectors', args: ['--to', 'app in {"db", "api"}'], froms: ['dev/tool', 'prod/api', 'prod/db', 'prod/web-1', 'prod/web-2'], tos: ['prod/api', 'prod/db'] },
  ];
  for (const f of filters) {
    it(`--from/--to: ${f.name}`, async () => {
      const cells = await cellsOf(f.args);
      assert.deepEqual([...new Set(cells.map((c) => c.from))].sort(), f.froms);
      assert.deepEqual([...new Set(cells.map((c) => c.to))].sort(), f.tos);
    });
  }

  it('--aggregate namespace: allowed, partly and denied per namespace pair', async () => {
    const cells = (await cellsOf(['--aggregate', 'namespace'])).filter((c) => c.block === '8080/TCP');
    const v = (from: string, to: string): string | undefined => cells.find((c) => c.from === from && c.to === to)?.verdict;
    assert.equal(v('prod', 'prod'), 'partial'); // web → api allowed, db → api denied
    assert.equal(v('dev', 'prod'), 'deny');
    assert.equal(v('prod', 'dev'), undefined); // nothing in dev declares 8080: not evaluated
  });

  it('--all-ports: one combined cell per pair with the ports it allows', async () => {
    const cells = await cellsOf(['--all-ports', '--from', 'prod/api', '--to', 'prod/db']);
    assert.equal(cells.length, 1);
    assert.equal(cells[0]!.verdict, 'allow'); // db declares only 5432
    const mixed = await cellsOf(['--all-ports', '--port', '80', '--port', '8080', '--from', 'prod/web-1', '--to', 'prod/api']);
    assert.equal(mixed[0]!.verdict, 'partial');
    assert.deepEqual(mixed[0]!.allowedPorts, ['8080/TCP']);
  });

  it('--pending: the staged view of the multi-tenant example lets Prometheus scrape acme', async () => {
    const d = path.join(ROOT, 'examples/multi-tenant');
    const args = ['matrix', '-f', d, '--from', 'monitoring/prometheus', '--to', 'shop/frontend', '--port', '9102', '-o', 'json-pairs'];
    const now = JSON.parse((await run(args)).out) as Pairs;
    const staged = JSON.parse((await run([...args, '--pending'])).out) as Pairs;
    assert.equal(now.results[0]!.verdict, 'deny');
    assert.equal(staged.results[0]!.verdict, 'allow');
  });

  it('the table view marks partial cells and leaves out ports nobody chosen listens on', async () => {
    const r = await run(['matrix', '-f', CLUSTER, '--aggregate', 'namespace', '--all-ports']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^all ports \(80\/TCP, 5432\/TCP, 8080\/TCP\)/);
    assert.match(r.out, /prod {2}.*~/);
  });

  const bad: readonly [string, string[]][] = [
    ['a filter that is no endpoint, namespace or selector', ['--from', 'app = web']],
    ['an unknown aggregation level', ['--aggregate', 'node']],
    ['class JSON with aggregation', ['--aggregate', 'namespace', '-o', 'json']],
  ];
  for (const [name, args] of bad) {
    it(`usage error: ${name}`, async () => {
      assert.equal((await run(['matrix', '-f', CLUSTER, ...args])).code, 2);
    });
  }
});
