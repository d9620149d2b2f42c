// Calico selector fields (`selector`, `namespaceSelector`, `serviceAccountSelector`, rule
// `selector`/`notSelector`/…): at most 1024 characters, valid syntax (the selector package's parser,
// whose column becomes a caret inside the YAML value), and the `global()` rules of the CEL
// annotations and validateEntityRule:
//   - policy `selector`/`serviceAccountSelector`, GNP `namespaceSelector`, rule `selector`: no
//     `global(` at all (the CEL rule is a substring test);
//   - a rule `namespaceSelector` that mentions `global(` must be exactly `global()`.
import { z } from 'zod';
import { parseSelector, tokenizeSelector } from '../selector/index.ts';
import { report, tag } from './schema-kit.ts';
import type { CheckContext } from './schema-kit.ts';

export const SELECTOR_MAX_LENGTH = 1024;

export type GlobalRule = 'forbidden' | 'only-alone' | 'allowed';

function checkSelectorText(text: string, global: GlobalRule, ctx: CheckContext): void {
  const length = [...text].length;
  if (length > SELECTOR_MAX_LENGTH) {
    report(ctx, [], `selectors are limited to ${SELECTOR_MAX_LENGTH} characters (this one has ${length})`, { code: 'model/invalid-selector' });
    return;
  }
  const parsed = parseSelector(text);
  if (!parsed.ok) {
    const d = parsed.diagnostics[0];
    const col = d?.span?.col ?? 1;
    const endCol = d?.span?.endLine === d?.span?.line ? d?.span?.endCol : undefined;
    report(ctx, [], `invalid selector: ${d?.message ?? 'syntax error'}`, {
      code: 'model/invalid-selector',
      help: d?.help,
      offset: col - 1,
      endOffset: endCol === undefined ? undefined : endCol,
    });
    return;
  }
  const at = text.indexOf('global(');
  if (at < 0) return;
  if (global === 'forbidden') {
    report(ctx, [], "global() can only be used in a rule's namespaceSelector", { code: 'model/invalid-selector', offset: at, endOffset: at + 8 });
  } else if (global === 'only-alone' && text !== 'global()') {
    const tokens = tokenizeSelector(text);
    const alone = tokens.ok && tokens.value.length === 2 && tokens.value[0]?.kind === 'global';
    if (!alone) report(ctx, [], 'global() cannot be combined with other selectors', { code: 'model/invalid-selector', offset: at, endOffset: at + 8 });
  }
}

/** A Calico selector string; empty means `all()`. */
export function calicoSelector(global: GlobalRule): z.ZodString {
  return tag(
    z.string().check(z.superRefine((v, ctx) => checkSelectorText(v, global, ctx as CheckContext))),
    { expected: 'a selector expression (a string)', code: 'model/invalid-selector' },
  );
}
