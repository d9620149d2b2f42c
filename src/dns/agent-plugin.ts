// The agent's side of DNS policy: after every programming, the ruleset the kernel now holds
// tells the node's DNS proxy which set stands for which domain patterns (a bindings file, written
// atomically). The proxy runs beside the agent inside the node's namespace (`node src/dns/main.ts
// proxy.json`, see README); the agent never resolves anything itself.
import type { AgentContext, AgentPlugin } from '../agent/plugins.ts';
import { renderDomainBindings } from '../dataplane/index.ts';
import { writeBindingsFile } from './config.ts';

export function createDnsBindingsPlugin(path: string, log: (line: string) => void = () => undefined): AgentPlugin {
  let ctx: AgentContext | undefined;
  let last = '';
  return {
    name: 'dns-bindings',
    onStart(c) {
      ctx = c;
    },
    onProgrammed(update) {
      if (ctx === undefined || update.outcome.kind === 'failed') return;
      const rs = ctx.ruleset();
      if (rs === undefined) return;
      const file = { table: ctx.table, bindings: renderDomainBindings(rs).map((b) => ({ set: b.set, family: b.family, patterns: [...b.patterns] })) };
      const text = JSON.stringify(file);
      if (text === last) return; // unchanged bindings: leave the file (and the proxy's cache) alone
      try {
        writeBindingsFile(path, file);
        last = text;
      } catch (e) {
        log(`dns bindings: cannot write ${path}: ${(e as Error).message}`);
      }
    },
  };
}
