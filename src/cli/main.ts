// The `strata` command line: kubectl-style conventions (repeatable `-f`, `-o FORMAT`, exit codes
// 0 ok / 1 findings / 2 usage or input errors). Each command's logic lives in commands/ and in the
// library; this file only wires flags to them and turns failures into exit codes — never a stack
// trace.
//
// Each command's module is imported only when that command runs (`await import(...)` in its
// action): loading and type-stripping every command's dependency tree (YAML, zod, the engine, the
// lab) on every start cost most of a `strata selector` run. Keep one action per command in the
// form `action(async (opts) => setExit(await (await import('./commands/x.ts')).runX(io, opts)))`.
import { Command, CommanderError, Option } from 'commander';
import { processIo } from './io.ts';
import type { Io } from './io.ts';
import { EXIT, UsageError } from './exit.ts';
import { STRATA_VERSION } from './version.ts';
import { registerServerCommands, serverTargetOptions } from './server-commands.ts';
import { registerFlowCommands } from './flow-commands.ts';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function fileOption(): Option {
  return new Option('-f, --filename <path>', 'manifest file, directory (recursive) or - for stdin; repeatable').argParser(collect).default([]);
}

function podCidrOption(): Option {
  return new Option('--pod-cidr <cidr>', 'assign addresses from this CIDR to workloads without one (what-if analysis)');
}

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('strata')
    .description('Tiered zero-trust micro-segmentation: Calico and Kubernetes network policy, explained and enforced.')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .version(STRATA_VERSION, '-V, --version', 'print the version of strata')
    .exitOverride();

  program
    .command('check')
    .description('validate manifests and lint policies; errors as file:line:col: code: message')
    .addOption(fileOption())
    .addOption(new Option('-o, --output <format>', 'text, json or sarif (SARIF 2.1.0, for code scanning)').default('text'))
    .addOption(podCidrOption())
    .option('--strict', 'warnings (shadowed rules, selectors that match nothing, …) fail too: exit 1')
    .option('-v, --verbose', 'also show informational notes (skipped kinds, assumed namespaces)')
    .action(async (opts) => setExit(await (await import('./commands/check.ts')).runCheck(io, opts)));

  program
    .command('explain')
    .description('decide one flow (--from/--to) or a batch (--flows FILE of JSON Lines) and show why')
    .addOption(fileOption())
    .option('--from <src>', 'source: NAMESPACE/NAME, hep:NAME, a Service, a label selector, NAMESPACE/*, an IP address or a CIDR')
    .option('--to <dst>', 'destination: as --from, or a domain name; a Service (name.ns, ClusterIP) is resolved to its backends as kube-proxy does')
    .option('-n, --namespace <ns>', 'namespace of bare NAMEs and of label selectors in --from/--to (default for selectors: every namespace)')
    .option('--port <n>', 'destination port')
    .option('--protocol <p>', 'TCP, UDP, SCTP, ICMP, ICMPv6 or a protocol number', 'TCP')
    .option('--src-port <n>', 'source port (rules with source ports never match an unknown one)')
    .option('--icmp-type <n>', 'ICMP type (default echo request)')
    .option('--icmp-code <n>', 'ICMP code (default 0)')
    .option('--flows <file>', 'JSON Lines of {from,to,port,protocol}; one JSON result per line, same order')
    .option('--verdict-only', 'with --flows -o json: only each flow\'s verdict and deciding step (memoised; no traces)')
    .addOption(podCidrOption())
    .addOption(new Option('-o, --output <format>', 'text or json').default('text'))
    .option('-q, --quiet', 'do not print warnings about the input')
    .addOption(serverTargetOptions()[0]!)
    .addOption(serverTargetOptions()[1]!)
    .action(async (opts) => setExit(await (await import('./commands/explain.ts')).runExplain(io, opts)));

  program
    .command('matrix')
    .description('connectivity matrix between all endpoints, per port')
    .addOption(fileOption())
    .addOption(new Option('--port <port>', 'PORT[/PROTOCOL] or ICMP; repeatable (default: each destination\'s declared ports)').argParser(collect).default([]))
    .addOption(podCidrOption())
    .option('--from <filter>', 'only these sources: NS/NAME, NS/* or a label selector (app=web, or Calico syntax)')
    .option('--to <filter>', 'only these destinations: NS/NAME, NS/* or a label selector')
    .option('--aggregate <level>', 'namespace: one cell per namespace pair (allowed, partly, denied)')
    .option('--all-ports', 'one combined table over every port (. all allowed, ~ some, X none)')
    .option('--pending', 'decide with staged policies enforced (the pending view)')
    .option('--externals', 'also every network set and an outside address as destinations (egress from each source)')
    .addOption(new Option('-o, --output <format>', 'table, md, csv, json (endpoint classes), json-pairs (every pair) or dot').default('table'))
    .option('-q, --quiet', 'do not print warnings about the input')
    .addOption(serverTargetOptions()[0]!)
    .addOption(serverTargetOptions()[1]!)
    .action(async (opts) => setExit(await (await import('./commands/matrix.ts')).runMatrix(io, opts)));

  program
    .command('test')
    .description('run PolicyTest files (strata/v1): every case\'s flow must get its expected decision; exit 1 on a failure')
    .addOption(fileOption())
    .addOption(new Option('--tests <path>', 'PolicyTest file or directory (recursive); repeatable; tests among the -f manifests count too').argParser(collect).default([]))
    .addOption(new Option('-o, --output <format>', 'text, json, junit (JUnit XML) or sarif (SARIF 2.1.0)').default('text'))
    .addOption(podCidrOption())
    .option('-q, --quiet', 'do not print warnings about the input, nor the summary on stderr with -o json/junit/sarif')
    .action(async (opts) => setExit(await (await import('./commands/test.ts')).runTest(io, opts)));

  program
    .command('diff')
    .description('every connectivity change between two states (--before/--after), what enforcing the staged policies changes (--staged), or what -f CHANGED would change on a server')
    .argument('[policies...]', 'with --staged against a server: the staged policies to enforce (KIND/NAME, default all)')
    .option('--before <paths...>', 'manifests of the state before (files, directories or -)')
    .option('--after <paths...>', 'manifests of the state after')
    .addOption(fileOption())
    .option('--staged', 'compare the enforced view of -f with its pending view (staged policies enforced); against a server: preview enforcing the staged policies')
    .option('--group', 'fold endpoints by equivalence class (one line per class pair, with member lists)')
    .option('--no-reattributed', 'leave out flows whose verdict stays but whose deciding rule changes')
    .option('--fail-on-change', 'exit 1 when a flow opens or closes or an endpoint is added or removed')
    .addOption(podCidrOption())
    .addOption(new Option('-o, --output <format>', 'text, json (JSON Lines) or md').default('text'))
    .option('-q, --quiet', 'do not print warnings about the input')
    .addOption(new Option('--delete <ref>', 'against a server: also delete KIND/NAME or KIND/NAMESPACE/NAME; repeatable').argParser(collect).default([]))
    .addOption(new Option('--port <port>', 'against a server: only lines covering PORT[/PROTOCOL]; repeatable').argParser(collect).default([]))
    .option('-n, --namespace <ns>', 'namespace of KIND/NAME arguments (default "default")')
    .option('--flows-since <when>', 'against a server: also replay the flows observed since then (30m, 1h, RFC 3339) from its flow store')
    .option('--flows <file>', 'against a server: also replay the flow records of FILE (JSON Lines, as strata flows -o json prints)')
    .addOption(serverTargetOptions()[0]!)
    .addOption(serverTargetOptions()[1]!)
    .option('--context <name>', 'use this context from the config file')
    .action(async (policies: string[], opts) => setExit(await (await import('./commands/diff.ts')).runDiff(io, opts, policies)));

  program
    .command('selector')
    .description('parse a Calico selector: canonical form and id, or whether it matches labels')
    .argument('[expression]', 'the selector (use -- before it if it starts with -); empty means all()', '')
    .option('--labels <k=v,...>', 'labels to match against')
    .option('--labels-json <json>', 'labels as a JSON object')
    .addOption(new Option('-o, --output <format>', 'text or json').default('text'))
    .action(async (expression: string, opts) => setExit((await import('./commands/selector.ts')).runSelector(io, expression, opts)));

  program
    .command('demo')
    .description('analyse the bundled multi-tenant example: check, explain the workshop flows, matrix')
    .option('-o, --output <format>', 'text or json', 'text')
    .action(async (opts) => setExit(await (await import('./commands/demo.ts')).runDemo(io, opts)));

  program
    .command('threatfeed')
    .description('GlobalThreatFeeds: sync pulls each feed once into its GlobalNetworkSet threatfeed.NAME')
    .command('sync')
    .description('pull every GlobalThreatFeed in the manifests and print the GlobalNetworkSets; exit 1 if any feed failed')
    .addOption(fileOption())
    .addOption(new Option('-o, --output <format>', 'yaml or json').default('yaml'))
    .option('--out <file>', 'write the sets to FILE (atomically) instead of stdout')
    .option('--timeout <ms>', 'deadline per feed pull', '30000')
    .option('--max-bytes <n>', 'largest feed accepted', String(16 * 1024 * 1024))
    .option('-q, --quiet', 'no per-feed summary on stderr')
    .action(async (opts) => setExit(await (await import('./commands/threatfeed.ts')).runThreatFeedSync(io, opts)));

  const lab = program
    .command('lab')
    .description('real enforcement in a closed island of network namespaces (needs root): up, probe, apply, traffic, flows, counters, status, down');
  const labOption = (): Option => new Option('--lab <id>', 'lab id, 1-12 of a-z 0-9 (default: $STRATA_LAB or "default")');
  lab
    .command('up')
    .description('build the island for the manifests and program every node\'s nftables from the engine')
    .addOption(fileOption())
    .addOption(labOption())
    .option('--nodes <n>', 'nodes to spread endpoints over (endpoints naming a node go there)', '2')
    .option('--pod-cidr <cidr>', 'addresses for workloads without one (the engine gets the same)', '10.244.0.0/16')
    .option('--flows <file>', 'JSON Lines of flows to be probed: their ports get listeners, their external addresses an answer')
    .addOption(new Option('--dns <name=answer>', 'a DNS record of the outside host (NAME=IP, or NAME=OTHER.NAME for a CNAME); repeatable; the nodes then run a DNS proxy for the workloads').argParser(collect).default([]))
    .option('--server <url>', 'join the control plane: register the workloads and policies through this API server and start one `strata agent` per node')
    .option('--token <token>', 'bearer token for --server (default: $STRATA_TOKEN or the current context\'s)')
    .option('--no-flow-log', 'do not start the flow collectors (ulogd + conntrack per node) behind `lab flows`')
    .option('-q, --quiet', 'do not print warnings about the input')
    .action(async (opts) => setExit(await (await import('./commands/lab.ts')).runLabUp(io, opts)));
  lab
    .command('probe')
    .description('send real packets and compare the kernel\'s verdict with the engine\'s; exit 1 on any disagreement')
    .addOption(labOption())
    .option('--flows <file>', 'JSON Lines of {from,to,port,protocol[,verdict]} (default: every workload pair on every listening port)')
    .option('--timeout <ms>', 'first-pass timeout per probe (a suspected disagreement is probed again with 2500 ms)')
    .option('--token <token>', 'for a lab built with --server: bearer token to read the server\'s state (default: $STRATA_TOKEN or the current context\'s)')
    .addOption(new Option('-o, --output <format>', 'table or json (JSON Lines)').default('table'))
    .option('-q, --quiet', 'no summary on stderr with -o json')
    .action(async (opts) => setExit(await (await import('./commands/lab.ts')).runLabProbe(io, opts)));
  lab
    .command('apply')
    .description('upsert the manifests\' resources into the running lab (or, with --prune, make them the whole state); same workloads; one incremental nft transaction per node')
    .addOption(fileOption())
    .addOption(labOption())
    .option('--prune', 'the manifests are the whole new state: resources not in them are removed')
    .option('-q, --quiet', 'do not print warnings about the input')
    .action(async (opts) => setExit(await (await import('./commands/lab.ts')).runLabApply(io, opts)));
  lab
    .command('counters')
    .description('packets and bytes per policy rule, summed over nodes')
    .addOption(labOption())
    .option('--all', 'also rules that counted nothing')
    .addOption(new Option('-o, --output <format>', 'table or json (JSON Lines)').default('table'))
    .action(async (opts) => setExit(await (await import('./commands/lab.ts')).runLabCounters(io, opts)));
  lab
    .command('traffic')
    .description('drive real connections (TCP, UDP, ICMP) between workloads and externals at a steady rate, for flows and counters to show')
    .addOption(labOption())
    .option('--rate <N/s>', 'connections started per second (N/s or N/m)', '10/s')
    .option('--duration <d>', 'how long (500ms, 30s, 5m)', '10s')
    .option('--flows <file>', 'JSON Lines of {from,to,port,protocol} to cycle through (default: every workload pair on every listening port)')
    .option('--timeout <d>', 'per-connection timeout (default 300ms)')
    .option('-q, --quiet', 'no notes on stderr')
    .action(async (opts) => setExit(await (await import('./commands/lab-flows.ts')).runLabTraffic(io, opts)));
  lab
    .command('flows')
    .description('flow records of a running lab: the kernel\'s decisions (nflog + conntrack per node) with the engine\'s explanation beside them')
    .addOption(labOption())
    .option('--since <d>', 'only records whose interval ended within this long (30s, 5m, 1h)')
    .option('--aggregate <level>', 'none, src-port, endpoint-group or dst-port (Calico\'s flow log levels)')
    .option('--token <token>', 'an agent lab (lab up --server): bearer token for its server\'s flow API (default $STRATA_TOKEN)')
    .addOption(new Option('-o, --output <format>', 'table or json (JSON Lines of FlowRecord)').default('table'))
    .action(async (opts) => setExit(await (await import('./commands/lab-flows.ts')).runLabFlows(io, opts)));
  lab
    .command('status')
    .description('labs on this machine, their phase, agents and programmed policy')
    .addOption(labOption())
    .addOption(new Option('-o, --output <format>', 'text or json (JSON Lines)').default('text'))
    .action(async (opts) => setExit((await import('./commands/lab.ts')).runLabStatus(io, opts)));
  lab
    .command('down')
    .description('remove exactly what up created (namespaces, links, processes, state), also after a crash')
    .addOption(labOption())
    .action(async (opts) => setExit(await (await import('./commands/lab.ts')).runLabDown(io, opts)));

  program
    .command('console')
    .description('the web console over manifests: a throw-away API server (temporary SQLite) with a printed admin token')
    .addOption(fileOption())
    .option('--listen <host:port>', 'loopback address to listen on (port 0: a free one)', '127.0.0.1:8002')
    .action(async (opts) => setExit(await (await import('./commands/console.ts')).runConsole(io, opts)));

  registerServerCommands(program, io, setExit, fileOption);
  registerFlowCommands(program, io, setExit);

  return program;
}

export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end through here with code 0.
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (e instanceof UsageError) {
      io.err(`strata: ${e.message}`);
      return EXIT.USAGE;
    }
    io.err(`strata: internal error: ${(e as Error).message ?? String(e)} (this is a bug; please report it with the input that caused it)`);
    if (process.env['STRATA_DEBUG'] !== undefined) io.err((e as Error).stack ?? '');
    return EXIT.INTERNAL;
  }
}
