// Front door of `load`: files, directories and stdin → YAML/JSON documents with source positions →
// validated resources (through model.validateDocument), with every problem as a diagnostic.
export type { LoadResult } from './load-text.ts';
export { loadText } from './load-text.ts';
export type { LoadOptions } from './load-paths.ts';
export { MANIFEST_EXTENSIONS, STDIN, loadPaths } from './load-paths.ts';
export { reconcileDuplicates } from './duplicates.ts';
export { makeOrigin, makeSourceText, scalarSourceOffset } from './yaml-origin.ts';
export type { SourceText } from './yaml-origin.ts';
export type { LoadedPolicyTest, PolicyTestLoad } from './policy-tests.ts';
export { loadPolicyTests } from './policy-tests.ts';
