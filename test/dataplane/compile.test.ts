// The compiler, case by case: what each engine rule field becomes in the IR, the layout of the
// endpoint chains, the notes, the problems it reports, and the nft text of single matches.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  COMMENT_MAX,
  DECISION_PREFIX,
  DEFAULT_DECISION_GROUP,
  decisionId,
  parseDecisionPrefix,
  compileNode,
  diffRulesets,
  endpointChainName,
  formatProvenance,
  NAME_MAX,
  nftName,
  parseProvenance,
  policyChainName,
  renderMatch,
  renderDomainBindings,
  renderNft,
  renderNftUpdate,
  renderRule,
} from '../../src/dataplane/index.ts';
import type { Chain, Match, Provenance, Rule, Ruleset } from '../../src/dataplane/index.ts';
import type { Endpoint, Policy } from '../../src/engine/model.ts';
import { cluster, endpoint, ICMP, ifnameOf, interfacesOf, nets, networkSet, policy, ports, rules, sel, TCP, tier, UDP } from './fixtures.ts';
import type { ClusterSpec, RuleSpec } from './fixtures.ts';

const web = endpoint({ id: 'prod/web', labels: { app: 'web' }, addresses: ['10.0.0.1', 'fd00::1'], ports: [{ name: 'http', protocol: TCP, port: 8080 }] });
const db = endpoint({ id: 'prod/db', labels: { app: 'db' }, addresses: ['10.0.0.2'], ports: [{ name: 'http', protocol: UDP, port: 8081 }] });

type Extra = Omit<ClusterSpec, 'policies' | 'endpoints'>;

function compileWith(policies: readonly Policy[], opts: { eps?: readonly Endpoint[]; extra?: Extra } = {}): Ruleset {
  const eps = opts.eps ?? [web, db];
  const c = cluster({ tiers: [tier('security', 10), tier('relaxed', 20, 'pass')], ...(opts.extra ?? {}), policies, endpoints: eps });
  const r = compileNode(c, eps, { interfaces: interfacesOf(eps) });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.value;
}

function chain(rs: Ruleset, name: string): Chain {
  const c = rs.chains.find((x) => x.name === name);
  assert.ok(c !== undefined, `chain ${name} exists (have ${rs.chains.map((x) => x.name).join(', ')})`);
  return c;
}

/** The IR rules of a one-rule ingress policy selecting prod/web. */
function rulesFor(spec: RuleSpec, action: 'allow' | 'deny' | 'pass' | 'log' = 'allow', extra?: Extra): readonly Rule[] {
  const p = policy({ name: 'p', selector: 'app == "web"', ingress: rules([action, spec]) });
  return chain(compileWith([p], extra === undefined ? {} : { extra }), policyChainName(p, 'ingress')).rules;
}

function texts(rs: readonly Rule[]): string[] {
  return rs.map((r) => r.matches.map(renderMatch).join(' '));
}

describe('rule fields', () => {
  const cases: { name: string; spec: RuleSpec; want: string[] }[] = [
    { name: 'no criteria: one family-neutral rule', spec: {}, want: [''] },
    { name: 'protocol by number', spec: { protocol: 47 }, want: ['meta l4proto 47'] },
    { name: 'notProtocol', spec: { notProtocol: UDP }, want: ['meta l4proto != udp'] },
    { name: 'numeric ports need their protocol', spec: { protocol: TCP, destination: { ports: ports(80, '1000:2000', 1500) } }, want: ['meta l4proto tcp th dport { 80, 1000-2000 }'] },
    {
      name: 'ports without a protocol only match packets that have ports',
      spec: { destination: { ports: ports(53) } },
      want: ['meta l4proto { tcp, udp, sctp, udplite } th dport 53'],
    },
    { name: 'notProtocol narrows the port protocols', spec: { notProtocol: TCP, destination: { notPorts: ports(22) } }, want: ['meta l4proto { udp, sctp, udplite } th dport != 22'] },
    { name: 'ports on a protocol without ports never match', spec: { protocol: ICMP, destination: { ports: ports(80) } }, want: [] },
    {
      name: 'numeric and named ports: one rule per alternative, the numeric one shared by both families',
      spec: { protocol: TCP, destination: { ports: ports(443, 'http') } },
      want: [
        'meta l4proto tcp th dport 443',
        'meta l4proto tcp ip daddr . meta l4proto . th dport @n4/http',
        'meta l4proto tcp ip6 daddr . meta l4proto . th dport @n6/http',
      ],
    },
    {
      name: 'negated named and numeric ports in one rule',
      spec: { protocol: UDP, destination: { notPorts: ports('1:1023', 'http') } },
      want: ['meta l4proto udp th dport != 1-1023 ip daddr . meta l4proto . th dport != @n4/http', 'meta l4proto udp th dport != 1-1023 ip6 daddr . meta l4proto . th dport != @n6/http'],
    },
    { name: 'source ports', spec: { protocol: UDP, source: { ports: ports('1024:65535') } }, want: ['meta l4proto udp th sport 1024-65535'] },
    { name: 'ICMP type and code (IPv4 only: protocol ICMP)', spec: { protocol: ICMP, icmp: { type: 8, code: 0 } }, want: ['icmp type 8 icmp code 0'] },
    { name: 'ICMP type without a protocol: each family its own ICMP', spec: { icmp: { type: 3 } }, want: ['icmp type 3', 'icmpv6 type 3'] },
    {
      name: 'notICMP with a code is NOT(type and code), not "both differ" (reference §6.4)',
      spec: { notIcmp: { type: 3, code: 4 } },
      want: ['icmp type . icmp code != { 3 . 4 }', 'icmpv6 type . icmpv6 code != { 3 . 4 }'],
    },
    { name: 'ipVersion 6', spec: { ipVersion: 6 }, want: ['meta nfproto ipv6'] },
    { name: 'nets of one family: the rule exists for that family only (§9.18)', spec: { source: { nets: nets('10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/24') } }, want: ['ip saddr { 10.0.0.0/8, 192.168.0.0/24 }'] },
    { name: 'an IPv6-only notNets makes the rule IPv6-only', spec: { source: { notNets: nets('fd00::/8') } }, want: ['ip6 saddr != fd00::/8'] },
    { name: 'nets contradicting ipVersion: no rule', spec: { ipVersion: 4, source: { nets: nets('fd00::/8') } }, want: [] },
    {
      name: 'selector and notSelector: named sets, the negated one as a negated lookup',
      spec: { source: { selector: sel('app == "db"'), notSelector: sel('app == "web"') } },
      want: ['ip saddr @s4/app == "db" ip saddr != @s4/app == "web"', 'ip6 saddr @s6/app == "db" ip6 saddr != @s6/app == "web"'],
    },
    { name: 'an empty port list matches nothing', spec: { destination: { ports: { ranges: [], named: [] } } }, want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      // Compare with logical set names, which are the IR's.
      const got = rulesFor(c.spec).map((r) => r.matches.map((m) => renderMatch(m).replace(/@(\S+)/g, (_all, n: string) => `@${logicalOf(n, r)}`)).join(' '));
      assert.deepEqual(got, c.want);
    });
  }
});

/** The logical name behind an nft set name used by one of the rule's matches. */
function logicalOf(nft: string, r: Rule): string {
  for (const m of r.matches) if ((m.kind === 'addr-set' || m.kind === 'addr-proto-port-set') && nftName(m.set) === nft) return m.set;
  return nft;
}

describe('actions', () => {
  it('Allow records its decision, sets the accept mark and returns; Pass records and sets the pass mark; Deny records and drops; Log logs and continues', () => {
    const [allow] = rulesFor({}, 'allow');
    const [pass] = rulesFor({}, 'pass');
    const [deny] = rulesFor({}, 'deny');
    const [log] = rulesFor({}, 'log');
    const r = (x: Rule | undefined): string => renderRule(x!, () => 'iifname');
    const rec = (provenance: string): string => `log prefix "${DECISION_PREFIX}${decisionId(provenance)}" group ${DEFAULT_DECISION_GROUP}`;
    assert.equal(r(allow), `counter ${rec('gnp/p ingress 0 allow')} meta mark set meta mark | 0x00010000 return comment "gnp/p ingress 0 allow"`);
    assert.equal(r(pass), `counter ${rec('gnp/p ingress 0 pass')} meta mark set meta mark | 0x00020000 return comment "gnp/p ingress 0 pass"`);
    assert.equal(r(deny), `counter ${rec('gnp/p ingress 0 deny')} drop comment "gnp/p ingress 0 deny"`);
    assert.equal(r(log), 'counter log prefix "strata gnp/p ingress 0: " level info comment "gnp/p ingress 0 log"');
  });
});

describe('decision records', () => {
  const p = policy({ name: 'p', selector: 'app == "web"', ingress: rules(['pass', {}], ['deny', { protocol: TCP }], ['log', {}]) });

  it('the decision table maps every recorded id to its provenance: rules, end of tier, no profile (not Log rules)', () => {
    const rs = compileWith([p]);
    const recorded = new Set(rs.chains.flatMap((c) => c.rules.flatMap((x) => x.statements.flatMap((st) => (st.kind === 'record' ? [st.id] : [])))));
    assert.deepEqual([...recorded].sort(), rs.decisions.map((d) => d.id));
    const texts = rs.decisions.map((d) => d.provenance);
    assert.ok(texts.includes('gnp/p ingress 0 pass'));
    assert.ok(texts.includes('gnp/p ingress 1 deny'));
    assert.ok(!texts.some((t) => t.endsWith(' log')), 'Log rules decide nothing');
    assert.ok(texts.includes('gnp/p ingress end-of-tier deny tier=default'));
    assert.ok(texts.includes('ep/prod/web ingress no-profile deny'));
    for (const d of rs.decisions) assert.equal(d.id, decisionId(d.provenance));
  });

  it('ids depend on the provenance only: the same on every compile and for every endpoint sharing a rule', () => {
    const a = compileWith([p]);
    const b = compileWith([p], { eps: [web] });
    const common = a.decisions.filter((d) => !d.provenance.startsWith('ep/prod/db'));
    assert.deepEqual(b.decisions.filter((d) => common.some((x) => x.id === d.id)), common.filter((d) => b.decisions.some((x) => x.id === d.id)));
    assert.equal(decisionId('gnp/p ingress 0 pass'), decisionId('gnp/p ingress 0 pass'));
    assert.notEqual(decisionId('gnp/p ingress 0 pass'), decisionId('gnp/p ingress 0 allow'));
  });

  it('decisionGroup null records nothing; an invalid group is an error naming the field', () => {
    const c = cluster({ tiers: [tier('security', 10)], policies: [p], endpoints: [web] });
    const off = compileNode(c, [web], { interfaces: interfacesOf([web]), decisionGroup: null });
    assert.ok(off.ok);
    assert.equal(off.value.decisions.length, 0);
    assert.ok(off.value.chains.every((ch) => ch.rules.every((x) => x.statements.every((st) => st.kind !== 'record'))));
    const bad = compileNode(c, [web], { interfaces: interfacesOf([web]), decisionGroup: 70000 });
    assert.ok(!bad.ok);
    assert.equal(bad.diagnostics[0]?.code, 'dataplane/invalid-decision-group');
    assert.match(bad.diagnostics[0]?.message ?? '', /decisionGroup/);
  });

  it('parseDecisionPrefix reads back what the renderer writes, and nothing else', () => {
    const id = decisionId('gnp/p ingress 0 pass');
    assert.equal(parseDecisionPrefix(`${DECISION_PREFIX}${id}`), id);
    assert.equal(parseDecisionPrefix(`strata gnp/p ingress 0: `), undefined);
    assert.equal(parseDecisionPrefix(`${DECISION_PREFIX}${id}x`), undefined);
  });
});

describe('sets', () => {
  it('a selector set holds matching endpoints’ addresses and matching network sets’ CIDRs, normalised', () => {
    const extra = {
      tiers: [tier('security', 10)],
      networkSets: [
        networkSet('wide', { role: 'db' }, ['10.9.0.0/16', '10.9.1.0/24', '10.0.0.2', 'fd00::/16']),
        networkSet('prod/other', { role: 'x' }, ['172.16.0.0/12']),
      ],
    };
    const p = policy({ name: 'p', selector: 'app == "web"', ingress: rules(['allow', { source: { selector: sel('app == "db" || role == "db"') } }]) });
    const rs = compileWith([p], { extra });
    const s4 = rs.sets.find((s) => s.name === 's4/(app == "db" || role == "db")');
    const s6 = rs.sets.find((s) => s.name === 's6/(app == "db" || role == "db")');
    assert.deepEqual(s4?.elements, ['10.0.0.2/32', '10.9.0.0/16']);
    assert.deepEqual(s6?.elements, ['fd00::/16']);
  });

  it('named-port sets hold every endpoint port of that name, whatever its protocol', () => {
    const p = policy({ name: 'p', selector: 'app == "web"', ingress: rules(['allow', { destination: { ports: ports('http') } }]) });
    const rs = compileWith([p]);
    assert.deepEqual(rs.sets.find((s) => s.name === 'n4/http')?.elements, [
      { address: '10.0.0.1', protocol: TCP, port: 8080 },
      { address: '10.0.0.2', protocol: UDP, port: 8081 },
    ]);
  });

  it('sets are shared: two rules with the same selector use one set', () => {
    const p = policy({
      name: 'p',
      selector: 'app == "web"',
      ingress: rules(['allow', { source: { selector: sel('app == "db"') } }], ['deny', { protocol: TCP, source: { selector: sel('app=="db"') } }]),
    });
    const rs = compileWith([p]);
    assert.equal(rs.sets.filter((s) => s.name.includes('app == "db"')).length, 2); // one per family
  });
});

describe('endpoint chains', () => {
  const deny = policy({ name: 'security.deny-udp', tier: 'security', order: 1, selector: 'all()', ingress: rules(['deny', { protocol: UDP }]) });
  const staged = policy({ kind: 'StagedGlobalNetworkPolicy', name: 'security.staged', tier: 'security', order: 2, selector: 'all()', ingress: rules(['deny']) });
  const relaxed = policy({ name: 'relaxed.pass', tier: 'relaxed', order: 1, selector: 'app == "web"', ingress: rules(['pass', { protocol: TCP }]) });
  const stagedOnly = policy({ kind: 'StagedGlobalNetworkPolicy', name: 'only-staged', tier: 'default', order: 1, selector: 'all()', ingress: rules(['deny']) });

  it('start with conntrack, clear the marks, walk the tiers, then the profiles, then drop', () => {
    const rs = compileWith([deny, staged, relaxed, stagedOnly]);
    const c = chain(rs, endpointChainName('prod/web', 'ingress'));
    assert.deepEqual(
      c.rules.map((r) => r.comment),
      [
        'ep/prod/web ingress conntrack established',
        'ep/prod/web ingress conntrack invalid',
        'ep/prod/web ingress clear marks',
        'ep/prod/web ingress tier security',
        'ep/prod/web ingress policy gnp/security.deny-udp',
        'ep/prod/web ingress gnp/security.deny-udp accepted',
        'gnp/security.deny-udp ingress end-of-tier deny tier=security',
        'ep/prod/web ingress tier relaxed',
        'ep/prod/web ingress policy gnp/relaxed.pass',
        'ep/prod/web ingress gnp/relaxed.pass accepted',
        // relaxed has defaultAction Pass: no end-of-tier drop; default holds only a staged policy.
        'ep/prod/web ingress profile pro/kns.prod',
        'ep/prod/web ingress pro/kns.prod accepted',
        'ep/prod/web ingress no-profile deny',
      ],
    );
    assert.ok(!rs.chains.some((x) => x.name.includes('staged')), 'staged policies get no chain');
  });

  it('a policy chain is shared by every endpoint it selects', () => {
    const rs = compileWith([deny]);
    const jumps = rs.chains.flatMap((c) => c.rules).filter((r) => r.verdict?.kind === 'jump' && r.verdict.chain === policyChainName(deny, 'ingress'));
    assert.equal(jumps.length, 2);
    assert.equal(rs.chains.filter((c) => c.name === policyChainName(deny, 'ingress')).length, 1);
  });

  it('the forward chain dispatches by interface and accepts on the accept mark', () => {
    const rs = compileWith([]);
    const text = renderNft(rs);
    assert.match(text, /chain forward-hook \{\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tcounter meta mark set meta mark & 0xfff4ffff/);
    assert.match(text, /counter iifname vmap @from-wl comment/);
    assert.match(text, /counter oifname vmap @to-wl comment/);
    assert.match(text, /meta mark & 0x00010000 == 0x00010000 counter accept comment "forward: policy accepted the packet"/);
    assert.deepEqual(
      rs.maps.map((m) => [m.name, m.elements.map((e) => `${e.ifname}→${e.chain}`)]),
      [
        ['from-wl', [`${ifnameOf('prod/db')}→fw/prod/db`, `${ifnameOf('prod/web')}→fw/prod/web`].sort()],
        ['to-wl', [`${ifnameOf('prod/db')}→tw/prod/db`, `${ifnameOf('prod/web')}→tw/prod/web`].sort()],
      ],
    );
  });
});

describe('notes', () => {
  const domains = networkSet('saas', { kind: 'saas' }, ['198.51.100.1'], ['api.example.com']);
  const extra = { tiers: [tier('security', 10)], networkSets: [domains] };
  it('an egress Allow towards a set with domain names records that they are enforced by learned addresses', () => {
    const p = policy({ name: 'out', selector: 'all()', egress: rules(['allow', { destination: { selector: sel('kind == "saas"') } }]) });
    const rs = compileWith([p], { extra });
    assert.equal(rs.notes.length, 1);
    assert.match(rs.notes[0]!, /^gnp\/out egress 0 allow: domains \(api\.example\.com\) are enforced by the addresses the node's DNS proxy learns/);
    assert.match(renderNft(rs), /^# note: gnp\/out egress 0 allow/m);
  });
  it('ingress rules, Deny rules and notSelectors need no note (the engine ignores domains there)', () => {
    const p = policy({
      name: 'mixed',
      selector: 'all()',
      types: ['ingress', 'egress'],
      ingress: rules(['allow', { destination: { selector: sel('kind == "saas"') } }]),
      egress: rules(['deny', { destination: { selector: sel('kind == "saas"') } }], ['allow', { destination: { notSelector: sel('kind == "saas"') } }]),
    });
    assert.deepEqual(compileWith([p], { extra }).notes, []);
  });
  it('an HTTP match is noted as ignored, as the engine ignores it', () => {
    const p = policy({ name: 'h', selector: 'all()', ingress: rules(['allow', { protocol: TCP, http: true }]) });
    assert.match(compileWith([p]).notes.join('\n'), /gnp\/h ingress 0 allow: the HTTP match is ignored/);
  });
});

describe('domain names: DNS-learned sets', () => {
  const saas = networkSet('saas', { kind: 'saas' }, ['198.51.100.1'], ['API.example.com.', '*.cdn.test']);
  const extra = { networkSets: [saas] };
  const learnedSets = (rs: ReturnType<typeof compileWith>): string[] => rs.sets.filter((s) => 'domains' in s && s.domains !== undefined).map((s) => s.name);

  it('a rule with destination domains matches the addresses of one timeout set per family, filled by nobody but the proxy', () => {
    const p = policy({ name: 'dns', selector: 'all()', egress: rules(['allow', { protocol: TCP, destination: { domains: ['api.example.test', '*.Example.org'], ports: ports(443) } }]) });
    const rs = compileWith([p]);
    assert.deepEqual(learnedSets(rs), ['d4/*.example.org,api.example.test', 'd6/*.example.org,api.example.test']);
    const text = renderNft(rs);
    assert.match(text, /set d4-example.org_api.example.test-[0-9a-f]{8} \{\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\}/);
    assert.match(text, /meta l4proto tcp ip daddr @d4-example.org_api.example.test-[0-9a-f]{8} th dport 443 counter log prefix "sd1:[0-9a-f]{12}" group 1 meta mark set meta mark \| 0x00010000 return comment "gnp\/dns egress 0 allow"/);
    assert.deepEqual(renderDomainBindings(rs), [
      { set: nftName('d4/*.example.org,api.example.test'), family: 4, patterns: ['*.example.org', 'api.example.test'] },
      { set: nftName('d6/*.example.org,api.example.test'), family: 6, patterns: ['*.example.org', 'api.example.test'] },
    ]);
  });

  it('a selector matching a set with allowedEgressDomains gets a second alternative: the learned addresses instead of the set', () => {
    const p = policy({ name: 'out', selector: 'all()', egress: rules(['allow', { destination: { selector: sel('kind == "saas"') } }]) });
    const rs = compileWith([p], { extra });
    const chain = rs.chains.find((c) => c.name === 'po/gnp/out')!;
    const sets = chain.rules.map((r) => r.matches.flatMap((m) => (m.kind === 'addr-set' ? [m.set] : [])).join(' '));
    assert.deepEqual(sets, ['s4/kind == "saas"', 'd4/*.cdn.test,api.example.com', 's6/kind == "saas"', 'd6/*.cdn.test,api.example.com']);
  });

  it('the same selector in a Deny rule or an ingress rule gets no learned set (domains count for egress Allow only)', () => {
    const p = policy({
      name: 'deny',
      selector: 'all()',
      types: ['ingress', 'egress'],
      ingress: rules(['allow', { source: { selector: sel('kind == "saas"') } }]),
      egress: rules(['deny', { destination: { selector: sel('kind == "saas"') } }]),
    });
    assert.deepEqual(learnedSets(compileWith([p], { extra })), []);
  });

  it('no learned set where a name can never match: beside nets or notNets (a name has no address)', () => {
    const p = policy({
      name: 'nets',
      selector: 'all()',
      egress: rules(['allow', { destination: { selector: sel('kind == "saas"'), notNets: nets('10.0.0.0/8') } }], ['allow', { destination: { domains: ['api.example.test'], notNets: nets('10.0.0.0/8') } }]),
    });
    const rs = compileWith([p], { extra });
    assert.deepEqual(learnedSets(rs), []);
    // The selector rule for IPv4 only (an IPv4-only notNets drops IPv6, §9.18); the domains rule matches nothing.
    assert.equal(rs.chains.find((c) => c.name === 'po/gnp/nets')!.rules.length, 1);
  });

  it('an unchanged domain set is left alone by an update (its learned elements survive)', () => {
    const p = policy({ name: 'dns', selector: 'all()', egress: rules(['allow', { destination: { domains: ['api.example.test'] } }]) });
    const q = policy({ name: 'other', selector: 'all()', egress: rules(['allow', { protocol: TCP, destination: { ports: ports(80) } }]) });
    const before = compileWith([p]);
    const after = compileWith([p, q]);
    const d = diffRulesets(before, after);
    assert.equal(d.kind, 'update');
    const text = renderNftUpdate(d);
    assert.doesNotMatch(text, /d4-api|d6-api/);
  });
});

describe('problems are reported, all of them', () => {
  it('missing, invalid and duplicate interfaces, host endpoints', () => {
    const hep: Endpoint = { ...endpoint({ id: 'x/hep', addresses: ['10.0.0.9'] }), id: 'hep:node1', kind: 'host', namespace: undefined };
    const other = endpoint({ id: 'prod/other', addresses: ['10.0.0.3'] });
    const bad = endpoint({ id: 'prod/bad', addresses: ['10.0.0.4'] });
    const c = cluster({ endpoints: [web, db, other, bad, hep] });
    const r = compileNode(c, [web, db, other, bad, hep], {
      interfaces: new Map([
        ['prod/web', 'veth0'],
        ['prod/db', 'veth0'],
        ['prod/bad', 'bad"name'],
      ]),
    });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.diagnostics.map((d) => d.code).sort(), ['dataplane/duplicate-interface', 'dataplane/host-endpoint', 'dataplane/invalid-interface', 'dataplane/missing-interface']);
  });
});

describe('names and comments', () => {
  it('nft names are legal, capped, hyphenated and distinct', () => {
    const long = `po/np/${'n'.repeat(63)}/${'x'.repeat(253)}`;
    for (const logical of [long, 'fw/prod/web', 's4/(app == "web" && a in {"x", "y"})', 'forward-hook', 'fwd', 'pro/kns.prod']) {
      const n = nftName(logical);
      assert.match(n, /^[a-z][A-Za-z0-9_.-]*-[A-Za-z0-9_.-]*$/, n);
      assert.ok(n.length <= NAME_MAX, n);
    }
    assert.notEqual(nftName(`${long}a`), nftName(`${long}b`));
    assert.equal(nftName('forward-hook'), 'forward-hook');
    assert.notEqual(nftName('fwd'), 'fwd', 'never an nft keyword');
  });

  it('comments are escaped and at most 127 bytes', () => {
    const r: Rule = { matches: [], counter: false, statements: [], verdict: { kind: 'drop' }, comment: `a "quoted" \\ back\nslash ${'é'.repeat(200)}` };
    const text = renderRule(r, () => 'iifname');
    const m = /comment "([^"]*)"$/.exec(text);
    assert.ok(m !== null, text);
    assert.ok(Buffer.byteLength(m[1]!) <= COMMENT_MAX);
    assert.match(m[1]!, /^a 'quoted' _ back_slash _+~[0-9a-f]{8}$/);
  });

  it('provenance round-trips through comments', () => {
    const ps: Provenance[] = [
      { kind: 'rule', policy: 'np/prod/web', direction: 'ingress', index: 3, action: 'deny' },
      { kind: 'rule', policy: 'pro/kns.prod', direction: 'egress', index: 0, action: 'allow' },
      { kind: 'end-of-tier', policy: 'gnp/security.x', direction: 'egress', tier: 'security' },
      { kind: 'no-profile', endpoint: 'prod/web', direction: 'ingress' },
      { kind: 'conntrack', endpoint: 'prod/web', direction: 'egress', state: 'invalid' },
      { kind: 'structure', text: 'forward: clear accept and pass marks' },
    ];
    for (const p of ps) assert.deepEqual(parseProvenance(formatProvenance(p)), p);
  });

  it('single matches render as nft expects', () => {
    const ms: [Match, string][] = [
      [{ kind: 'mark', bits: 0x20000, isSet: false }, 'meta mark & 0x00020000 == 0x00000000'],
      [{ kind: 'ct-state', states: ['established', 'related'] }, 'ct state established,related'],
      [{ kind: 'addr-cidrs', side: 'daddr', family: 6, cidrs: ['fd00::1/128', 'fc00::/7'], negate: true }, 'ip6 daddr != { fc00::/7, fd00::1 }'],
      [{ kind: 'l4proto', protocols: [17, 6], negate: true }, 'meta l4proto != { tcp, udp }'],
      [{ kind: 'iifname', names: ['b', 'a'] }, 'iifname { "a", "b" }'],
    ];
    for (const [m, want] of ms) assert.equal(renderMatch(m), want);
  });
});

describe('profiles', () => {
  it('endpoints may share a profile by name only when its rules agree', () => {
    const a = endpoint({ id: 'prod/a', addresses: ['10.0.0.5'], profiles: [{ name: 'custom', labels: new Map(), ingress: rules(['allow']), egress: [] }] });
    const b = endpoint({ id: 'prod/b', addresses: ['10.0.0.6'], profiles: [{ name: 'custom', labels: new Map(), ingress: rules(['deny']), egress: [] }] });
    const same = endpoint({ id: 'prod/c', addresses: ['10.0.0.7'], profiles: [{ name: 'custom', labels: new Map(), ingress: rules(['allow']), egress: [] }] });
    const ok = compileNode(cluster({ endpoints: [a, same] }), [a, same], { interfaces: interfacesOf([a, same]) });
    assert.ok(ok.ok);
    const bad = compileNode(cluster({ endpoints: [a, b] }), [a, b], { interfaces: interfacesOf([a, b]) });
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.deepEqual(bad.diagnostics.map((d) => d.code), ['dataplane/profile-conflict']);
  });
});
