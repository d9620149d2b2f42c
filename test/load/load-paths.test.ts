// loadPaths: files, directories (recursive, sorted, manifest extensions only), stdin, unreadable
// paths, and duplicates across files.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadPaths } from '../../src/load/index.ts';

const ns = (name: string, labels = ''): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n${labels === '' ? '' : `  labels: {${labels}}\n`}`;

let root = '';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'strata-load-'));
  await mkdir(join(root, 'tree', 'b-sub', 'deeper'), { recursive: true });
  await mkdir(join(root, 'tree', 'a-sub'), { recursive: true });
  await writeFile(join(root, 'tree', 'z.yaml'), ns('z'));
  await writeFile(join(root, 'tree', 'a.yml'), ns('a'));
  await writeFile(join(root, 'tree', 'm.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'm' } }));
  await writeFile(join(root, 'tree', 'README.md'), '# not a manifest\n');
  await writeFile(join(root, 'tree', 'policy'), ns('no-extension'));
  await writeFile(join(root, 'tree', 'upper.YAML'), ns('upper'));
  await writeFile(join(root, 'tree', 'a-sub', 'x.yaml'), ns('in-a-sub'));
  await writeFile(join(root, 'tree', 'b-sub', 'deeper', 'y.yaml'), ns('in-deeper'));
  await writeFile(join(root, 'tree', 'b-sub', 'b.yaml'), ns('in-b-sub'));
  await mkdir(join(root, 'empty'));
  await writeFile(join(root, 'namespaces.yaml'), `${ns('shop')}---\n${ns('bank')}`);
  await writeFile(join(root, 'shop.yaml'), `${ns('shop', 'tenant: one')}---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: shop}\n`);
  await writeFile(join(root, 'shop-again.yaml'), 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: shop}\n');
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('paths as kubectl -f takes them', () => {
  test('a directory is read recursively in sorted order, manifests only', async () => {
    const r = await loadPaths([join(root, 'tree')]);
    assert.deepEqual(
      r.resources.map((x) => x.name),
      ['in-a-sub', 'a', 'in-b-sub', 'in-deeper', 'm', 'z'],
    );
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.severity} ${d.code}`),
      ['info load/skipped-file', 'info load/skipped-file', 'info load/skipped-file'],
    );
    assert.ok(r.sources.has(join(root, 'tree', 'a.yml')));
  });
  test('a file named explicitly is read whatever its extension', async () => {
    const r = await loadPaths([join(root, 'tree', 'policy'), join(root, 'tree', 'README.md')]);
    assert.deepEqual(r.resources.map((x) => x.name), ['no-extension']);
    assert.deepEqual(r.diagnostics.map((d) => d.code), [], 'a Markdown heading is a YAML comment: an empty document');
  });
  test('- reads stdin, once', async () => {
    let reads = 0;
    const r = await loadPaths(['-', '-'], {
      readStdin: () => {
        reads++;
        return Promise.resolve(ns('from-stdin'));
      },
    });
    assert.equal(reads, 1);
    assert.deepEqual(r.resources.map((x) => `${x.name} ${x.origin.file}`), ['from-stdin -']);
    assert.equal(r.sources.get('-'), ns('from-stdin'));
  });
  test('a missing path is load/not-found, and the rest still loads', async () => {
    const r = await loadPaths([join(root, 'nope.yaml'), join(root, 'tree', 'z.yaml')]);
    assert.deepEqual(r.resources.map((x) => x.name), ['z']);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, d.severity]), [['load/not-found', 'error']]);
    assert.match(r.diagnostics[0]?.message ?? '', /no such file or directory/);
  });
  test('an empty directory is a warning', async () => {
    const r = await loadPaths([join(root, 'empty')]);
    assert.deepEqual(r.diagnostics.map((d) => d.code), ['load/empty-directory']);
  });
  test('a file reached twice is read once', async () => {
    const r = await loadPaths([join(root, 'tree'), join(root, 'tree', 'z.yaml')]);
    assert.equal(r.resources.filter((x) => x.name === 'z').length, 1);
    assert.ok(!r.diagnostics.some((d) => d.code === 'load/duplicate-resource'));
  });
});

describe('across files', () => {
  test('namespaces repeated across files merge; other duplicates are errors naming the first file', async () => {
    const r = await loadPaths([join(root, 'namespaces.yaml'), join(root, 'shop.yaml'), join(root, 'shop-again.yaml')]);
    assert.deepEqual(r.resources.map((x) => `${x.type}/${x.name}`), ['Namespace/shop', 'Namespace/bank', 'ServiceAccount/web']);
    const shop = r.resources[0];
    if (shop?.type !== 'Namespace') assert.fail('expected a namespace');
    assert.deepEqual(shop.body.metadata.labels, { tenant: 'one' });
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.severity} ${d.code} ${d.span?.file.slice(root.length + 1)}:${d.span?.line}`),
      ['info load/merged-namespace shop.yaml:4', 'error load/duplicate-resource shop-again.yaml:3'],
    );
    assert.equal(r.diagnostics[1]?.help, `first declared at ${join(root, 'shop.yaml')}:9:18; remove one of them or rename it`);
  });
});
