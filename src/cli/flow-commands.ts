// Wiring of `strata flows`, `strata flows stats` and `strata policies unused` (the flow API's
// commands), kept out of main.ts so that file only gains one call.
import { Command, Option } from 'commander';
import type { Io } from './io.ts';
import { serverTargetOptions } from './server-commands.ts';

function withTarget(cmd: Command): Command {
  for (const o of serverTargetOptions()) cmd.addOption(o);
  return cmd.addOption(new Option('--context <name>', 'use this context from the config file'));
}

export function registerFlowCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const flows = withTarget(
    program
      .command('flows')
      .description('flows the agents reported: who talked to whom, the verdict and the policy rule that decided (from the server)')
      .option('--since <when>', 'a duration (30s, 15m, 1h, 2d) or an RFC 3339 time (default 15m)')
      .option('--until <when>', 'end of the window (default now)')
      .option('-f, --follow', 'after the list, print new flows as they arrive')
      .option('--timeout <seconds>', 'with --follow: stop after this many seconds')
      .option('-n, --namespace <ns>', 'flows with either side in this namespace')
      .option('--endpoint <name>', 'flows with either side NAME or NAMESPACE/NAME')
      .option('--policy <ref>', 'flows a policy acted on: TIER.NAME, NAMESPACE/NAME or NAMESPACE/TIER.NAME')
      .option('--tier <tier>', 'flows a policy of this tier acted on')
      .addOption(new Option('--action <action>', 'the verdict').choices(['allow', 'deny']))
      .option('--port <n>', 'destination port')
      .option('--protocol <p>', 'tcp, udp, sctp, icmp, …')
      .option('--pending-differs', 'only flows whose staged (pending) verdict differs from the enforced one')
      .addOption(new Option('--sort <key>', 'newest first, or most packets/bytes/connections first').choices(['time', 'packets', 'bytes', 'connections']))
      .option('--limit <n>', 'at most this many flows (default 100)')
      .addOption(new Option('-o, --output <format>', 'table, json (JSON Lines) or csv (default table)')),
  ).action(async (opts) => setExit(await (await import('./commands/flows.ts')).runFlows(io, opts)));
  withTarget(
    flows
      .command('stats')
      .description('per policy rule and direction: packets, bytes, connections, allowed/denied/passed, last hit')
      .option('--since <when>', 'a duration or an RFC 3339 time (default 1h)')
      .option('--until <when>', 'end of the window (default now)')
      .option('-n, --namespace <ns>', 'policies of this namespace')
      .option('--policy <ref>', 'one policy: TIER.NAME or NAMESPACE/NAME')
      .option('--tier <tier>', 'policies of this tier')
      .addOption(new Option('-o, --output <format>', 'table or json (default table)')),
    // `flows` has the same options and commander gives them to it wherever they stand: merge.
  ).action(async (_opts, cmd: Command) => setExit(await (await import('./commands/flows.ts')).runFlowStats(io, cmd.optsWithGlobals())));

  const policies = program.command('policies').description('reviews of the policies on the server');
  withTarget(
    policies
      .command('unused')
      .description('policies and rules nothing hit over a window: the live policies compared with the flow stats')
      .option('--since <when>', 'the window: a duration or an RFC 3339 time', '30d')
      .addOption(new Option('-o, --output <format>', 'table or json (JSON Lines)').default('table')),
  ).action(async (opts) => setExit(await (await import('./commands/flows.ts')).runPoliciesUnused(io, opts)));
}
