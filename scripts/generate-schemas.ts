// Writes the JSON Schemas published in docs/schemas/ from their zod sources, so the documented
// format is the validated one. test/policy-test/schema.test.ts fails when they drift:
// run `node scripts/generate-schemas.ts` after changing src/model/policy-test.ts.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { policyTestJsonSchema } from '../src/model/index.ts';

export const POLICY_TEST_SCHEMA_FILE = fileURLToPath(new URL('../docs/schemas/policy-test.schema.json', import.meta.url));

export function policyTestSchemaText(): string {
  return JSON.stringify(policyTestJsonSchema(), null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(POLICY_TEST_SCHEMA_FILE, policyTestSchemaText());
  console.log(`wrote ${POLICY_TEST_SCHEMA_FILE}`);
}
