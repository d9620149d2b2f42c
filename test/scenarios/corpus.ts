// The scenario corpus under testdata/scenarios/: discovery and the expect.jsonl line format.
// Shared by format.test.ts (the corpus is well-formed) and scenarios.test.ts (the CLI agrees
// with it). The format is documented in testdata/scenarios/README.md.
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SCENARIOS_ROOT = path.join(REPO_ROOT, 'testdata', 'scenarios');
export const SUITES = ['k8s-e2e', 'cyclonus', 'np-guard', 'network-policy-api'] as const;

export const PROTOCOLS = ['TCP', 'UDP', 'SCTP', 'ICMP'] as const;
export const VERDICTS = ['allow', 'deny'] as const;
export const DIRECTIONS = ['egress', 'ingress'] as const;
export const REASONS = ['rule', 'end-of-tier', 'profile', 'no-endpoint', 'loopback'] as const;
export const FLOW_KEYS = ['from', 'to', 'port', 'protocol', 'verdict', 'decidedBy'] as const;
export const DECIDED_BY_KEYS = ['direction', 'tier', 'policy', 'namespace', 'kind', 'rule', 'action', 'reason'] as const;

export type Verdict = (typeof VERDICTS)[number];

export interface ExpectedFlow {
  from: string;
  to: string;
  port: number;
  protocol: string;
  verdict: Verdict;
  decidedBy?: Record<string, unknown>;
}

export interface ScenarioCase {
  /** `suite/case`, e.g. `k8s-e2e/default-deny-all`. */
  id: string;
  suite: string;
  name: string;
  dir: string;
}

/** Every case folder: `testdata/scenarios/<suite>/<case>/`. */
export function listCases(): ScenarioCase[] {
  const cases: ScenarioCase[] = [];
  for (const suite of fs.readdirSync(SCENARIOS_ROOT, { withFileTypes: true })) {
    if (!suite.isDirectory()) continue;
    const suiteDir = path.join(SCENARIOS_ROOT, suite.name);
    for (const c of fs.readdirSync(suiteDir, { withFileTypes: true })) {
      if (!c.isDirectory()) continue;
      cases.push({ id: `${suite.name}/${c.name}`, suite: suite.name, name: c.name, dir: path.join(suiteDir, c.name) });
    }
  }
  return cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Files `strata -f <folder>` loads: .yaml, .yml and .json, recursively. */
export function manifestFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...manifestFiles(p));
    else if (/\.(ya?ml|json)$/i.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** An endpoint in a flow: `NS/NAME` or an IP address. */
export function isEndpoint(s: string): boolean {
  return isIP(s) !== 0 || /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks one parsed expect.jsonl line; returns the problems found (empty when well-formed). */
export function flowProblems(v: unknown): string[] {
  if (!isRecord(v)) return ['not a JSON object'];
  const problems: string[] = [];
  for (const k of Object.keys(v)) if (!(FLOW_KEYS as readonly string[]).includes(k)) problems.push(`unknown field "${k}"`);
  if (typeof v['from'] !== 'string' || !isEndpoint(v['from'])) problems.push(`"from" must be NS/NAME or an IP address`);
  if (typeof v['to'] !== 'string' || !isEndpoint(v['to'])) problems.push(`"to" must be NS/NAME or an IP address`);
  const port = v['port'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) problems.push(`"port" must be an integer 0-65535`);
  if (typeof v['protocol'] !== 'string' || !(PROTOCOLS as readonly string[]).includes(v['protocol'])) problems.push(`"protocol" must be one of ${PROTOCOLS.join('/')}`);
  if (typeof v['verdict'] !== 'string' || !(VERDICTS as readonly string[]).includes(v['verdict'])) problems.push(`"verdict" must be allow or deny`);
  if ('decidedBy' in v) {
    const d = v['decidedBy'];
    if (!isRecord(d) || Object.keys(d).length === 0) problems.push(`"decidedBy" must be a non-empty object`);
    else {
      for (const k of Object.keys(d)) if (!(DECIDED_BY_KEYS as readonly string[]).includes(k)) problems.push(`unknown decidedBy field "${k}"`);
      if ('direction' in d && !(DIRECTIONS as readonly unknown[]).includes(d['direction'])) problems.push(`decidedBy.direction must be egress or ingress`);
      if ('reason' in d && !(REASONS as readonly unknown[]).includes(d['reason'])) problems.push(`decidedBy.reason must be one of ${REASONS.join('/')}`);
      if ('rule' in d && d['rule'] !== null && !(typeof d['rule'] === 'number' && Number.isInteger(d['rule']) && d['rule'] >= 0)) problems.push(`decidedBy.rule must be a non-negative integer or null`);
      for (const k of ['tier', 'policy', 'namespace', 'kind', 'action'] as const) if (k in d && typeof d[k] !== 'string') problems.push(`decidedBy.${k} must be a string`);
    }
  }
  return problems;
}

/** Reads expect.jsonl (blank lines are not allowed: every line is one flow). */
export function readExpect(dir: string): ExpectedFlow[] {
  const text = fs.readFileSync(path.join(dir, 'expect.jsonl'), 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line, i) => {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`expect.jsonl:${i + 1}: ${(e as Error).message}`);
    }
    const problems = flowProblems(v);
    if (problems.length) throw new Error(`expect.jsonl:${i + 1}: ${problems.join('; ')}`);
    return v as ExpectedFlow;
  });
}

export function flowLabel(f: { from: string; to: string; port: number; protocol: string }): string {
  return `${f.from} -> ${f.to} ${f.port}/${f.protocol}`;
}
