// Front door of the DNS policy module: the per-node proxy that fills DNS-learned nft sets, the
// authoritative server the lab's outside host runs, a stub resolver for probes, and the files
// that bind compiled sets to domain patterns.
export { DEFAULT_TTL_BOUNDS, learnFromResponse, normalizeName } from './answer.ts';
export type { DomainBinding, Learned, Learning, TtlBounds } from './answer.ts';
export { resolveName } from './client.ts';
export type { Resolution } from './client.ts';
export { bindingsFileSchema, dnsProcessConfigSchema, watchBindingsFile, writeBindingsFile } from './config.ts';
export type { BindingsFile, DnsProcessConfig } from './config.ts';
export { createNftSetWriter, renderSetAdditions } from './nft-writer.ts';
export type { SetWriter } from './nft-writer.ts';
export { startDnsProxy } from './proxy.ts';
export type { DnsProxy, DnsProxyOptions, ProxyEvent } from './proxy.ts';
export { respond, startDnsServer } from './server.ts';
export type { DnsRecord, DnsServer } from './server.ts';
export type { Endpoint } from './wire.ts';
export { DNS_MAIN } from './paths.ts';
