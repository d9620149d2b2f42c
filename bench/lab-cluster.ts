// The clusters of the dataplane benchmark (bench/lab.ts), as manifest documents: a client and a
// server that are real lab workloads, engine-only endpoints spread over 100 namespaces, and
// policy sets of a given size — realistic ones (each endpoint selected by a few policies) and a
// worst case (every policy on the path of every new connection).

/** The server's address (the client is 10.50.0.1). */
export const SERVER = '10.50.0.2';

export function workloads(endpoints: number): string[] {
  const docs = [
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: bench, labels: {team: bench}}`,
    `apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: bench, labels: {app: client}}\nspec: {containers: [{name: c, image: x}]}\nstatus: {podIP: 10.50.0.1}`,
    `apiVersion: v1\nkind: Pod\nmetadata: {name: server, namespace: bench, labels: {app: server}}\nspec: {containers: [{name: c, image: x, ports: [{containerPort: 8080, name: http}]}]}\nstatus: {podIP: ${SERVER}}`,
  ];
  const nsCount = Math.max(1, Math.min(100, Math.floor(endpoints / 10)));
  for (let i = 0; i < nsCount; i++) {
    docs.push(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-${i}, labels: {team: t-${i % 5}, env: ${i % 2 === 0 ? 'prod' : 'dev'}}}`);
  }
  // Pod i lives in ns-(i mod 100) with app-(⌊i/100⌋ mod 10): ten apps per namespace.
  for (let i = 0; i < endpoints; i++) {
    docs.push(
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p-${i}, namespace: ns-${i % nsCount}, labels: {app: app-${Math.floor(i / nsCount) % 10}, team: t-${i % 7}}}\n` +
        `spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080, name: http}, {containerPort: ${9000 + (i % 10)}, name: metrics}]}]}\n` +
        `status: {podIP: 10.60.${i >> 8}.${i & 255}}`,
    );
  }
  return docs;
}

export function guardrails(): string[] {
  return [
    `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100}`,
    `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: blocklist, labels: {feed: block}}\nspec: {nets: [198.51.100.0/24, 203.0.113.0/24]}`,
    `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: security.block}\nspec:\n  tier: security\n  order: 10\n  selector: all()\n  ingress: [{action: Deny, source: {selector: feed == 'block'}}]\n  egress: [{action: Deny, destination: {selector: feed == 'block'}}]`,
    `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: security.pass-rest}\nspec:\n  tier: security\n  order: 1000\n  selector: all()\n  ingress: [{action: Pass}]\n  egress: [{action: Pass}]`,
    `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: server-ingress, namespace: bench}\nspec:\n  podSelector: {matchLabels: {app: server}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: http}]}]`,
    `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: client-egress, namespace: bench}\nspec:\n  podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]\n  egress: [{to: [{podSelector: {matchLabels: {app: server}}}], ports: [{port: 8080}]}, {ports: [{port: 53, protocol: UDP}]}]`,
  ];
}

/** `count` policies over the engine-only endpoints, alternating dialects; `tweak` changes one. */
export function bulk(count: number, endpoints: number, tweak = -1): string[] {
  const nsCount = Math.max(1, Math.min(100, Math.floor(endpoints / 10)));
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    // Policy i selects app-(⌊i/100⌋ mod 10) of ns-(i mod 100): at 5k, each endpoint is selected
    // by about five policies (per direction), as a real namespace's few policies per app.
    const ns = `ns-${i % nsCount}`;
    const app = `app-${Math.floor(i / nsCount) % 10}`;
    const peer = `app-${(Math.floor(i / nsCount) * 7 + 3) % 10}`;
    const port = i === tweak ? 7777 : 9000 + (i % 10);
    if (i % 2 === 0) {
      docs.push(
        `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: pol-${i}, namespace: ${ns}}\nspec:\n  podSelector: {matchLabels: {app: ${app}}}\n` +
          `  policyTypes: [Ingress, Egress]\n` +
          `  ingress:\n  - from: [{podSelector: {matchLabels: {app: ${peer}}}}]\n    ports: [{port: http}, {port: ${port}}]\n` +
          `  - from: [{namespaceSelector: {matchLabels: {team: t-${i % 5}}}}]\n    ports: [{port: metrics}]\n` +
          `  egress:\n  - to: [{podSelector: {matchLabels: {app: ${peer}}}}]\n    ports: [{port: 8080}]`,
      );
    } else {
      docs.push(
        `apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: pol-${i}, namespace: ${ns}}\nspec:\n  order: ${100 + (i % 900)}\n  selector: app == '${app}'\n` +
          `  ingress:\n  - action: Allow\n    protocol: TCP\n    source: {selector: "app in {'${peer}', 'app-${(i + 1) % 10}'}"}\n    destination: {ports: [http, ${port}]}\n` +
          `  - action: Deny\n    source: {nets: [10.${100 + (i % 100)}.0.0/16]}\n` +
          `  egress:\n  - action: Allow\n    destination: {selector: "team == 't-${i % 7}'", namespaceSelector: "env == 'prod'"}`,
      );
    }
  }
  return docs;
}

/** `count` policies that all select the server, none matching the client until the last allows. */
export function worst(count: number): string[] {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    docs.push(
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: on-path-${i}}\nspec:\n  order: ${i}\n  selector: app == 'server'\n  types: [Ingress]\n` +
        `  ingress: [{action: Allow, protocol: TCP, source: {selector: app == '${i === count - 1 ? 'client' : `nobody-${i}`}'}, destination: {ports: [8080]}}]`,
    );
  }
  return docs;
}

