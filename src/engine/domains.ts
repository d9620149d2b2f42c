// Domain-name patterns of Calico Enterprise DNS policy (`allowedEgressDomains`, rule `domains`).

/**
 * `allowedEgressDomains` entries are exact names or contain `*`, which stands for one or more
 * whole labels at that position (`*.example.com` matches `a.example.com` and `a.b.example.com`,
 * not `example.com`). Comparison is case-insensitive, as DNS is.
 */
export function domainMatches(pattern: string, domain: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (!p.includes('*')) return p === domain;
  const re = new RegExp(
    '^' +
      p
        .split('.')
        .map((label) => (label === '*' ? '[^.]+(?:\\.[^.]+)*' : label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\*/g, '[^.]*')))
        .join('\\.') +
      '$',
  );
  return re.test(domain);
}
