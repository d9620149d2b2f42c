// What users know → what the engine evaluates. `--from`/`--to` may name an endpoint (`NS/NAME`,
// `hep:NAME`), a Service (`cart.shop`, `cart.shop.svc`, `cart.shop.svc.cluster.local`, `shop/cart`,
// its ClusterIP), a label selector (`app=web` as kubectl writes it, or Calico syntax), a namespace
// (`shop/*`), an IP address or a CIDR. Each side becomes one or more concrete peers the engine's
// `makeFlow` understands (an endpoint id, an address, a domain), with the port translated the way
// kube-proxy translates it, and notes that say what was resolved to what.
//
// Services follow kube-proxy: a connection to a Service port (on its ClusterIP or DNS name) is
// DNATed to one ready backend — a pod in the Service's namespace whose labels include the
// selector — on the port's targetPort: a number, or a container port *name* looked up per backend
// with the port's protocol (Kubernetes' pkg/api/v1/pod FindPort; a backend without that named port
// is not an endpoint of that Service port, as the EndpointSlice controller skips it). Policy sees
// the translated packet, so the flow explained is client → backend:targetPort, one per backend.
// Headless Services (`clusterIP: None`) have no virtual IP and no translation: clients connect to
// the pods on the port they dial. ExternalName Services are DNS aliases with no backends.
import type { Diagnostic, Result } from '../diagnostics/index.ts';
import { didYouMean, fail, ok } from '../diagnostics/index.ts';
import type { Cluster, Endpoint, FlowRequest, ServiceEntry } from '../engine/index.ts';
import { parseFlowProtocol, protocolName } from '../engine/index.ts';
import { serviceSelects } from '../engine/algebra.ts';
import { cidrContains, formatCidr, formatIp, ipEquals, parseCidrLenient, parseIp } from '../net/index.ts';
import type { Cidr } from '../net/index.ts';
import { parseSelector } from '../selector/index.ts';
import type { Selector } from '../selector/index.ts';

/** A Service translation on the destination side, as kube-proxy does it. */
export type { ServiceHop } from '../engine/wire.ts';
import type { ServiceHop } from '../engine/wire.ts';

/** One concrete flow to evaluate, with what the user's words resolved to. */
export interface ResolvedFlow {
  readonly request: FlowRequest;
  /** Present when the destination went through a Service. */
  readonly service?: ServiceHop;
  /** Every endpoint this flow stands for on each side (a class of a set); absent for a single peer. */
  readonly fromMembers?: readonly string[];
  readonly toMembers?: readonly string[];
  /** Sentences for people: how the peers were resolved. */
  readonly notes: readonly string[];
}

export interface ResolveOptions {
  /** `-n`: the namespace label selectors look in (default: every namespace), and of bare NAMEs. */
  readonly namespace?: string | undefined;
}

/** What one side named. */
type Side =
  | { readonly kind: 'plain'; readonly text: string; readonly notes: readonly string[] }
  | { readonly kind: 'service'; readonly service: ServiceEntry; readonly how: string; readonly notes: readonly string[] }
  | { readonly kind: 'set'; readonly what: string; readonly members: readonly Endpoint[]; readonly notes: readonly string[] };

// `name.ns`, `name.ns.svc`, `name.ns.svc.cluster.local` (with an optional trailing dot): the names
// cluster DNS serves for a Service (the first two through the pod's search path).
const SERVICE_DNS = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.svc(\.cluster\.local)?)?\.?$/;

function serviceId(s: ServiceEntry): string {
  return `${s.namespace}/${s.name}`;
}

/** Text that is a label selector rather than a name or an address. */
export function looksLikeSelector(text: string): boolean {
  return /[=!()&|{}'"]/.test(text) || /\s(in|notin|not in)\s/.test(text) || text === 'all()';
}

/**
 * kubectl's `-l` syntax (`app=web,tier!=db,env in (a,b),has-key,!no-key`) as a Calico selector;
 * undefined when the text is not in that syntax (then it is read as Calico syntax).
 */
export function kubectlSelectorToCalico(text: string): string | undefined {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  const key = '([A-Za-z0-9][-A-Za-z0-9_./]*)';
  const value = '([-A-Za-z0-9_.]*)';
  const out: string[] = [];
  for (const raw of parts) {
    const p = raw.trim();
    let m: RegExpMatchArray | null;
    if ((m = p.match(new RegExp(`^${key}\\s*(==|=|!=)\\s*${value}$`))) !== null) {
      out.push(`${m[1]!} ${m[2] === '!=' ? '!=' : '=='} ${JSON.stringify(m[3]!)}`);
    } else if ((m = p.match(new RegExp(`^${key}\\s+(in|notin)\\s*\\(([^)]*)\\)$`))) !== null) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
      out.push(`${m[1]!} ${m[2] === 'in' ? 'in' : 'not in'} {${values.map((v) => JSON.stringify(v)).join(', ')}}`);
    } else if ((m = p.match(new RegExp(`^(!?)${key}$`))) !== null) {
      out.push(m[1] === '!' ? `!has(${m[2]!})` : `has(${m[2]!})`);
    } else {
      return undefined;
    }
  }
  return out.join(' && ');
}

function parseUserSelector(text: string): Result<{ selector: Selector; calico: string }> {
  const converted = /[&|"']|has\(|all\(\)/.test(text) ? undefined : kubectlSelectorToCalico(text);
  const calico = converted ?? text;
  const parsed = parseSelector(calico);
  if (!parsed.ok) {
    return fail([
      {
        code: 'flow/invalid-selector',
        severity: 'error',
        message: `"${text}" is neither an endpoint, a Service, an address nor a valid label selector: ${parsed.diagnostics[0]?.message ?? 'syntax error'}`,
        help: 'selectors are written as kubectl does (app=web,tier!=db) or in Calico syntax (app == "web" && has(tier))',
      },
    ]);
  }
  return ok({ selector: parsed.value, calico });
}

function serviceByDns(cluster: Cluster, text: string): ServiceEntry | undefined | 'not-found' {
  const m = text.toLowerCase().match(SERVICE_DNS);
  if (m === null) return undefined;
  const svc = cluster.services.find((s) => s.name === m[1] && s.namespace === m[3]);
  if (svc !== undefined) return svc;
  // `x.y.svc…` is unambiguously a Service name; `x.y` is one when `y` is a namespace of the input
  // (`cart.shop` with namespace shop), otherwise it may be an external domain (`example.com`).
  return m[5] !== undefined || cluster.namespace(m[3]!) !== undefined ? 'not-found' : undefined;
}

function resolveSide(cluster: Cluster, given: string, role: 'from' | 'to', opts: ResolveOptions): Result<Side> {
  // With -n, a bare NAME means NAMESPACE/NAME, as kubectl reads it.
  const qualified = opts.namespace === undefined || /[/=!()&|{}'"\s:*]/.test(given) || parseIp(given).ok ? undefined : `${opts.namespace}/${given}`;
  const text = qualified !== undefined && (cluster.endpoint(qualified) !== undefined || cluster.service(opts.namespace!, given) !== undefined) ? qualified : given;
  // An endpoint id wins (pods and endpoint groups share names with their Services all the time).
  const ep = cluster.endpoint(text);
  if (ep !== undefined) {
    const svc = role === 'to' && text.includes('/') ? cluster.services.find((s) => serviceId(s) === text) : undefined;
    const notes = svc === undefined ? [] : [`${text} is the ${ep.resourceType} ${text} (a Service of the same name exists: name it ${svc.name}.${svc.namespace} to go through it)`];
    return ok({ kind: 'plain', text, notes });
  }
  const ip = parseIp(text);
  if (ip.ok) {
    if (cluster.endpointByAddress(ip.value) === undefined) {
      const svc = cluster.services.find((s) => (s.clusterIPs ?? []).some((a) => ipEquals(a, ip.value)));
      if (svc !== undefined) return ok({ kind: 'service', service: svc, how: `ClusterIP ${formatIp(ip.value)} of Service ${serviceId(svc)}`, notes: [] });
    }
    return ok({ kind: 'plain', text, notes: [] });
  }
  if (text.includes('/') && !text.startsWith('hep:')) {
    const slash = text.indexOf('/');
    const ns = text.slice(0, slash);
    const name = text.slice(slash + 1);
    if (name === '*') {
      const members = cluster.endpoints.filter((e) => e.namespace === ns);
      if (members.length === 0) return fail([noMatch(role, text, `namespace "${ns}" has no endpoints`, didYouMean(ns, cluster.namespaces.map((n) => n.name)))]);
      return ok({ kind: 'set', what: `namespace ${ns}`, members, notes: [] });
    }
    const svc = cluster.service(ns, name);
    if (svc !== undefined) return ok({ kind: 'service', service: svc, how: `Service ${text}`, notes: [] });
    const cidr = parseCidrLenient(text);
    if (cidr.ok && /^[0-9a-fA-F:.]+\/\d+$/.test(text)) return ok(cidrSide(cluster, cidr.value));
  }
  const byDns = text.includes('/') ? undefined : serviceByDns(cluster, text);
  if (byDns === 'not-found') {
    const names = cluster.services.map((s) => `${s.name}.${s.namespace}`);
    return fail([noMatch(role, text, 'no Service of that name and namespace is in the input', didYouMean(text.replace(/\.svc(\.cluster\.local)?\.?$/, ''), names))]);
  }
  if (byDns !== undefined) return ok({ kind: 'service', service: byDns, how: `Service ${serviceId(byDns)} (DNS name ${text})`, notes: [] });
  if (looksLikeSelector(text)) {
    const sel = parseUserSelector(text);
    if (!sel.ok) return sel;
    const scope = opts.namespace;
    const members = cluster.endpoints.filter((e) => (scope === undefined || e.namespace === scope) && sel.value.selector.matches(e.labels));
    const where = scope === undefined ? 'in every namespace' : `in namespace ${scope}`;
    if (members.length === 0) return fail([noMatch(role, text, `no endpoint ${where} has labels matching ${sel.value.calico}`, scope === undefined ? undefined : 'without -n the selector looks in every namespace')]);
    return ok({ kind: 'set', what: `selector ${text} ${where}`, members, notes: [] });
  }
  return ok({ kind: 'plain', text, notes: [] });
}

function noMatch(role: 'from' | 'to', text: string, why: string, help: string | undefined): Diagnostic {
  return { code: 'flow/unknown-endpoint', severity: 'error', message: `--${role} "${text}": ${why}`, ...(help === undefined ? {} : { help }) };
}

function cidrSide(cluster: Cluster, cidr: Cidr): Side {
  const members = cluster.endpoints.filter((e) => e.addresses.some((a) => cidrContains(cidr, a)));
  if (members.length > 0) return { kind: 'set', what: `CIDR ${formatCidr(cidr)}`, members, notes: [] };
  // No endpoint lives there: any address of it stands for the block (externals differ only by the
  // CIDRs and network sets that contain them; the first address is the one shown).
  const first = formatIp(cidr.family === 4 ? { family: 4, value: cidr.base } : { family: 6, value: cidr.base });
  return { kind: 'plain', text: first, notes: [`CIDR ${formatCidr(cidr)} holds no endpoint: explained for its first address ${first}`] };
}

/**
 * Endpoints that every policy treats alike: same effective labels (hence the same policies and
 * rule selectors), same ports, and — when any rule or network set tests CIDRs — same addresses.
 */
export function endpointClasses(cluster: Cluster, members: readonly Endpoint[]): Endpoint[][] {
  const cidrsMatter = cluster.networkSets.length > 0 || cluster.policies.some((p) => [...p.ingress, ...p.egress].some((r) => [r.source, r.destination].some((s) => s.nets !== undefined || s.notNets !== undefined)));
  const classes = new Map<string, Endpoint[]>();
  for (const e of [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const key = [e.kind, e.labelKey, JSON.stringify(e.ports), cidrsMatter ? e.addresses.map(formatIp).join(',') : e.addresses.length > 0].join('\u0000');
    let list = classes.get(key);
    if (list === undefined) classes.set(key, (list = []));
    list.push(e);
  }
  return [...classes.values()];
}

/** The port on `backend` that Service port `sp` translates to, or undefined when it has none. */
export function backendPort(sp: ServiceEntry['ports'][number], backend: Endpoint): number | undefined {
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  return backend.ports.find((p) => p.name === sp.targetPort && p.protocol === sp.protocol)?.port;
}

interface Hop {
  readonly backend: Endpoint;
  readonly port: number | undefined;
  readonly hop?: ServiceHop;
}

function describePorts(svc: ServiceEntry): string {
  return svc.ports.length === 0 ? 'none' : svc.ports.map((p) => `${p.port}/${protocolName(p.protocol)}${p.name === undefined ? '' : ` (${p.name})`}`).join(', ');
}

/** The backends a connection to `svc` on (protocol, port) can reach, with their ports. */
function serviceHops(cluster: Cluster, svc: ServiceEntry, protocol: number, port: number | undefined, how: string): Result<{ hops: Hop[]; notes: string[] }> {
  const id = serviceId(svc);
  const err = (message: string, help?: string): Result<never> => fail([{ code: 'flow/service-unresolved', severity: 'error', message, ...(help === undefined ? {} : { help }) }]);
  if (svc.type === 'ExternalName') return err(`${how}: an ExternalName Service is a DNS alias; name the external host instead`);
  if (svc.selector === undefined) return err(`${how} has no selector: its endpoints are managed outside Kubernetes and are not in the input`, 'name the backend pod or its address instead');
  const backends = cluster.endpoints.filter((e) => serviceSelects(svc, e));
  if (backends.length === 0) return err(`${how} selects no pod (selector ${[...svc.selector].map(([k, v]) => `${k}=${v}`).join(',')}): kube-proxy rejects connections to it`);
  if (svc.headless === true) {
    return ok({ hops: backends.map((b) => ({ backend: b, port })), notes: [`${how} is headless (clusterIP: None): clients reach its pods directly on port ${port ?? '(none)'}, without translation`] });
  }
  const candidates = svc.ports.filter((p) => p.protocol === protocol);
  const sp = port === undefined ? (candidates.length === 1 ? candidates[0] : undefined) : candidates.find((p) => p.port === port);
  if (sp === undefined) {
    return err(
      port === undefined ? `${how}: say which port (--port N); the Service has ${describePorts(svc)}` : `${how} has no port ${port}/${protocolName(protocol)}: its ports are ${describePorts(svc)}`,
      port === undefined ? undefined : svc.ports.some((p) => p.port === port) ? `port ${port} is ${protocolName(svc.ports.find((p) => p.port === port)!.protocol)}: use --protocol` : undefined,
    );
  }
  const hops: Hop[] = [];
  const notes: string[] = [];
  for (const b of backends) {
    const target = backendPort(sp, b);
    if (target === undefined) {
      notes.push(`${b.id} has no container port named "${String(sp.targetPort)}": it is not an endpoint of ${id} port ${sp.port}`);
      continue;
    }
    hops.push({
      backend: b,
      port: target,
      hop: { service: id, port: sp.port, protocol: protocolName(sp.protocol), backend: b.id, targetPort: target, ...(typeof sp.targetPort === 'string' ? { targetPortName: sp.targetPort } : {}) },
    });
  }
  if (hops.length === 0) return err(`${how} port ${sp.port}: no selected pod has the container port "${String(sp.targetPort)}"`);
  return ok({ hops, notes });
}

/** The trace line for a Service translation (`service shop/cart port 5000 → backend shop/cart-1 port 8080`). */
export function describeHop(h: ServiceHop): string {
  return `service ${h.service} port ${h.port} → backend ${h.backend} port ${h.targetPort}${h.targetPortName === undefined ? '' : ` (targetPort "${h.targetPortName}")`}`;
}

/**
 * Every concrete flow `req` stands for: one for two single peers; one per backend for a Service;
 * one per class of endpoints for a set (selector, namespace, CIDR) on either side.
 */
export function resolveFlowRequest(cluster: Cluster, req: FlowRequest, opts: ResolveOptions = {}): Result<ResolvedFlow[]> {
  const fromR = resolveSide(cluster, req.from, 'from', opts);
  const toR = resolveSide(cluster, req.to, 'to', opts);
  if (!fromR.ok || !toR.ok) return fail([...(fromR.ok ? [] : fromR.diagnostics), ...(toR.ok ? [] : toR.diagnostics)]);
  const from = fromR;
  let to: { readonly value: Side } = toR;
  const protocol = parseFlowProtocol(req.protocol);

  // `NS/NAME` that is both an endpoint and a Service, dialled on a Service port the endpoint does not
  // listen on: the user means the Service (the usual "frontend → cart:5000, pod listens on 8080").
  if (to.value.kind === 'plain' && protocol !== undefined && req.port !== undefined) {
    const ep = cluster.endpoint(req.to);
    const svc = ep === undefined ? undefined : cluster.services.find((s) => serviceId(s) === req.to);
    if (ep !== undefined && svc !== undefined && ep.ports.length > 0 && !ep.ports.some((p) => p.port === req.port && p.protocol === protocol) && svc.ports.some((p) => p.port === req.port && p.protocol === protocol)) {
      to = { value: { kind: 'service', service: svc, how: `Service ${req.to}`, notes: [`${req.to}: the ${ep.resourceType} does not listen on ${req.port}, the Service of the same name does: resolved as the Service`] } };
    }
  }

  // Sources: a Service as a source stands for its backends (a Service sends nothing itself).
  const sources: { text: string; members?: string[] }[] = [];
  const notes: string[] = [...from.value.notes, ...to.value.notes];
  const fromSide = from.value;
  if (fromSide.kind === 'plain') sources.push({ text: fromSide.text });
  else {
    const members = fromSide.kind === 'set' ? fromSide.members : cluster.endpoints.filter((e) => serviceSelects(fromSide.service, e));
    if (members.length === 0) return fail([noMatch('from', req.from, `${fromSide.kind === 'service' ? fromSide.how : fromSide.what} has no endpoints`, undefined)]);
    if (fromSide.kind === 'service') notes.push(`--from ${req.from}: the ${fromSide.how}'s backends as sources`);
    for (const c of endpointClasses(cluster, members)) sources.push({ text: c[0]!.id, members: c.map((e) => e.id) });
  }

  const toSide = to.value;
  const dests: { text: string; port: number | undefined; hop?: ServiceHop; members?: string[] }[] = [];
  if (toSide.kind === 'plain') dests.push({ text: toSide.text, port: req.port });
  else if (toSide.kind === 'set') {
    for (const c of endpointClasses(cluster, toSide.members)) dests.push({ text: c[0]!.id, port: req.port, members: c.map((e) => e.id) });
  } else {
    if (protocol === undefined) return fail([{ code: 'flow/invalid-protocol', severity: 'error', message: `protocol "${String(req.protocol)}" is not TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or a number 1–255` }]);
    const hops = serviceHops(cluster, toSide.service, protocol, req.port, toSide.how);
    if (!hops.ok) return hops;
    notes.push(...hops.value.notes);
    for (const h of hops.value.hops) dests.push({ text: h.backend.id, port: h.port, ...(h.hop === undefined ? {} : { hop: h.hop }) });
  }

  const out: ResolvedFlow[] = [];
  for (const s of sources) {
    for (const d of dests) {
      out.push({
        request: { ...req, from: s.text, to: d.text, port: d.port },
        ...(d.hop === undefined ? {} : { service: d.hop }),
        ...(s.members === undefined ? {} : { fromMembers: s.members }),
        ...(d.members === undefined ? {} : { toMembers: d.members }),
        notes,
      });
    }
  }
  return ok(out);
}

/** Whether the user's words name more than one thing on either side (a Service counts as one). */
export function isSingle(flows: readonly ResolvedFlow[]): boolean {
  return flows.length === 1 && flows[0]!.fromMembers === undefined && flows[0]!.toMembers === undefined;
}

