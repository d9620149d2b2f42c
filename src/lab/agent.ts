// The lab agent: a small long-lived process inside one lab namespace (started with
// `ip netns exec NS node agent.ts CONFIG.json`). It holds the real listeners of that namespace
// and makes outgoing probes on request, answering JSON lines on a unix socket.
//
// Why a unix socket rather than stdin/stdout: the lab outlives the command that built it
// (`strata lab up` returns, `strata lab probe` runs later in another process), so the
// agent must not depend on its parent's pipes. A path-based unix socket is a file, not a
// network object, so it crosses namespaces without linking the island to the root namespace.
//
// Why socat for SCTP: Node has no SCTP sockets; socat (Debian `socat`) has SCTP-LISTEN and
// SCTP-CONNECT, needs no interpreter, and its `PIPE` address is a ready-made echo server. The
// alternatives were ncat (no SCTP listen-with-echo in one process) and python3 (not a given
// Debian package on every machine this runs on, and a bigger runtime per listener).
//
// Listener contract (TCP, UDP): every line (datagram) received is answered with
// `<identity> <line>`, so a probe knows the packet reached the intended namespace. SCTP
// listeners echo the line unchanged.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { flushCompileCache } from 'node:module';
import net from 'node:net';
import type {
  AgentConfig,
  AgentListener,
  AgentReady,
  AgentRequest,
  AgentResponse,
  HoldCheckRequest,
  HoldOpenRequest,
  ProbeRequest,
} from './agent-protocol.ts';

const MAX_LINE = 4096;

function log(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
}

// The only argument is the path of a JSON file holding the AgentConfig.
const config = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as AgentConfig;
const servers: (net.Server | dgram.Socket)[] = [];
const children = new Set<ChildProcess>();

/** Splits a stream into lines, calling `onLine` for each; guards against unbounded input. */
function onLines(sock: net.Socket, onLine: (line: string) => void): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    if (buf.length > MAX_LINE) sock.destroy();
  });
}

const fam = (address: string): 4 | 6 => (net.isIPv6(address) ? 6 : 4);
const bracket = (address: string): string => (fam(address) === 6 ? `[${address}]` : address);

// ---------------------------------------------------------------------------------------------
// Listeners

function listenTcp(l: AgentListener): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      sock.setNoDelay(true);
      sock.on('error', () => undefined);
      onLines(sock, (line) => sock.write(`${config.identity} ${line}\n`));
    });
    server.once('error', reject);
    server.listen({ host: l.address, port: l.port, ipv6Only: true }, () => {
      server.off('error', reject);
      server.on('error', (e) => log(`tcp ${l.address}:${l.port}: ${e.message}`));
      servers.push(server);
      resolve();
    });
  });
}

function listenUdp(l: AgentListener): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock =
      fam(l.address) === 6 ? dgram.createSocket({ type: 'udp6', ipv6Only: true }) : dgram.createSocket({ type: 'udp4' });
    sock.on('message', (msg, rinfo) => {
      const reply = Buffer.from(`${config.identity} ${msg.toString('utf8').replace(/\n$/, '')}\n`);
      sock.send(reply, rinfo.port, rinfo.address);
    });
    sock.once('error', reject);
    sock.bind({ address: l.address, port: l.port, exclusive: true }, () => {
      sock.off('error', reject);
      sock.on('error', (e) => log(`udp ${l.address}:${l.port}: ${e.message}`));
      servers.push(sock);
      resolve();
    });
  });
}

function listenSctp(l: AgentListener): Promise<void> {
  const socat = config.socat;
  if (socat === null) return Promise.reject(new Error('SCTP is not available on this machine'));
  return new Promise((resolve, reject) => {
    const addr = `SCTP${fam(l.address)}-LISTEN:${l.port},bind=${bracket(l.address)},fork,reuseaddr`;
    const child = spawn(socat, ['-d', addr, 'PIPE'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      err += s;
      log(`socat ${l.address}:${l.port}: ${s.trim()}`);
    });
    // socat gives no "listening" signal; if it has not failed after a moment, it is listening.
    const settled = setTimeout(() => resolve(), 150);
    child.on('exit', (code) => {
      children.delete(child);
      clearTimeout(settled);
      reject(new Error(`socat exited (${String(code)}): ${err.trim()}`));
    });
  });
}

function listen(l: AgentListener): Promise<void> {
  switch (l.protocol) {
    case 'TCP':
      return listenTcp(l);
    case 'UDP':
      return listenUdp(l);
    case 'SCTP':
      return listenSctp(l);
    default: {
      const never: never = l.protocol;
      return Promise.reject(new Error(`unknown protocol ${String(never)}`));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Probes. A probe sends a random nonce and expects it back: proof the flow went both ways and,
// through the identity prefix, that it reached the intended namespace.

type Answer = Omit<AgentResponse, 'id'>;

const nonce = (): string => randomBytes(6).toString('hex');

function parseEcho(line: string, n: string): { responder: string } | undefined {
  const i = line.lastIndexOf(' ');
  if (line === n) return { responder: '' };
  if (i < 0 || line.slice(i + 1) !== n) return undefined;
  return { responder: line.slice(0, i) };
}

function denyDetail(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'ECONNRESET':
      return 'reset';
    case 'EACCES':
    case 'EPERM':
      return 'rejected locally (permission)';
    default:
      return e.code ?? e.message;
  }
}

function probeTcp(r: ProbeRequest | HoldOpenRequest, keep?: (s: net.Socket) => void): Promise<Answer> {
  return new Promise((resolve) => {
    const start = Date.now();
    const n = nonce();
    let connected = false;
    const opts: net.NetConnectOpts = { host: r.to, port: r.port ?? 0, family: fam(r.to) };
    if (r.from !== undefined) opts.localAddress = r.from;
    const sock = net.connect(opts);
    sock.setNoDelay(true);
    let done = false;
    const finish = (a: Answer, keepIt = false): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (keepIt && keep !== undefined) keep(sock);
      else sock.destroy();
      resolve({ ...a, ms: Date.now() - start });
    };
    // The kernel binds the source port at connect(); read it as soon as it exists.
    let srcPort: number | undefined;
    const port = (): { srcPort?: number } => {
      srcPort ??= sock.localPort;
      return srcPort === undefined ? {} : { srcPort };
    };
    const timer = setTimeout(
      () =>
        finish({
          observed: 'deny',
          detail: connected ? `handshake completed but no echo within ${r.timeoutMs} ms` : 'timeout',
          ...port(),
        }),
      r.timeoutMs,
    );
    sock.on('connect', () => {
      connected = true;
      port();
      sock.write(`${n}\n`);
    });
    onLines(sock, (line) => {
      const echo = parseEcho(line, n);
      if (echo !== undefined) {
        finish({ observed: 'allow', detail: 'connected, echo received', responder: echo.responder, ...port() }, true);
      }
    });
    sock.on('error', (e) => finish({ observed: 'deny', detail: denyDetail(e), ...port() }));
    sock.on('close', () => finish({ observed: 'deny', detail: 'closed before echo', ...port() }));
    setImmediate(port);
  });
}

// UDP source ports rotate through a range rather than being left to the kernel. A UDP conntrack
// entry that saw a reply stays "established" for 30–180 s; a later probe that happened to reuse
// its tuple would pass every node without meeting policy, and a policy changed in between would
// look unenforced. Rotating, an agent needs 28 000 UDP probes before a tuple comes back.
const UDP_PORT_FIRST = 33_000;
const UDP_PORT_COUNT = 28_000;
let udpPortOffset = (process.pid * 7919) % UDP_PORT_COUNT;

function nextUdpPort(): number {
  udpPortOffset = (udpPortOffset + 1) % UDP_PORT_COUNT;
  return UDP_PORT_FIRST + udpPortOffset;
}

/** Binds a fresh UDP socket to the next free rotating port on `address` (undefined: any). */
function bindUdp(family: 4 | 6, address: string | undefined): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    let tries = 0;
    const attempt = (): void => {
      const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
      sock.once('error', (e: NodeJS.ErrnoException) => {
        sock.close();
        // A port taken by one of this namespace's listeners, or by a probe in flight: next one.
        if (e.code === 'EADDRINUSE' && ++tries < 32) attempt();
        else reject(e);
      });
      const port = nextUdpPort();
      sock.bind(address === undefined ? { port, exclusive: true } : { address, port, exclusive: true }, () => {
        sock.removeAllListeners('error');
        resolve(sock);
      });
    };
    attempt();
  });
}

async function probeUdp(r: ProbeRequest): Promise<Answer> {
  const start = Date.now();
  let sock: dgram.Socket;
  try {
    sock = await bindUdp(fam(r.to), r.from);
  } catch (e) {
    return { observed: 'error', detail: `cannot bind a UDP source port: ${e instanceof Error ? e.message : String(e)}`, ms: 0 };
  }
  const bound = sock;
  const srcPort = bound.address().port;
  return new Promise((resolve) => {
    const n = nonce();
    let done = false;
    const finish = (a: Answer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        bound.close();
      } catch {
        // already closed
      }
      resolve({ ...a, srcPort, ms: Date.now() - start });
    };
    const timer = setTimeout(() => finish({ observed: 'deny', detail: 'timeout (no reply)' }), r.timeoutMs);
    bound.on('error', (e) => finish({ observed: 'deny', detail: denyDetail(e) }));
    bound.on('message', (msg) => {
      const echo = parseEcho(msg.toString('utf8').replace(/\n$/, ''), n);
      if (echo !== undefined) finish({ observed: 'allow', detail: 'reply received', responder: echo.responder });
    });
    // A connected socket turns an ICMP port-unreachable into ECONNREFUSED on the next call.
    bound.connect(r.port ?? 0, r.to, () => bound.send(`${n}\n`));
  });
}

/** Runs a helper program, resolving with exit code and output; killed at the deadline. */
function runHelper(
  cmd: string,
  args: readonly string[],
  deadlineMs: number,
  input?: string,
  onStdout?: (text: string, kill: () => void) => void,
): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    let killed = false;
    const kill = (): void => {
      killed = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, deadlineMs);
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      stdout += s;
      onStdout?.(stdout, kill);
    });
    child.stderr?.on('data', (s: string) => (stderr += s));
    child.stdin?.on('error', () => undefined);
    if (input !== undefined) child.stdin?.write(input);
    child.on('error', (e) => (stderr += e.message));
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

async function probeIcmp(r: ProbeRequest): Promise<Answer> {
  const start = Date.now();
  const args = ['-n', '-q', '-c', '1', `-${fam(r.to)}`, '-W', (r.timeoutMs / 1000).toFixed(3)];
  if (r.from !== undefined) args.push('-I', r.from);
  args.push(r.to);
  const res = await runHelper(config.ping, args, r.timeoutMs + 1000);
  const ms = Date.now() - start;
  if (res.code === 0) return { observed: 'allow', detail: 'echo reply', ms };
  if (res.code === 1) return { observed: 'deny', detail: 'no echo reply', ms };
  const why = res.stderr.trim().split('\n').pop() ?? '';
  if (/unreachable|prohibited/i.test(why)) return { observed: 'deny', detail: why, ms };
  return { observed: 'error', detail: `ping failed (${String(res.code)}): ${why}`, ms };
}

async function probeSctp(r: ProbeRequest): Promise<Answer> {
  const start = Date.now();
  if (config.socat === null) return { observed: 'error', detail: 'SCTP is not available on this machine', ms: 0 };
  const n = nonce();
  const secs = (r.timeoutMs / 1000).toFixed(3);
  const bind = r.from === undefined ? '' : `,bind=${bracket(r.from)}`;
  const target = `SCTP${fam(r.to)}-CONNECT:${bracket(r.to)}:${String(r.port ?? 0)}${bind},connect-timeout=${secs}`;
  let echoed = false;
  const res = await runHelper(config.socat, ['-T', secs, 'STDIO', target], r.timeoutMs + 500, `${n}\n`, (out, kill) => {
    if (out.split('\n').some((l) => l === n)) {
      echoed = true;
      kill();
    }
  });
  const ms = Date.now() - start;
  if (echoed) return { observed: 'allow', detail: 'association established, echo received', ms };
  if (/protocol not supported/i.test(res.stderr)) return { observed: 'error', detail: 'SCTP is not supported by the kernel', ms };
  const why = res.stderr.trim().split('\n').pop() ?? '';
  if (res.killed || res.code === 0) return { observed: 'deny', detail: 'timeout', ms };
  return { observed: 'deny', detail: why === '' ? `socat exited ${String(res.code)}` : why.replace(/^.*E /, ''), ms };
}

/**
 * A probe to a name: resolved first through the given server (the node's DNS proxy), exactly
 * as a workload's resolver would, then made to the answered address. A name that cannot be
 * resolved is an `error` (no verdict): the proxy answers denied names too.
 */
async function probeByName(r: ProbeRequest & { readonly resolve: NonNullable<ProbeRequest['resolve']> }): Promise<Answer> {
  // Loaded on first use: most agents never resolve, and their start-up time matters.
  const { resolveName } = await import('../dns/client.ts');
  const res = await resolveName({ address: r.resolve.address, port: r.resolve.port }, r.to, r.resolve.family, r.timeoutMs + 1500);
  if (!res.ok) return { observed: 'error', detail: `cannot resolve ${r.to}: ${res.reason}` };
  const { resolve: _resolved, ...byAddress } = r;
  const a = await probe({ ...byAddress, to: res.address });
  return { ...a, resolved: res.address };
}

function probe(r: ProbeRequest): Promise<Answer> {
  if (r.resolve !== undefined) return probeByName({ ...r, resolve: r.resolve });
  switch (r.protocol) {
    case 'TCP':
      return probeTcp(r);
    case 'UDP':
      return probeUdp(r);
    case 'SCTP':
      return probeSctp(r);
    case 'ICMP':
      return probeIcmp(r);
    default: {
      const never: never = r.protocol;
      return Promise.resolve({ observed: 'error', detail: `unknown protocol ${String(never)}` });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Held connections

interface Held {
  readonly sock: net.Socket;
  closed: string | undefined;
  waiting: ((line: string) => void) | undefined;
}

const held = new Map<number, Held>();
let nextConn = 1;

async function holdOpen(r: HoldOpenRequest): Promise<Answer> {
  let kept: net.Socket | undefined;
  const a = await probeTcp(r, (s) => (kept = s));
  if (a.observed !== 'allow' || kept === undefined) return a;
  const sock: net.Socket = kept;
  const conn = nextConn++;
  const h: Held = { sock, closed: undefined, waiting: undefined };
  sock.removeAllListeners('data');
  sock.removeAllListeners('close');
  sock.removeAllListeners('error');
  let buf = '';
  sock.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      h.waiting?.(line);
    }
  });
  sock.on('error', (e) => (h.closed = denyDetail(e)));
  sock.on('close', () => (h.closed ??= 'closed'));
  held.set(conn, h);
  return { ...a, conn };
}

function holdCheck(r: HoldCheckRequest): Promise<Answer> {
  const h = held.get(r.conn);
  if (h === undefined) return Promise.resolve({ observed: 'error', detail: `no held connection ${r.conn}` });
  if (h.closed !== undefined) return Promise.resolve({ observed: 'deny', detail: `connection ${h.closed}` });
  return new Promise((resolve) => {
    const start = Date.now();
    const n = nonce();
    const timer = setTimeout(() => {
      h.waiting = undefined;
      resolve({ observed: 'deny', detail: `no echo within ${r.timeoutMs} ms on the held connection`, ms: Date.now() - start });
    }, r.timeoutMs);
    h.waiting = (line) => {
      const echo = parseEcho(line, n);
      if (echo === undefined) return;
      clearTimeout(timer);
      h.waiting = undefined;
      resolve({ observed: 'allow', detail: 'held connection still carries data', responder: echo.responder, ms: Date.now() - start });
    };
    h.sock.write(`${n}\n`);
  });
}

// ---------------------------------------------------------------------------------------------
// Control socket

async function handle(req: AgentRequest): Promise<AgentResponse> {
  switch (req.op) {
    case 'probe':
      return { id: req.id, ...(await probe(req)) };
    case 'hold-open':
      return { id: req.id, ...(await holdOpen(req)) };
    case 'hold-check':
      return { id: req.id, ...(await holdCheck(req)) };
    case 'hold-close': {
      held.get(req.conn)?.sock.destroy();
      held.delete(req.conn);
      return { id: req.id, observed: 'allow', detail: 'closed' };
    }
    case 'status':
      return { id: req.id, observed: 'allow', detail: 'running', pid: process.pid, listeners: config.listeners };
    case 'shutdown':
      setTimeout(shutdown, 10);
      return { id: req.id, observed: 'allow', detail: 'shutting down' };
    default: {
      const never: never = req;
      return { id: (never as { id: number }).id, observed: 'error', detail: 'unknown op' };
    }
  }
}

function serveControl(): Promise<net.Server> {
  rmSync(config.socket, { force: true });
  const server = net.createServer((conn) => {
    conn.on('error', () => undefined);
    onLines(conn, (line) => {
      let req: AgentRequest;
      try {
        req = JSON.parse(line) as AgentRequest;
      } catch {
        conn.write(`${JSON.stringify({ id: -1, observed: 'error', detail: 'bad JSON' })}\n`);
        return;
      }
      handle(req).then(
        (res) => conn.writable && conn.write(`${JSON.stringify(res)}\n`),
        (e: unknown) =>
          conn.writable &&
          conn.write(`${JSON.stringify({ id: req.id, observed: 'error', detail: String(e) })}\n`),
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.socket, () => resolve(server));
  });
}

let shuttingDown = false;
function shutdown(): void {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const c of children) c.kill('SIGTERM');
  for (const s of servers) s.close();
  rmSync(config.socket, { force: true });
  // Give socat children a moment to receive their signal, then leave.
  setTimeout(() => process.exit(0), 50).unref();
}

function ready(r: AgentReady): void {
  try {
    writeSync(3, `${JSON.stringify(r)}\n`);
    closeSync(3);
  } catch {
    // started by hand, without a readiness pipe
  }
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('uncaughtException', (e) => log(`uncaught: ${e.stack ?? e.message}`));

const errors: string[] = [];
let listening = 0;
await Promise.all(
  config.listeners.map((l) =>
    listen(l).then(
      () => void listening++,
      (e: unknown) => void errors.push(`${l.protocol} ${l.address}:${l.port}: ${e instanceof Error ? e.message : String(e)}`),
    ),
  ),
);
try {
  await serveControl();
} catch (e) {
  errors.push(`control socket ${config.socket}: ${e instanceof Error ? e.message : String(e)}`);
}
log(`agent ${config.identity} pid ${process.pid}: ${listening} listeners, ${errors.length} errors`);
// Node writes its compile cache only at exit, and agents live long: write it now, so the next
// agent started by the lab skips compiling (most of its start-up time).
flushCompileCache();
ready({ ready: errors.length === 0, pid: process.pid, listening, errors });
