// The scenario corpus is well-formed: every case folder has manifests that parse, an
// expect.jsonl whose every line is a flow in the documented format naming endpoints that the
// manifests define, and a SOURCE.md saying where the case comes from. Needs no engine.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { SCENARIOS_ROOT, SUITES, flowLabel, listCases, manifestFiles, readExpect } from './corpus.ts';

const WORKLOAD_KINDS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'ReplicationController', 'WorkloadEndpoint']);

interface Parsed {
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  items?: unknown;
}

/** NS/NAME of every endpoint the manifests define (list items inherit their kind from `XList`). */
function endpointsDefined(files: readonly string[]): { names: Set<string>; problems: string[] } {
  const names = new Set<string>();
  const problems: string[] = [];
  const visit = (o: Parsed, inheritedKind: string | undefined, where: string): void => {
    const kind = typeof o.kind === 'string' ? o.kind : inheritedKind;
    if (kind === undefined) {
      problems.push(`${where}: a document without "kind"`);
      return;
    }
    if (Array.isArray(o.items)) {
      const itemKind = kind !== 'List' && kind.endsWith('List') ? kind.slice(0, -'List'.length) : undefined;
      for (const item of o.items as unknown[]) if (item && typeof item === 'object') visit(item as Parsed, itemKind, where);
      return;
    }
    if (WORKLOAD_KINDS.has(kind) && typeof o.metadata?.name === 'string') {
      const ns = typeof o.metadata.namespace === 'string' ? o.metadata.namespace : 'default';
      names.add(`${ns}/${o.metadata.name}`);
    }
  };
  for (const f of files) {
    const docs = parseAllDocuments(fs.readFileSync(f, 'utf8'));
    for (const d of docs) {
      if (d.errors.length) {
        problems.push(`${path.basename(f)}: ${d.errors[0]?.message ?? 'parse error'}`);
        continue;
      }
      const v: unknown = d.toJS();
      if (v === null || v === undefined) continue;
      if (typeof v !== 'object' || Array.isArray(v)) {
        problems.push(`${path.basename(f)}: a document that is not an object`);
        continue;
      }
      visit(v as Parsed, undefined, path.basename(f));
    }
  }
  return { names, problems };
}

describe('scenario corpus format', () => {
  it('has the three suites and a README', () => {
    for (const s of SUITES) assert.ok(fs.statSync(path.join(SCENARIOS_ROOT, s)).isDirectory(), `missing suite ${s}`);
    assert.ok(fs.statSync(path.join(SCENARIOS_ROOT, 'README.md')).isFile());
    const cases = listCases();
    for (const s of SUITES) assert.ok(cases.some((c) => c.suite === s), `suite ${s} has no cases`);
  });

  for (const c of listCases()) {
    it(c.id, () => {
      assert.ok((SUITES as readonly string[]).includes(c.suite), `unknown suite ${c.suite}`);
      assert.match(c.name, /^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'case folder name');

      const files = manifestFiles(c.dir);
      assert.ok(files.length > 0, `${c.id}: no .yaml/.yml/.json manifests`);
      const { names, problems } = endpointsDefined(files);
      assert.deepEqual(problems, [], `${c.id}: manifests`);

      assert.ok(fs.existsSync(path.join(c.dir, 'expect.jsonl')), `${c.id}: no expect.jsonl`);
      const flows = readExpect(c.dir); // throws with the line number on a malformed line
      assert.ok(flows.length > 0, `${c.id}: expect.jsonl is empty`);
      const seen = new Set<string>();
      for (const f of flows) {
        const key = flowLabel(f);
        assert.ok(!seen.has(key), `${c.id}: duplicate flow ${key}`);
        seen.add(key);
        for (const ep of [f.from, f.to]) if (isIP(ep) === 0) assert.ok(names.has(ep), `${c.id}: ${key}: no manifest defines endpoint ${ep}`);
        if (f.from === f.to) assert.equal(f.verdict, 'allow', `${c.id}: ${key}: traffic to itself is always allowed`);
      }

      const source = path.join(c.dir, 'SOURCE.md');
      assert.ok(fs.existsSync(source), `${c.id}: no SOURCE.md`);
      const text = fs.readFileSync(source, 'utf8');
      assert.match(text, /https:\/\/github\.com\/[\w.-]+\/[\w.-]+/, `${c.id}: SOURCE.md names no repository`);
      assert.match(text, /\b[0-9a-f]{40}\b/, `${c.id}: SOURCE.md records no commit`);
    });
  }
});
