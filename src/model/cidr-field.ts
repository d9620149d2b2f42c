// Address and CIDR fields, in the three strictnesses the upstream validators use:
//   strict   — Calico rule `nets`/`notNets`: CIDR notation, host bits zero (validateRule);
//   lenient  — Calico (Global)NetworkSet `nets`: a bare IP or any CIDR (the `cidr` tag);
//   notation — Kubernetes `ipBlock`, admin policy `networks`: CIDR notation required, host bits
//              tolerated (Calico masks them; a warning says so, see kubernetes-network-policy.ts).
import { z } from 'zod';
import { parseCidrStrict, parseCidrText, parseIp } from '../net/index.ts';
import { report, tag } from './schema-kit.ts';
import type { CheckContext } from './schema-kit.ts';

export type CidrStrictness = 'strict' | 'lenient' | 'notation';

function checkCidr(text: string, strictness: CidrStrictness, ctx: CheckContext): void {
  if (strictness === 'strict') {
    const r = parseCidrStrict(text);
    if (!r.ok) report(ctx, [], r.diagnostics[0]?.message ?? 'invalid CIDR', { code: 'model/invalid-cidr' });
    return;
  }
  const r = parseCidrText(text);
  if (!r.ok) {
    report(ctx, [], r.diagnostics[0]?.message ?? 'invalid CIDR', { code: 'model/invalid-cidr' });
    return;
  }
  if (strictness === 'notation' && !r.value.hasPrefix) {
    const bits = r.value.address.family === 4 ? 32 : 128;
    report(ctx, [], `"${text}" is not in CIDR notation: expected ADDRESS/PREFIX`, { code: 'model/invalid-cidr', help: `for a single address write "${text}/${bits}"` });
  }
}

/** A CIDR string checked with the given strictness; the body keeps the text as written. */
export function cidrString(strictness: CidrStrictness): z.ZodString {
  return tag(
    z.string().check(z.superRefine((v, ctx) => checkCidr(v, strictness, ctx as CheckContext))),
    { expected: 'a CIDR such as "10.0.0.0/8" (a string)', code: 'model/invalid-cidr' },
  );
}

/** An IP address string (no prefix). */
export const ipString: z.ZodString = tag(
  z.string().check(
    z.superRefine((v, ctx) => {
      const r = parseIp(v);
      if (!r.ok) report(ctx as CheckContext, [], r.diagnostics[0]?.message ?? 'invalid IP address', { code: 'model/invalid-ip' });
    }),
  ),
  { expected: 'an IP address such as "10.0.0.1" (a string)', code: 'model/invalid-ip' },
);
