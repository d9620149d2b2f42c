// Wiring of the commands that run or talk to `strata server` (server, apply, get, delete,
// config, audit), kept out of main.ts so that file only gains one call.
import { Command, Option } from 'commander';
import type { Io } from './io.ts';
// Each command's module is imported when it runs, as in main.ts (the server and its datastores
// must not be loaded by every `strata` start).

/** `--server URL` and `--token T` (also STRATA_SERVER / STRATA_TOKEN, or the current context). */
export function serverTargetOptions(): Option[] {
  return [
    new Option('--server <url>', 'API server URL (default: $STRATA_SERVER or the current context)'),
    new Option('--token <token>', 'bearer token (default: $STRATA_TOKEN or the current context\'s)'),
  ];
}

function withTarget(cmd: Command): Command {
  for (const o of serverTargetOptions()) cmd.addOption(o);
  return cmd.addOption(new Option('--context <name>', 'use this context from the config file'));
}

export function registerServerCommands(program: Command, io: Io, setExit: (code: number) => void, fileOption: () => Option): void {
  program
    .command('server')
    .description('run the API server: Kubernetes-shaped REST and watch, token authn, RBAC with tiers, audit')
    .option('--listen <host:port>', 'address to listen on (loopback unless --allow-non-loopback)', '127.0.0.1:8001')
    .option('--store <spec>', 'sqlite:PATH or etcd:URL[,URL...]', 'sqlite:./strata.db')
    .option('--token-auth-file <file>', 'kube-apiserver token file: token,user,uid,"group1,group2"')
    .option('--audit-log <path>', 'append audit events (JSON Lines) to this file')
    .option('--tls-cert-file <pem>', 'serve HTTPS with this certificate (kubectl sends tokens only over TLS)')
    .option('--tls-private-key-file <pem>', 'the certificate\'s private key')
    .option('--allow-non-loopback', 'listen on a non-loopback address without TLS (plain HTTP!)')
    .option('--no-threatfeeds', 'do not pull GlobalThreatFeeds into their GlobalNetworkSets threatfeed.NAME')
    .addOption(new Option('--threatfeed-allow <origin>', 'pull threat feeds only from SCHEME://HOST[:PORT] (HOST may be *.DOMAIN); repeatable; default: any').argParser((v: string, prev: string[] = []) => [...prev, v]))
    .option('--flow-store <path>', 'flow records: a SQLite file, or :memory: (default: beside a sqlite: store, NAME.flows.db; :memory: with etcd)')
    .option('--flow-buckets <spec>', 'flow bucket sizes and how long each is kept: FINE:KEEP,COARSE:KEEP', '15s:1h,5m:30d')
    .action(async (opts) => setExit(await (await import('./commands/server.ts')).runServer(io, opts)));

  withTarget(
    program
      .command('agent')
      .description('the per-node agent: watch the server, program this node\'s nftables (fail-static), report NodeStatus')
      .option('--node <name>', 'the node whose workload endpoints this agent programs (required)')
      .option('--netns <ns>', 'program this network namespace (ip netns exec) instead of the agent\'s own')
      .option('--listen <host:port>', 'loopback address of /healthz, /status and /metrics', '127.0.0.1:0')
      .option('--table <name>', 'nft table (inet family)', 'strata')
      .option('--coalesce-ms <ms>', 'batch changes arriving within this window after the first (default 5)')
      .option('--report-interval <s>', 'NodeStatus heartbeat interval in seconds (default 10)')
      .option('--resync-interval <s>', 'check that the kernel still holds the programmed table every S seconds; 0: never (default 30)')
      .option('--no-conntrack', 'do not remove conntrack entries of flows that become denied')
      .option('--run-dir <dir>', 'where the agent records itself (default /run/strata-agent)')
      .option('--dns-bindings <file>', 'after each programming, write which nft sets the node\'s DNS proxy fills for which domain patterns (docs/dns.md)')
      .option('--no-flow-log', 'do not collect flows (nflog + conntrack in the node\'s namespace) nor ship them to the server')
      .option('--flow-spool <path>', 'the flow shipper\'s on-disk spool (default RUN_DIR/NETNS.flows.db)')
      .option('--flow-aggregate <spec>', 'aggregation per action: allow=LEVEL,deny=LEVEL (none, src-port, endpoint-group, dst-port)', 'allow=endpoint-group,deny=src-port')
      .option('--flow-interval <s>', 'how often the flow collector reports, seconds (default 5)'),
  ).action(async (opts) => setExit(await (await import('./commands/agent.ts')).runAgent(io, opts)));

  withTarget(
    program
      .command('apply')
      .description('create or update the manifests\' resources on the server, all or nothing')
      .addOption(fileOption())
      .addOption(new Option('-o, --output <format>', 'text or json').default('text')),
  ).action(async (opts) => setExit(await (await import('./commands/remote-resources.ts')).runApply(io, opts)));

  withTarget(
    program
      .command('get')
      .description('list or show resources on the server (KIND as kubectl accepts it: pods, gnp, networkpolicies.projectcalico.org, …)')
      .argument('<kind>', 'resource type')
      .argument('[name]', 'object name')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('-A, --all-namespaces', 'across all namespaces')
      .option('-l, --selector <selector>', 'label selector (k=v, k!=v, k in (a,b), k, !k)')
      .option('--field-selector <selector>', 'field selector (metadata.name, metadata.namespace, spec.tier)')
      .addOption(new Option('-o, --output <format>', 'table, wide, json, yaml or name').default('table')),
  ).action(async (kind: string, name: string | undefined, opts) => setExit(await (await import('./commands/remote-resources.ts')).runGet(io, kind, name, opts)));

  withTarget(
    program
      .command('delete')
      .description('delete the manifests\' resources, or KIND NAME...')
      .argument('[kind]', 'resource type')
      .argument('[names...]', 'object names')
      .addOption(fileOption())
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('--ignore-not-found', 'a missing object is not an error'),
  ).action(async (kind: string | undefined, names: string[], opts) => setExit(await (await import('./commands/remote-resources.ts')).runDelete(io, kind, names, opts)));

  withTarget(
    program
      .command('stage')
      .description('write the staged counterpart of each policy (NetworkPolicy → StagedNetworkPolicy, …; stagedAction Set, or Delete with --delete)')
      .addOption(fileOption())
      .option('--delete', 'stage the deletion of each policy (stagedAction Delete)')
      .addOption(new Option('-o, --output <format>', 'text or json').default('text')),
  ).action(async (opts) => setExit(await (await import('./commands/staging.ts')).runStage(io, opts)));

  withTarget(
    program
      .command('enforce')
      .description('turn staged policies into enforced ones: the enforced policy written (or deleted) and the staged one deleted, in one transaction')
      .argument('[policies...]', 'KIND/NAME or KIND/NAMESPACE/NAME (snp, sgnp, sknp, or the enforced kinds)')
      .addOption(fileOption())
      .option('-n, --namespace <ns>', 'namespace of KIND/NAME (default "default")')
      .addOption(new Option('-o, --output <format>', 'text or json').default('text')),
  ).action(async (policies: string[], opts) => setExit(await (await import('./commands/staging.ts')).runEnforce(io, policies, opts)));

  withTarget(
    program
      .command('unstage')
      .description('delete staged policies (the enforced ones are untouched), in one transaction')
      .argument('[policies...]', 'KIND/NAME or KIND/NAMESPACE/NAME')
      .addOption(fileOption())
      .option('-n, --namespace <ns>', 'namespace of KIND/NAME (default "default")')
      .addOption(new Option('-o, --output <format>', 'text or json').default('text')),
  ).action(async (policies: string[], opts) => setExit(await (await import('./commands/staging.ts')).runUnstage(io, policies, opts)));

  withTarget(
    program
      .command('audit')
      .description('audit events from the server: writes and refusals, who, what, tier, decision')
      .option('--since <when>', 'a duration (30s, 15m, 1h, 2d) or an RFC 3339 time')
      .addOption(new Option('-o, --output <format>', 'table or json (JSON Lines)').default('table')),
  ).action(async (opts) => setExit(await (await import('./commands/remote-resources.ts')).runAudit(io, opts)));

  const config = program.command('config').description('contexts: named server URL and token pairs ($XDG_CONFIG_HOME/strata/config)');
  config
    .command('set-context')
    .description('create or change a context')
    .argument('<name>')
    .option('--server <url>', 'API server URL')
    .option('--token <token>', 'bearer token')
    .action(async (name: string, opts) => setExit(await (await import('./commands/config.ts')).runSetContext(io, name, opts)));
  config
    .command('use-context')
    .description('make a context the current one')
    .argument('<name>')
    .action(async (name: string) => setExit(await (await import('./commands/config.ts')).runUseContext(io, name)));
  config.command('current-context').description('print the current context').action(async () => setExit(await (await import('./commands/config.ts')).runCurrentContext(io)));
  config.command('get-contexts').description('list the contexts').action(async () => setExit(await (await import('./commands/config.ts')).runGetContexts(io)));
}
