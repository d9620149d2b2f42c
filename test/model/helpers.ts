// Test helpers: validate a YAML snippet as one document and summarise the outcome as
// `severity code @ path` strings, so tables stay short and readable.
import { parse } from 'yaml';
import type { Diagnostic } from '../../src/diagnostics/index.ts';
import { syntheticOrigin, validateDocument } from '../../src/model/index.ts';
import type { Resource } from '../../src/model/index.ts';

export interface Outcome {
  readonly ok: boolean;
  readonly resource: Resource | undefined;
  readonly diagnostics: readonly Diagnostic[];
  /** `code@path` of every error. */
  readonly errors: readonly string[];
  /** `code@path` of every warning. */
  readonly warnings: readonly string[];
}

export function validateYaml(text: string): Outcome {
  const r = validateDocument(parse(text) as unknown, syntheticOrigin('<test>'));
  const pick = (sev: string): string[] => r.diagnostics.filter((d) => d.severity === sev).map((d) => `${d.code}@${d.path ?? ''}`);
  return { ok: r.ok, resource: r.ok ? r.value : undefined, diagnostics: r.diagnostics, errors: pick('error'), warnings: pick('warning') };
}

/** A Calico GlobalNetworkPolicy around the given spec lines (indented by two spaces). */
export function gnp(spec: string, name = 'test'): string {
  return `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: ${name}\nspec:\n${indent(spec, 2)}`;
}

/** A Calico NetworkPolicy in namespace `prod`. */
export function np(spec: string, name = 'test'): string {
  return `apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: ${name}\n  namespace: prod\nspec:\n${indent(spec, 2)}`;
}

/** A Kubernetes NetworkPolicy in namespace `prod`. */
export function knp(spec: string, name = 'test'): string {
  return `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: ${name}\n  namespace: prod\nspec:\n${indent(spec, 2)}`;
}

export function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .map((l) => (l === '' ? l : pad + l))
    .join('\n');
}
