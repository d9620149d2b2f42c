import { loadText } from './src/load/index.ts';
import { buildCluster, makeFlow, evaluateFlow } from './src/engine/index.ts';
const PODS = `apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: prod, labels: {app: web}}
spec: {containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: prod, labels: {app: db}}
spec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}
status: {podIP: 10.0.0.2}
---
apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: lock-db}
spec:
  selector: app == 'db'
  types: [Ingress]
  ingress:
    - action: Deny
      protocol: TCP
      destination: {ports: [5432]}
`;
const l = loadText(PODS, 'x.yaml'); console.log(l.diagnostics);
const b = buildCluster(l.resources); console.log(b.diagnostics, b.cluster.policies.map(p => [p.key, p.staged, p.selector.canonical]));
const f = makeFlow(b.cluster, { from: 'prod/web', to: 'prod/db', port: 5432 });
if (f.ok) console.log(JSON.stringify(evaluateFlow(b.cluster, f.value).pending?.decidedBy));
import { diffStaged } from './src/analysis/diff.ts';
import { SpaceEvaluator, buildFlowSpace, enforcedView, pendingView } from './src/analysis/flow-space.ts';
const sp = buildFlowSpace([b.cluster]);
const ev = new SpaceEvaluator(sp, [enforcedView(b.cluster), pendingView(b.cluster)]);
console.log(sp.classes, ev.planId(0, 'ingress', 0), ev.planId(1, 'ingress', 0), ev.planId(0, 'ingress', 1), ev.planId(1, 'ingress', 1));
console.log(diffStaged(b.cluster).changes.length);
