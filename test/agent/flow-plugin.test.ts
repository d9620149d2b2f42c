// The agent's flow-log flags without a kernel: `--flow-aggregate` parsing and its errors, the
// default spool and collector paths, and the CLI refusing a bad spec before it starts anything.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultFlowPaths, parseAggregation } from '../../src/agent/flow-plugin.ts';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';

describe('agent flow log flags', () => {
  it('--flow-aggregate: per action, Calico\'s defaults for the half left out', () => {
    assert.deepEqual(parseAggregation('allow=endpoint-group,deny=src-port'), { allow: 'endpoint-group', deny: 'src-port' });
    assert.deepEqual(parseAggregation('deny=none'), { allow: 'endpoint-group', deny: 'none' });
    assert.deepEqual(parseAggregation(' allow=dst-port , '), { allow: 'dst-port', deny: 'src-port' });
    assert.deepEqual(parseAggregation(''), { allow: 'endpoint-group', deny: 'src-port' });
  });

  it('--flow-aggregate: a bad part or level is named', () => {
    assert.equal(parseAggregation('allow=bogus'), '--flow-aggregate: allow=bogus: the level is one of none, src-port, endpoint-group, dst-port');
    assert.equal(parseAggregation('pass=none'), '--flow-aggregate: "pass=none" is not allow=LEVEL or deny=LEVEL');
    assert.equal(parseAggregation('allow'), '--flow-aggregate: "allow" is not allow=LEVEL or deny=LEVEL');
  });

  it('default paths sit beside the run file, by namespace or node', () => {
    assert.deepEqual(defaultFlowPaths('/run/strata-agent', 'stl-x-node-1', 'node-1'), { spoolPath: '/run/strata-agent/stl-x-node-1.flows.db', workDir: '/run/strata-agent/stl-x-node-1.flowlog' });
    assert.deepEqual(defaultFlowPaths('/tmp/r', undefined, 'n2'), { spoolPath: '/tmp/r/node-n2.flows.db', workDir: '/tmp/r/node-n2.flowlog' });
  });

  it('strata agent refuses a bad --flow-aggregate or --flow-interval with exit 2, before contacting anything', async () => {
    for (const [args, message] of [
      [['--flow-aggregate', 'deny=everything'], /--flow-aggregate: deny=everything: the level is one of/],
      [['--flow-interval', '0'], /--flow-interval must be an integer from 1 to 3600, got "0"/],
    ] as const) {
      const io = memoryIo();
      const code = await main(['agent', '--server', 'http://127.0.0.1:9', '--token', 't', '--node', 'n1', ...args], io);
      assert.equal(code, 2, io.stderr.join('\n'));
      assert.match(io.stderr.join('\n'), message);
    }
  });
});
