// The set writer against the real kernel: a DNS-learned set (`flags timeout`) in a network
// namespace of this test's own (`stl-dn…`), filled the way the proxy fills it. Needs root and nft.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createNftSetWriter } from '../../src/dns/index.ts';
import type { Learned } from '../../src/dns/index.ts';
import { labUnavailableReason } from '../../src/lab/index.ts';

const NS = `stl-dn${process.pid.toString(36)}w-nft`;
const skip = labUnavailableReason(['ip', 'nft']);
const TABLE = 'strata';
const SET = 'd4-api.example.test-0000abcd';

function run(args: readonly string[], input?: string): string {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const declare = (): string => run(['ip', 'netns', 'exec', NS, 'nft', '-f', '-'], `table inet ${TABLE} {\n\tset ${SET} {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t}\n}\n`);

/** Address → timeout (seconds) of every element of the set. */
function elements(): Map<string, number> {
  const out = JSON.parse(run(['ip', 'netns', 'exec', NS, 'nft', '-j', 'list', 'set', 'inet', TABLE, SET])) as { nftables: { set?: { elem?: { elem: { val: string; timeout: number } }[] } }[] };
  const elem = out.nftables.find((i) => i.set !== undefined)?.set?.elem ?? [];
  return new Map(elem.map((e) => [e.elem.val, e.elem.timeout]));
}

const learned = (address: string, ttl: number): Learned => ({ set: SET, family: 4, address, ttl, name: 'api.example.test' });

describe('nft set writer (real kernel)', { skip }, () => {
  before(() => {
    run(['ip', 'netns', 'add', NS]);
    declare();
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', NS]);
  });
  const writer = createNftSetWriter({ table: () => TABLE, prefix: ['ip', 'netns', 'exec', NS] });

  it('adds an address with the answer\'s TTL as its timeout', async () => {
    await writer.add([learned('203.0.113.10', 30)]);
    assert.deepEqual([...elements()], [['203.0.113.10', 30]]);
  });

  it('a shorter answer does not shorten it; a longer one extends it', async () => {
    await writer.add([learned('203.0.113.10', 5)]);
    assert.ok(elements().get('203.0.113.10')! >= 28, `shortened to ${String(elements().get('203.0.113.10'))}`);
    await writer.add([learned('203.0.113.10', 100)]);
    assert.equal(elements().get('203.0.113.10'), 100);
  });

  it('after the table was replaced behind its back, the next answer puts the address back', async () => {
    run(['ip', 'netns', 'exec', NS, 'nft', 'delete', 'table', 'inet', TABLE]);
    declare();
    assert.equal(elements().size, 0);
    await writer.add([learned('203.0.113.10', 5)]);
    // Back, with what the longest answer seen (100 s) has left.
    assert.ok(elements().get('203.0.113.10')! >= 95, `timeout ${String(elements().get('203.0.113.10'))}`);
  });

  it('an element expires with its timeout', async () => {
    await writer.add([learned('198.51.100.7', 1)]);
    assert.ok(elements().has('198.51.100.7'));
    const deadline = Date.now() + 6000;
    while (elements().has('198.51.100.7') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.equal(elements().has('198.51.100.7'), false);
  });

  it('answers arriving together are written together, each resolved once it is in the kernel', async () => {
    const many = Array.from({ length: 20 }, (_, i) => learned(`192.0.2.${i + 1}`, 30));
    await Promise.all(many.map((m) => writer.add([m])));
    const now = elements();
    for (const m of many) assert.equal(now.get(m.address), 30, m.address);
  });

  it('in a batch, an answer for a set the kernel lacks fails alone', async () => {
    const results = await Promise.allSettled([writer.add([learned('192.0.2.101', 30)]), writer.add([{ ...learned('192.0.2.102', 30), set: 'd4-missing-00000000' }]), writer.add([learned('192.0.2.103', 30)])]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.ok(elements().has('192.0.2.101') && elements().has('192.0.2.103'));
  });

  it('a set the kernel does not have: the writer rejects (the proxy then answers SERVFAIL)', async () => {
    await assert.rejects(writer.add([{ ...learned('203.0.113.11', 5), set: 'd4-missing-00000000' }]), /nft:/);
  });
});
