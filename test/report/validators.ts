// The report validators the tests share: the official SARIF 2.1.0 JSON Schema (draft-04, via
// ajv's draft-04 class) and the JUnit XSD CI servers read (via libxml2's xmllint as WebAssembly).
// Both schema files are committed under test/fixtures/schemas/ (sources in its README).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import AjvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { validateXML } from 'xmllint-wasm';

const SCHEMAS = fileURLToPath(new URL('../fixtures/schemas/', import.meta.url));

// CommonJS packages: their class and plugin are the modules' `default` export.
const ajv = new AjvDraft04.default({ allErrors: true, strict: false });
ajvFormats.default(ajv);
const sarifValidator = ajv.compile(JSON.parse(readFileSync(`${SCHEMAS}sarif-schema-2.1.0.json`, 'utf8')) as object);

/** Problems of a SARIF log against the SARIF 2.1.0 schema; empty when it is valid. */
export function sarifProblems(log: unknown): string[] {
  if (sarifValidator(log)) return [];
  return (sarifValidator.errors ?? []).map((e: { instancePath: string; message?: string | undefined }) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

const junitXsd = readFileSync(`${SCHEMAS}junit-10.xsd`, 'utf8');

/** Problems of a JUnit XML report against the JUnit XSD; empty when it is valid. */
export async function junitProblems(xml: string): Promise<string[]> {
  const r = await validateXML({ xml: [{ fileName: 'report.xml', contents: xml }], schema: [{ fileName: 'junit-10.xsd', contents: junitXsd }] });
  return r.valid ? [] : r.errors.map((e) => e.message);
}
