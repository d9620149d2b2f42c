// JUnit XML, the test report every CI server reads (Jenkins, GitLab, GitHub Actions reporters):
// <testsuites> with one <testsuite> per PolicyTest and one <testcase> per case; a failed
// expectation is a <failure>, a case that could not run an <error>. Checked against the JUnit XSD
// CI servers use (test/fixtures/schemas/junit-10.xsd).

export interface JunitCase {
  readonly name: string;
  readonly classname: string;
  readonly seconds: number;
  readonly failure?: { readonly message: string; readonly details: string } | undefined;
  readonly error?: { readonly message: string; readonly details: string } | undefined;
}

export interface JunitSuite {
  readonly name: string;
  readonly file?: string | undefined;
  readonly cases: readonly JunitCase[];
}

/** XML 1.0 allows only these characters; others (most C0 controls) are dropped. */
const INVALID_XML = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeXml(s: string): string {
  return s.replace(INVALID_XML, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function seconds(n: number): string {
  return Math.max(0, n).toFixed(3);
}

function attrs(pairs: readonly (readonly [string, string | number | undefined])[]): string {
  return pairs
    .filter((p): p is readonly [string, string | number] => p[1] !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
}

export function junitXml(name: string, suites: readonly JunitSuite[]): string {
  const count = (s: JunitSuite, what: 'failure' | 'error'): number => s.cases.filter((c) => c[what] !== undefined).length;
  const total = (f: (s: JunitSuite) => number): number => suites.reduce((n, s) => n + f(s), 0);
  const time = (s: JunitSuite): number => s.cases.reduce((t, c) => t + c.seconds, 0);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  lines.push(
    `<testsuites${attrs([
      ['name', name],
      ['tests', total((s) => s.cases.length)],
      ['failures', total((s) => count(s, 'failure'))],
      ['errors', total((s) => count(s, 'error'))],
      ['time', seconds(total(time))],
    ])}>`,
  );
  for (const s of suites) {
    lines.push(
      `  <testsuite${attrs([
        ['name', s.name],
        ['tests', s.cases.length],
        ['failures', count(s, 'failure')],
        ['errors', count(s, 'error')],
        ['skipped', 0],
        ['time', seconds(time(s))],
        ['file', s.file],
      ])}>`,
    );
    for (const c of s.cases) {
      const head = `    <testcase${attrs([
        ['name', c.name],
        ['classname', c.classname],
        ['time', seconds(c.seconds)],
      ])}`;
      const problem = c.failure !== undefined ? (['failure', c.failure] as const) : c.error !== undefined ? (['error', c.error] as const) : undefined;
      if (problem === undefined) {
        lines.push(`${head}/>`);
        continue;
      }
      const [tag, p] = problem;
      lines.push(`${head}>`);
      lines.push(`      <${tag}${attrs([['message', p.message], ['type', tag === 'failure' ? 'expectation' : 'invalid-case']])}>${escapeXml(p.details)}</${tag}>`);
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n');
}
