// DNS on the wire: decoding that never throws (dns-packet throws on malformed input), small
// responses built from a query (SERVFAIL, FORMERR), and one exchange with a server over UDP or
// TCP (RFC 1035 §4.2: TCP messages carry a two-byte length prefix).
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

/** A decoded packet, or why it is not one. */
export function decodePacket(buf: Buffer): DecodedPacket | string {
  try {
    const p = dnsPacket.decode(buf);
    // dns-packet reads past counts it cannot satisfy as `undefined` fields rather than failing.
    for (const list of [p.questions, p.answers, p.authorities, p.additionals]) {
      if (list?.some((x) => x === undefined || x === null) === true) return 'truncated record list';
    }
    return p;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** A response to `query` with no records and the given rcode (the question repeated). */
export function errorResponse(query: DecodedPacket, rcode: number): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    // QR is set by type; keep RD from the query, say recursion is available, add the rcode.
    flags: ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: query.questions ?? [],
  });
}

/** Sends one UDP datagram to `server` and waits for the reply from that address and port. */
export function exchangeUdp(server: Endpoint, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(server.address) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(new Error(`no answer from ${server.address}:${server.port} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (r: Buffer | Error): void => {
      clearTimeout(timer);
      sock.close();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    sock.on('error', (e) => finish(e));
    sock.on('message', (msg, rinfo) => {
      // Only the server we asked may answer (a forged reply from elsewhere is dropped).
      if (rinfo.address !== server.address || rinfo.port !== server.port) return;
      finish(msg);
    });
    sock.send(message, server.port, server.address, (e) => {
      if (e) finish(e);
    });
  });
}

/** A DNS listener on UDP and TCP at one address and port. */
export interface DnsListener {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** An idle or trickling TCP client must not hold a connection for ever (RFC 7766 §6.2). */
const TCP_IDLE_MS = 10_000;

/**
 * Listens on UDP and TCP (the port UDP got, when `listen.port` is 0) and answers each message
 * with `handle`'s reply; no reply (or a failure) means no UDP answer and a closed TCP connection.
 * Shared by the node's proxy and the lab's authoritative server.
 */
export async function listenDns(listen: Endpoint, handle: (m: Buffer, transport: 'udp' | 'tcp') => Promise<Buffer | undefined>): Promise<DnsListener> {
  const udp = dgram.createSocket({ type: net.isIPv6(listen.address) ? 'udp6' : 'udp4' });
  udp.on('message', (msg, rinfo) => {
    handle(msg, 'udp').then(
      (out) => {
        if (out !== undefined) udp.send(out, rinfo.port, rinfo.address);
      },
      () => undefined,
    );
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(listen.port, listen.address, () => resolve());
  });
  // After bind, a send error (an unreachable client) must not end the process.
  udp.on('error', () => undefined);
  const port = (udp.address() as AddressInfo).port;
  const conns = new Set<net.Socket>();
  const tcp = net.createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => undefined);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    onTcpMessages(sock, (m) => {
      handle(m, 'tcp').then(
        (out) => {
          if (out !== undefined && sock.writable) sock.write(tcpFrame(out));
          else if (out === undefined) sock.destroy();
        },
        () => sock.destroy(),
      );
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, listen.address, () => resolve());
    });
  } catch (e) {
    udp.close();
    throw e;
  }
  return {
    address: listen.address,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.destroy();
        udp.close();
        tcp.close(() => resolve());
      }),
  };
}

/** Splits a TCP stream into DNS messages (two-byte length prefix each). */
export function onTcpMessages(sock: net.Socket, onMessage: (m: Buffer) => void, maxBytes = 65_535 + 2): void {
  let buf = Buffer.alloc(0);
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      onMessage(buf.subarray(2, 2 + len));
      buf = buf.subarray(2 + len);
    }
    if (buf.length > maxBytes) sock.destroy();
  });
}

export function tcpFrame(m: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(m.length, 0);
  return Buffer.concat([len, m]);
}

/** One query over a fresh TCP connection. */
export function exchangeTcp(server: Endpoint, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: server.address, port: server.port });
    const timer = setTimeout(() => finish(new Error(`no answer from ${server.address}:${server.port} (TCP) within ${timeoutMs} ms`)), timeoutMs);
    const finish = (r: Buffer | Error): void => {
      clearTimeout(timer);
      sock.destroy();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    sock.on('error', (e) => finish(e));
    sock.on('connect', () => sock.write(tcpFrame(message)));
    onTcpMessages(sock, (m) => finish(m));
  });
}
