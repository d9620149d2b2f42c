// The console's static files at /ui/: the Vite build (dist/ui) as it is, index.html for /ui/.
// No authentication (the page asks for a token; every API call carries it), no directory
// listings, nothing outside the build directory, and a strict Content-Security-Policy: the
// console only talks to this server.
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyReply } from 'fastify';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

export async function serveConsole(reply: FastifyReply, pathname: string, dir: string): Promise<FastifyReply> {
  if (pathname === '/ui') return reply.code(301).header('Location', '/ui/').send();
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice('/ui/'.length));
  } catch {
    return reply.code(400).type('text/plain').send('bad path');
  }
  if (rel === '' || rel.endsWith('/')) rel += 'index.html';
  const root = normalize(dir.endsWith(sep) ? dir : dir + sep);
  const file = normalize(join(root, rel));
  if (!file.startsWith(root) || rel.includes('\0')) return reply.code(404).type('text/plain').send('not found');
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch {
    if (rel === 'index.html') {
      return reply.code(503).type('text/plain').send(`the console is not built: run "npm run build:ui" (looked in ${root})`);
    }
    return reply.code(404).type('text/plain').send('not found');
  }
  // Vite names assets by content hash: they never change; index.html must be fetched each time.
  const immutable = rel.startsWith('assets/');
  return reply
    .code(200)
    .header('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream')
    .header('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .header('Content-Security-Policy', CSP)
    .header('X-Content-Type-Options', 'nosniff')
    .header('Referrer-Policy', 'no-referrer')
    .send(data);
}
