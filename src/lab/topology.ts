// The lab's data model: what the user asks for (`LabSpec`), and the fully named and addressed
// plan derived from it (`LabPlan`), as a pure, deterministic function. Everything that later
// touches the kernel (island.ts) or talks to agents (probe.ts) works from the plan only, so a
// compiler can compute the interface it must dispatch on from a workload id alone.
//
//   LabSpec ──planLab──► LabPlan (namespaces, interface names, infra addresses; validated)
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import { fail, ok } from '../diagnostics/index.ts';
import type { Diagnostic, Result } from '../diagnostics/index.ts';

// ---------------------------------------------------------------------------------------------
// Spec (input)

export type LabProtocol = 'TCP' | 'UDP' | 'SCTP';

/** A port a workload (or the outside host) listens on. */
export interface LabPort {
  /** 1–65535. */
  readonly port: number;
  readonly protocol: LabProtocol;
}

export interface LabWorkload {
  /** `NAMESPACE/NAME`, as the engine names endpoints. Unique in the lab. */
  readonly id: string;
  /** Name of the node it runs on; must be listed in `LabSpec.nodes`. */
  readonly node: string;
  /** IPv4 and/or IPv6 addresses (assigned as /32 and /128). At least one; unique in the lab. */
  readonly addresses: readonly string[];
  /** Ports with real listeners. May be empty (the workload then only answers ICMP echo). */
  readonly ports: readonly LabPort[];
}

/** An address outside the cluster, answered by the island's "outside" host. */
export interface LabExternal {
  readonly address: string;
  /** Listeners on this address. */
  readonly ports: readonly LabPort[];
}

/**
 * One answer of the outside host's DNS server (`lab up --dns NAME=ANSWER`): an address (an A or
 * AAAA record; the outside host answers for it like an external) or another name (a CNAME).
 */
export interface LabDnsRecord {
  /** A domain name (no wildcards); compared case-insensitively. */
  readonly name: string;
  /** An IPv4/IPv6 address, or the target name of a CNAME. */
  readonly answer: string;
}

export interface LabSpec {
  /** 1–12 characters `[a-z0-9]`; names every kernel object of the lab (`stl-<labId>-…`). */
  readonly labId: string;
  /** Node names, each becoming a network namespace; unique. */
  readonly nodes: readonly string[];
  readonly workloads: readonly LabWorkload[];
  /**
   * Addresses the outside host answers for. A bare string listens on every port any workload
   * declares (the ports a policy matrix usually asks about); an object lists its own ports.
   */
  readonly externals: readonly (string | LabExternal)[];
  /**
   * The outside host's DNS records. When present (even empty), every node runs a DNS proxy on the
   * workloads' gateway 169.254.1.1:53 with the outside host's server as its trusted upstream.
   */
  readonly dns?: readonly LabDnsRecord[];
}

// ---------------------------------------------------------------------------------------------
// Plan (output)

export interface PlannedWorkload {
  readonly id: string;
  readonly node: string;
  /** Network namespace of the workload; its interface is `eth0`. */
  readonly namespace: string;
  /** The node-side veth interface: what the node's dataplane dispatches on. */
  readonly nodeInterface: string;
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
  readonly ports: readonly LabPort[];
}

export interface PlannedNode {
  readonly name: string;
  readonly index: number;
  readonly namespace: string;
  /** Interface in the fabric namespace that leads to this node. */
  readonly fabricInterface: string;
  /** IPv4 link-local address of the node's uplink (`NODE_UPLINK`). */
  readonly uplinkIpv4: string;
}

export interface PlannedExternal {
  readonly address: string;
  readonly family: 4 | 6;
  readonly ports: readonly LabPort[];
}

/** A DNS record as the outside host's server holds it. */
export interface PlannedDnsRecord {
  /** Lower case, no trailing dot. */
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'CNAME';
  readonly data: string;
}

export interface LabPlan {
  readonly labId: string;
  readonly fabricNamespace: string;
  readonly outsideNamespace: string;
  readonly nodes: readonly PlannedNode[];
  readonly workloads: readonly PlannedWorkload[];
  readonly externals: readonly PlannedExternal[];
  /** The outside host's DNS records; absent: the lab runs no DNS (labs built before it too). */
  readonly dns?: readonly PlannedDnsRecord[];
}

// ---------------------------------------------------------------------------------------------
// Naming. Every kernel object of a lab carries a prefix Strata owns, so nothing else is ever
// touched; names are prefix + readable part + short hash, capped (interfaces: IFNAMSIZ-1 = 15).

/** Prefix of every namespace Strata's lab creates. */
export const NAMESPACE_PREFIX = 'stl-';
/** Prefix of node-side workload interfaces (what dispatch matches, like Calico's `cali`). */
export const WORKLOAD_IFACE_PREFIX = 'stw';
/** Prefix of fabric-side interfaces towards nodes. */
export const NODE_IFACE_PREFIX = 'stn';
/** The node's link to the fabric, inside each node namespace. */
export const NODE_UPLINK = 'stl-uplink';
/** Fabric ↔ outside link names (fabric side, outside side). */
export const FABRIC_TO_OUTSIDE = 'stl-outside';
export const OUTSIDE_TO_FABRIC = 'stl-fabric';
/** The workload's own interface. */
export const WORKLOAD_IFACE = 'eth0';

export const IFNAMSIZ_MAX = 15;
const NAMESPACE_MAX = 64;
const LAB_ID_RE = /^[a-z0-9]{1,12}$/;

/** First `n` hex digits of sha256(s): stable across runs and machines. */
export function shortHash(s: string, n = 8): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n);
}

/** Lower-case alphanumerics and single dashes: the readable part of a kernel name. */
export function readablePart(s: string, max: number): string {
  const cleaned = s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return cleaned.slice(0, max).replace(/-+$/g, '');
}

function joinCapped(prefix: string, readable: string, hash: string, max: number): string {
  const room = max - prefix.length - hash.length - 1;
  const r = readablePart(readable, Math.max(0, room));
  return r === '' ? `${prefix}${hash}` : `${prefix}${r}-${hash}`;
}

/** The node-side interface of a workload: `stw` + up to 4 readable chars + 8 hex, ≤ 15 chars. */
export function nodeInterfaceOf(workloadId: string): string {
  const name = workloadId.slice(workloadId.indexOf('/') + 1);
  const readable = readablePart(name, 4).replace(/-/g, '');
  return `${WORKLOAD_IFACE_PREFIX}${readable}${shortHash(`workload:${workloadId}`)}`;
}

/** The fabric-side interface towards a node. */
export function fabricInterfaceOf(node: string): string {
  const readable = readablePart(node, 4).replace(/-/g, '');
  return `${NODE_IFACE_PREFIX}${readable}${shortHash(`node:${node}`)}`;
}

export function labNamespacePrefix(labId: string): string {
  return `${NAMESPACE_PREFIX}${labId}-`;
}

export function fabricNamespaceOf(labId: string): string {
  return `${labNamespacePrefix(labId)}fabric`;
}

export function outsideNamespaceOf(labId: string): string {
  return `${labNamespacePrefix(labId)}outside`;
}

export function nodeNamespaceOf(labId: string, node: string): string {
  return joinCapped(`${labNamespacePrefix(labId)}n-`, node, shortHash(`node:${node}`, 6), NAMESPACE_MAX);
}

export function workloadNamespaceOf(labId: string, workloadId: string): string {
  return joinCapped(
    `${labNamespacePrefix(labId)}w-`,
    workloadId,
    shortHash(`workload:${workloadId}`, 6),
    NAMESPACE_MAX,
  );
}

/** True when `name` is a namespace of lab `labId` (the only ones this code may touch). */
export function isLabNamespace(labId: string, name: string): boolean {
  return (
    LAB_ID_RE.test(labId) &&
    name.startsWith(labNamespacePrefix(labId)) &&
    name.length <= NAMESPACE_MAX &&
    /^[a-z0-9-]+$/.test(name)
  );
}

export function isValidLabId(labId: string): boolean {
  return LAB_ID_RE.test(labId);
}

// ---------------------------------------------------------------------------------------------
// Addressing. Infrastructure links use link-local addresses only, so they can never collide
// with workload or external addresses (which are validated to be outside those ranges).
//
//   workload eth0 ──(default via 169.254.1.1 / fe80::1)──► node stwXXXX (proxy-ARP, fe80::1)
//   node stl-uplink 169.254.16.k / fe80::2 ──► fabric stnXXXX 169.254.0.1 / fe80::1
//   outside stl-fabric 169.254.0.2 / fe80::2 ──► fabric stl-outside 169.254.0.1 / fe80::1

/** The workloads' IPv4 default gateway, answered by the node's proxy-ARP (as in Calico). */
export const WORKLOAD_GATEWAY_V4 = '169.254.1.1';
/** Link-local address of the "upstream" end of every link (node side, fabric side). */
export const UPSTREAM_LL_V6 = 'fe80::1';
/** Link-local address of the "downstream" end of every link (workload, node uplink, outside). */
export const DOWNSTREAM_LL_V6 = 'fe80::2';
export const FABRIC_V4 = '169.254.0.1';
export const OUTSIDE_V4 = '169.254.0.2';
/** The workloads' resolver: each node's DNS proxy, on the gateway address (a local address of the node's `lo`). */
export const DNS_RESOLVER_V4 = WORKLOAD_GATEWAY_V4;
/** The outside host's DNS server: the nodes' trusted upstream. */
export const DNS_UPSTREAM_V4 = OUTSIDE_V4;
export const DNS_PORT = 53;

const DNS_LABEL_RE = /^[a-z0-9_]([-a-z0-9_]{0,61}[a-z0-9_])?$/;

/** Why `name` is not a domain name a DNS record can have (no wildcards), or undefined. */
export function dnsNameProblem(name: string): string | undefined {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n === '' || n.length > 253) return 'must be 1–253 characters';
  if (n.split('.').some((l) => !DNS_LABEL_RE.test(l))) return 'must be dot-separated labels of letters, digits, "-" and "_" (no wildcards)';
  if (!n.includes('.')) return 'must have at least two labels (e.g. "api.example.test")';
  return undefined;
}

/** The uplink address of the node with index `i` (0-based): 169.254.16.1, 169.254.16.2, … */
export function nodeUplinkIpv4(i: number): string {
  return `169.254.${16 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

export function familyOf(address: string): 4 | 6 | undefined {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return undefined;
}

/** Canonical text of an address (RFC 5952 for IPv6), or undefined when it is not one. */
export function canonicalAddress(address: string): string | undefined {
  if (isIPv4(address)) return address;
  if (isIPv6(address) && !address.includes('%')) {
    return new SocketAddress({ address, family: 'ipv6' }).address;
  }
  return undefined;
}

function ipv4Octets(a: string): number[] {
  return a.split('.').map((x) => Number(x));
}

function ipv6FirstGroup(a: string): number {
  const head = a.startsWith('::') ? '0' : (a.split(':')[0] ?? '0');
  return Number.parseInt(head === '' ? '0' : head, 16);
}

/** Why an address cannot be a workload or external address of the island, or undefined. */
export function reservedReason(address: string): string | undefined {
  const fam = familyOf(address);
  if (fam === 4) {
    const [a = 0, b = 0] = ipv4Octets(address);
    if (a === 0) return 'is in 0.0.0.0/8';
    if (a === 127) return 'is a loopback address';
    if (a === 169 && b === 254) return 'is link-local (169.254.0.0/16 is used for the island\'s own links)';
    if (a >= 224) return 'is multicast or reserved';
    return undefined;
  }
  if (fam === 6) {
    const canon = canonicalAddress(address) ?? address;
    if (canon === '::' || canon === '::1') return 'is unspecified or loopback';
    const g = ipv6FirstGroup(canon);
    if ((g & 0xffc0) === 0xfe80) return 'is link-local (fe80::/10 is used for the island\'s own links)';
    if ((g & 0xff00) === 0xff00) return 'is multicast';
    if (canon.startsWith('::ffff:')) return 'is an IPv4-mapped address';
    return undefined;
  }
  return 'is not an IP address';
}

// ---------------------------------------------------------------------------------------------
// Validation and planning

const WORKLOAD_ID_RE = /^[^/\s]+\/[^/\s]+$/;

function err(code: string, message: string, path: string, help?: string): Diagnostic {
  return help === undefined
    ? { code, severity: 'error', message, path }
    : { code, severity: 'error', message, path, help };
}

function checkPorts(ports: readonly LabPort[], path: string, out: Diagnostic[]): LabPort[] {
  const seen = new Set<string>();
  const result: LabPort[] = [];
  ports.forEach((p, i) => {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      out.push(err('lab/invalid-port', `port ${String(p.port)} is not an integer in 1–65535`, `${path}[${i}].port`));
      return;
    }
    if (p.protocol !== 'TCP' && p.protocol !== 'UDP' && p.protocol !== 'SCTP') {
      out.push(err('lab/invalid-protocol', `protocol ${String(p.protocol)} is not TCP, UDP or SCTP`, `${path}[${i}].protocol`));
      return;
    }
    const key = `${p.port}/${p.protocol}`;
    if (seen.has(key)) return; // a duplicate listener is harmless: keep one
    seen.add(key);
    result.push({ port: p.port, protocol: p.protocol });
  });
  return result.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

/** Validates a spec and derives every name and address; collects every problem. */
export function planLab(spec: LabSpec): Result<LabPlan> {
  const ds: Diagnostic[] = [];
  if (!isValidLabId(spec.labId)) {
    ds.push(err('lab/invalid-lab-id', `lab id "${spec.labId}" must be 1–12 characters [a-z0-9]`, 'labId'));
  }
  const labId = spec.labId;

  const nodeNames = new Set<string>();
  const nodes: PlannedNode[] = [];
  const fabricIfaces = new Map<string, string>();
  const nodeNamespaces = new Map<string, string>();
  spec.nodes.forEach((name, index) => {
    const path = `nodes[${index}]`;
    if (name === '' || /\s/.test(name)) {
      ds.push(err('lab/invalid-node', `node name "${name}" must be non-empty without spaces`, path));
      return;
    }
    if (nodeNames.has(name)) {
      ds.push(err('lab/duplicate-node', `node "${name}" is listed twice`, path));
      return;
    }
    nodeNames.add(name);
    const fabricInterface = fabricInterfaceOf(name);
    const namespace = nodeNamespaceOf(labId, name);
    const clash = fabricIfaces.get(fabricInterface) ?? nodeNamespaces.get(namespace);
    if (clash !== undefined) {
      ds.push(err('lab/name-collision', `nodes "${clash}" and "${name}" hash to the same kernel name`, path, 'rename one of them'));
    }
    fabricIfaces.set(fabricInterface, name);
    nodeNamespaces.set(namespace, name);
    nodes.push({ name, index: nodes.length, namespace, fabricInterface, uplinkIpv4: nodeUplinkIpv4(nodes.length) });
  });

  const addressOwner = new Map<string, string>();
  const claim = (address: string, owner: string, path: string): string | undefined => {
    const canon = canonicalAddress(address);
    const reserved = reservedReason(address);
    if (canon === undefined || reserved !== undefined) {
      ds.push(err('lab/invalid-address', `address "${address}" ${reserved ?? 'is not an IP address'}`, path));
      return undefined;
    }
    const prev = addressOwner.get(canon);
    if (prev !== undefined) {
      ds.push(err('lab/duplicate-address', `address ${canon} is used by both ${prev} and ${owner}`, path));
      return undefined;
    }
    addressOwner.set(canon, owner);
    return canon;
  };

  const workloads: PlannedWorkload[] = [];
  const workloadIds = new Set<string>();
  const ifaceOwner = new Map<string, string>();
  const nsOwner = new Map<string, string>();
  const allPorts: LabPort[] = [];
  spec.workloads.forEach((w, i) => {
    const path = `workloads[${i}]`;
    if (!WORKLOAD_ID_RE.test(w.id)) {
      ds.push(err('lab/invalid-workload-id', `workload id "${w.id}" must be NAMESPACE/NAME`, `${path}.id`));
      return;
    }
    if (workloadIds.has(w.id)) {
      ds.push(err('lab/duplicate-workload', `workload "${w.id}" is listed twice`, `${path}.id`));
      return;
    }
    workloadIds.add(w.id);
    if (!nodeNames.has(w.node)) {
      ds.push(err('lab/unknown-node', `workload "${w.id}" runs on node "${w.node}", which is not in nodes`, `${path}.node`));
    }
    const ipv4: string[] = [];
    const ipv6: string[] = [];
    if (w.addresses.length === 0) {
      ds.push(err('lab/no-address', `workload "${w.id}" has no address`, `${path}.addresses`));
    }
    w.addresses.forEach((a, j) => {
      const canon = claim(a, w.id, `${path}.addresses[${j}]`);
      if (canon === undefined) return;
      (familyOf(canon) === 4 ? ipv4 : ipv6).push(canon);
    });
    const ports = checkPorts(w.ports, `${path}.ports`, ds);
    allPorts.push(...ports);
    const nodeInterface = nodeInterfaceOf(w.id);
    const namespace = workloadNamespaceOf(labId, w.id);
    const clash = ifaceOwner.get(nodeInterface) ?? nsOwner.get(namespace);
    if (clash !== undefined) {
      ds.push(err('lab/name-collision', `workloads "${clash}" and "${w.id}" hash to the same kernel name`, `${path}.id`, 'rename one of them'));
    }
    ifaceOwner.set(nodeInterface, w.id);
    nsOwner.set(namespace, w.id);
    workloads.push({ id: w.id, node: w.node, namespace, nodeInterface, ipv4, ipv6, ports });
  });

  const defaultExternalPorts = checkPorts(allPorts, 'workloads[*].ports', []);
  const externals: PlannedExternal[] = [];
  spec.externals.forEach((e, i) => {
    const path = `externals[${i}]`;
    const address = typeof e === 'string' ? e : e.address;
    const ports = typeof e === 'string' ? defaultExternalPorts : checkPorts(e.ports, `${path}.ports`, ds);
    const canon = claim(address, `external ${address}`, typeof e === 'string' ? path : `${path}.address`);
    if (canon === undefined) return;
    externals.push({ address: canon, family: familyOf(canon) ?? 4, ports });
  });

  // DNS answers: an address the outside host does not answer for yet becomes an external that
  // listens on every workload port (as a bare-string external does).
  let dns: PlannedDnsRecord[] | undefined;
  if (spec.dns !== undefined) {
    dns = [];
    const seen = new Set<string>();
    spec.dns.forEach((r, i) => {
      const path = `dns[${i}]`;
      const problem = dnsNameProblem(r.name);
      if (problem !== undefined) {
        ds.push(err('lab/invalid-dns', `DNS name "${r.name}" ${problem}`, `${path}.name`));
        return;
      }
      const name = r.name.toLowerCase().replace(/\.$/, '');
      const fam = familyOf(r.answer);
      if (fam === undefined) {
        const targetProblem = dnsNameProblem(r.answer);
        if (targetProblem !== undefined) {
          ds.push(err('lab/invalid-dns', `DNS answer "${r.answer}" for ${name} is neither an IP address nor a name: it ${targetProblem}`, `${path}.answer`));
          return;
        }
        if (dns!.some((d) => d.name === name) || seen.has(`${name} CNAME`)) {
          ds.push(err('lab/invalid-dns', `${name} has a CNAME and other records (a CNAME must be alone)`, `${path}.answer`));
          return;
        }
        seen.add(`${name} CNAME`);
        dns!.push({ name, type: 'CNAME', data: r.answer.toLowerCase().replace(/\.$/, '') });
        return;
      }
      if (seen.has(`${name} CNAME`)) {
        ds.push(err('lab/invalid-dns', `${name} has a CNAME and other records (a CNAME must be alone)`, `${path}.answer`));
        return;
      }
      const canon = canonicalAddress(r.answer) ?? r.answer;
      const reserved = reservedReason(canon);
      if (reserved !== undefined) {
        ds.push(err('lab/invalid-dns', `DNS answer ${r.answer} for ${name} ${reserved}`, `${path}.answer`));
        return;
      }
      if (!addressOwner.has(canon)) {
        addressOwner.set(canon, `external ${canon}`);
        externals.push({ address: canon, family: fam, ports: defaultExternalPorts });
      }
      dns!.push({ name, type: fam === 4 ? 'A' : 'AAAA', data: canon });
    });
  }

  if (ds.length > 0) return fail(ds);
  return ok({
    labId,
    fabricNamespace: fabricNamespaceOf(labId),
    outsideNamespace: outsideNamespaceOf(labId),
    nodes,
    workloads,
    externals,
    ...(dns === undefined ? {} : { dns }),
  });
}

/** Every namespace of a plan, in creation order (fabric, outside, nodes, workloads). */
export function namespacesOf(plan: LabPlan): string[] {
  return [
    plan.fabricNamespace,
    plan.outsideNamespace,
    ...plan.nodes.map((n) => n.namespace),
    ...plan.workloads.map((w) => w.namespace),
  ];
}

/** Which workload (or the outside host) owns an address, by canonical form. */
export function ownerOfAddress(
  plan: LabPlan,
  address: string,
): { readonly kind: 'workload'; readonly workload: PlannedWorkload } | { readonly kind: 'external' } | undefined {
  const canon = canonicalAddress(address);
  if (canon === undefined) return undefined;
  for (const w of plan.workloads) {
    if (w.ipv4.includes(canon) || w.ipv6.includes(canon)) return { kind: 'workload', workload: w };
  }
  if (plan.externals.some((e) => e.address === canon)) return { kind: 'external' };
  return undefined;
}
