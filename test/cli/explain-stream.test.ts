// `explain --flows` as a stream: results in input order and equal to single-flow explanations,
// and a batch that never holds more than a bounded amount of pending input or output, whatever its
// length — measured with real Node streams: a lazily generated stdin and a slow stdout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { main } from '../../src/cli/main.ts';
import { drainedStream, linesOf, memoryIo } from '../../src/cli/io.ts';
import type { Io } from '../../src/cli/io.ts';
import { LineWriter } from '../../src/cli/commands/explain.ts';
import { buildCluster, makeFlow } from '../../src/engine/index.ts';
import { explainFlow } from '../../src/analysis/explain.ts';
import type { Endpoint } from '../../src/engine/index.ts';
import { loadText } from '../../src/load/index.ts';
import { generateCluster, Rng } from '../../bench/generate.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const dir = mkdtempSync(join(tmpdir(), 'strata-stream-'));
const generated = generateCluster({ pods: 200, namespaces: 20, policies: 40, seed: 11 });
const clusterFile = join(dir, 'cluster.yaml');
writeFileSync(clusterFile, generated.text);
const cluster = buildCluster(loadText(generated.text, clusterFile).resources).cluster;
const pods: readonly Endpoint[] = cluster.endpoints.filter((e) => e.addresses.length > 0);

/** A flow log line: pod → pod on a declared port, pod → external, now and then a bad line. */
function flowLine(rng: Rng, i: number): string {
  const src = rng.pick(pods);
  const r = rng.next();
  if (i % 997 === 13) return '{"from": "nope/nothing", "to": "x/y", "port": 1}';
  if (i % 1009 === 7) return 'this is not json';
  if (i % 1013 === 5) return '# a comment';
  if (r < 0.2) return JSON.stringify({ from: src.id, to: rng.pick(generated.externalAddresses), port: 443, protocol: 'TCP' });
  const dst = rng.pick(pods);
  const p = dst.ports[0];
  return JSON.stringify({ from: src.id, to: dst.id, port: p?.port ?? 80, protocol: p?.protocol === 17 ? 'UDP' : 'TCP' });
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

test('batch results come in input order, each equal to explaining that flow alone; --verdict-only and text agree with them', async () => {
  const rng = new Rng(3);
  const lines = Array.from({ length: 2000 }, (_, i) => flowLine(rng, i));
  const flowsFile = join(dir, 'order.jsonl');
  writeFileSync(flowsFile, `${lines.join('\r\n')}\r\n`);
  const json = await run(['explain', '-q', '-f', clusterFile, '--flows', flowsFile, '-o', 'json']);
  const verdicts = await run(['explain', '-q', '-f', clusterFile, '--flows', flowsFile, '-o', 'json', '--verdict-only']);
  const text = await run(['explain', '-q', '-f', clusterFile, '--flows', flowsFile]);
  assert.equal(json.code, 2, 'bad lines make the exit code 2');
  const full = json.out.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const only = verdicts.out.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const textLines = text.out.split('\n');
  const expectedLines = lines.filter((l) => !l.startsWith('#'));
  assert.equal(full.length, expectedLines.length);
  assert.equal(only.length, expectedLines.length);
  assert.equal(textLines.length, expectedLines.length);
  let singles = 0;
  for (let i = 0; i < full.length; i++) {
    const input = JSON.parse(expectedLines[i]!.startsWith('{') ? expectedLines[i]! : '{}') as Record<string, unknown>;
    const r = full[i]!;
    if ('error' in r) {
      assert.ok('error' in only[i]!, `line ${i}: both modes report the error`);
      assert.equal(r['line'], only[i]!['line']);
      assert.match(textLines[i]!, /"error"/);
      continue;
    }
    assert.equal(r['from'], input['from'], `result ${i} answers input line ${i}`);
    assert.equal(r['to'], input['to']);
    const decidedBy = { ...(r['decidedBy'] as Record<string, unknown>) };
    delete decidedBy['source'];
    assert.deepEqual(only[i], { from: r['from'], to: r['to'], port: r['port'], protocol: r['protocol'], verdict: r['verdict'], decidedBy });
    assert.match(textLines[i]!, new RegExp(`^${String(r['from']).replace(/[.]/g, '\\.')} -> .*: ${String(r['verdict'])} by `));
    const flow = makeFlow(cluster, { from: String(input['from']), to: String(input['to']), port: input['port'] as number, protocol: input['protocol'] as string });
    assert.ok(flow.ok);
    assert.deepEqual(r, JSON.parse(JSON.stringify(explainFlow(cluster, flow.value, { fromText: String(input['from']), toText: String(input['to']) }))), `line ${i}`);
    if (i % 700 === 0) {
      // The same flow explained alone by the command (pretty-printed JSON) is the same object.
      const one = await run(['explain', '-q', '-f', clusterFile, '--from', String(input['from']), '--to', String(input['to']), '--port', String(input['port']), '--protocol', String(input['protocol']), '-o', 'json']);
      // (A single denied flow also lists the closest Allow rules; batches do not.)
      const alone = JSON.parse(one.out) as Record<string, unknown>;
      delete alone['closestRules'];
      assert.deepEqual(alone, r);
      singles++;
    }
  }
  assert.ok(singles >= 3);
  // Errors keep their input line numbers (1-based, counted over CRLF lines).
  const bad = full.filter((r) => 'error' in r);
  assert.ok(bad.length >= 4);
  for (const r of bad) assert.match(lines[(r['line'] as number) - 1]!, /nope\/nothing|not json/);
});

interface StreamRun {
  readonly results: number;
  readonly maxBuffered: number;
  readonly maxAhead: number;
  readonly heapAt: ReadonlyMap<number, number>;
}

/**
 * Runs `explain --flows -` over `n` generated lines with a stdin produced on demand and a stdout
 * that takes each chunk one event-loop turn later; records the most bytes stdout ever buffered,
 * how far reading ever got ahead of writing, and the heap (after a GC) at the given result counts.
 */
async function streamRun(n: number, args: readonly string[], heapMarks: readonly number[] = []): Promise<StreamRun> {
  const rng = new Rng(42);
  let generatedLines = 0;
  async function* stdinChunks(): AsyncGenerator<string> {
    while (generatedLines < n) {
      const batch: string[] = [];
      for (let k = 0; k < 100 && generatedLines < n; k++) batch.push(flowLine(rng, generatedLines++));
      yield `${batch.join('\n')}\n`;
    }
  }
  const stdin = Readable.from(stdinChunks(), { objectMode: false, highWaterMark: 16 * 1024 });
  let results = 0;
  let maxBuffered = 0;
  let maxAhead = 0;
  const heapAt = new Map<number, number>();
  const marks = [...heapMarks];
  const stdout = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, done) {
      maxBuffered = Math.max(maxBuffered, this.writableLength);
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) results++;
      maxAhead = Math.max(maxAhead, generatedLines - results);
      while (marks.length > 0 && results >= marks[0]!) {
        gc();
        heapAt.set(marks.shift()!, process.memoryUsage().heapUsed);
      }
      setImmediate(done);
    },
  });
  const base = memoryIo();
  const io: Io = {
    ...base,
    out: (t) => void stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    drained: () => drainedStream(stdout),
    readLines: (p) => (p === '-' ? linesOf(stdin) : base.readLines(p)),
  };
  const code = await main(['explain', '-q', '-f', clusterFile, '--flows', '-', ...args], io);
  assert.equal(code, 2, 'the generated log has bad lines');
  await new Promise<void>((resolve) => stdout.end(resolve));
  return { results, maxBuffered, maxAhead, heapAt };
}

test('200,000 streamed flows: stdout never buffers more than a chunk past its high-water mark, reading stays close behind writing, the heap does not grow', async () => {
  const n = 200_000;
  const r = await streamRun(n, ['-o', 'json', '--verdict-only'], [50_000, 190_000]);
  assert.ok(r.results > n * 0.99, `${r.results} results`);
  const bound = 16 * 1024 + LineWriter.CHUNK + 4096;
  assert.ok(r.maxBuffered <= bound, `stdout buffered ${r.maxBuffered} bytes (bound ${bound})`);
  assert.ok(r.maxAhead < 5_000, `reading got ${r.maxAhead} lines ahead of writing`);
  // Buffering all output would hold 190,000 − 50,000 lines of ~330 bytes: over 40 MB more.
  const growth = r.heapAt.get(190_000)! - r.heapAt.get(50_000)!;
  assert.ok(growth < 8 * 2 ** 20, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB between 50k and 190k results`);
});

test('full JSON explanations stream under the same bound', async () => {
  const r = await streamRun(20_000, ['-o', 'json']);
  assert.ok(r.results > 19_000);
  assert.ok(r.maxBuffered <= 16 * 1024 + LineWriter.CHUNK + 16 * 1024, `stdout buffered ${r.maxBuffered} bytes`);
  assert.ok(r.maxAhead < 5_000, `reading got ${r.maxAhead} lines ahead of writing`);
});

test('linesOf splits a stream of any chunking exactly as split(/\\r?\\n/) splits the whole text', async () => {
  const cases: readonly [string, string][] = [
    ['empty', ''],
    ['one line, no newline', 'a'],
    ['trailing newline', 'a\nb\n'],
    ['CRLF', 'a\r\nb\r\n\r\nc'],
    ['lone CR kept inside a line', 'a\rb\nc'],
    ['multi-byte characters', 'ä\n€\n😀x\n'],
  ];
  for (const [name, text] of cases) {
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 7, 1000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const got: string[] = [];
      for await (const batch of linesOf(chunks)) got.push(...batch);
      assert.deepEqual(got, text.split(/\r?\n/), `${name}, chunks of ${size}`);
    }
  }
});

for (const [name, withExpect] of [['with', true], ['without', false]] as const) {
  test(`--verdict-only on the example flows ${name} their expectations gives the full path's verdicts, deciding steps and pass/fail`, async () => {
    const source = readFileSync('examples/multi-tenant/flows.jsonl', 'utf8');
    const file = join(dir, `example-${name}.jsonl`);
    const strip = (l: string): string => {
      if (withExpect || !l.trim().startsWith('{')) return l;
      const o = JSON.parse(l) as Record<string, unknown>;
      delete o['expect'];
      return JSON.stringify(o);
    };
    writeFileSync(file, source.split('\n').map(strip).join('\n'));
    const full = await run(['explain', '-q', '-f', 'examples/multi-tenant', '--flows', file, '-o', 'json']);
    const only = await run(['explain', '-q', '-f', 'examples/multi-tenant', '--flows', file, '-o', 'json', '--verdict-only']);
    assert.equal(only.code, full.code);
    const a = full.out.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const b = only.out.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(b.length, a.length);
    assert.ok(a.length > 5);
    for (let i = 0; i < a.length; i++) {
      const decidedBy = { ...(a[i]!['decidedBy'] as Record<string, unknown>) };
      delete decidedBy['source'];
      assert.equal(b[i]!['verdict'], a[i]!['verdict'], `line ${i}`);
      assert.deepEqual(b[i]!['decidedBy'], decidedBy, `line ${i}`);
      assert.equal(b[i]!['pass'], a[i]!['pass'], `line ${i}`);
      assert.equal(b[i]!['egress'], undefined, 'no traces');
    }
  });
}
