// `strata demo` (what `npm start` runs): the main job on the embedded default — the bundled
// multi-tenant example. It checks the manifests, explains the example's flows of interest (the
// ones its README walks through) and prints the connectivity matrix.
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { readFile } from 'node:fs/promises';
import { lint } from '../../analysis/lint.ts';
import { explainFlow, renderExplainText } from '../../analysis/explain.ts';
import type { ExplainJson } from '../../analysis/explain.ts';
import { makeFlow } from '../../engine/index.ts';
import type { FlowRequest } from '../../engine/index.ts';
import type { Io } from '../io.ts';
import { countTiers } from './check.ts';
import { loadWorkspace, renderFor } from '../workspace.ts';
import { EXIT, UsageError } from '../exit.ts';
import { runMatrix } from './matrix.ts';

export const DEMO_DIR = fileURLToPath(new URL('../../../examples/multi-tenant/', import.meta.url));

/** The example folder as the user would type it from where they are (shorter spans in the output). */
function demoDir(): string {
  const rel = relative(process.cwd(), DEMO_DIR);
  return rel === '' || rel.startsWith('..') ? DEMO_DIR : `${rel}/`;
}

export async function runDemo(io: Io, opts: { readonly output: string }): Promise<number> {
  if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`-o ${opts.output}: demo prints text or json`);
  const dir = demoDir();
  const ws = await loadWorkspace(io, [dir]);
  const findings = [...ws.diagnostics, ...lint(ws)].filter((d) => d.severity !== 'info');
  const flows = (await readFile(`${DEMO_DIR}flows.jsonl`, 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('//'))
    .map((l) => JSON.parse(l) as FlowRequest & { note?: string });
  const results: (ExplainJson & { note?: string })[] = [];
  for (const f of flows) {
    const flow = makeFlow(ws.cluster, f);
    if (!flow.ok) throw new Error(`demo flow ${JSON.stringify(f)} is invalid: ${flow.diagnostics[0]?.message ?? ''}`);
    results.push({ ...explainFlow(ws.cluster, flow.value, { fromText: f.from, toText: f.to }), ...(f.note === undefined ? {} : { note: f.note }) });
  }
  if (opts.output === 'json') {
    io.out(JSON.stringify({ example: DEMO_DIR, diagnostics: findings, flows: results }, null, 2));
    return EXIT.OK;
  }
  io.out(`Strata demo — the bundled multi-tenant example (${dir})\n`);
  io.out(`== check: ${ws.resources.length} resources, ${ws.cluster.policies.length} policies in ${countTiers(ws.cluster)} tiers, ${ws.cluster.endpoints.length} endpoints`);
  if (findings.length > 0) io.out(renderFor({ ...io, stderrColor: io.stdoutColor }, ws, findings));
  else io.out('   no problems found');
  io.out('\n== explain: the flows the example walks through');
  for (const r of results) {
    if (r.note !== undefined) io.out(`\n# ${r.note}`);
    io.out(renderExplainText(r, io.stdoutColor));
  }
  io.out('\n== matrix (declared ports)');
  return runMatrix(io, { filename: [dir], port: [], output: 'table', quiet: true });
}
