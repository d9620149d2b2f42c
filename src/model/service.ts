// Kubernetes `Service` (v1): its selector and ports are what Calico `services` rule matches read.
// Checks follow core/validation validateServicePort (names required with several ports, unique).
import { z } from 'zod';
import { checkDns1035Label, checkPortName } from './names.ts';
import { labelMapSchema } from './object-meta.ts';
import { checkKubernetesPort } from './port.ts';
import { kubernetesProtocolSchema } from './protocol.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, intInRange, report, strict, stringRule, tag } from './schema-kit.ts';
import type { CheckContext } from './schema-kit.ts';

const targetPort = tag(
  z.union([z.number(), z.string()]).check(
    z.superRefine((v, ctx) => {
      const r = checkKubernetesPort(v);
      const d = r.ok ? undefined : r.diagnostics[0];
      if (d !== undefined) report(ctx as CheckContext, [], d.message, { code: d.code, help: d.help });
    }),
  ),
  { expected: 'a port number or a container port name', code: 'model/invalid-port' },
);

export const servicePortSchema = strict({
  /** Port name (IANA syntax); required when the Service has more than one port; unique. */
  name: z.string().check(stringRule('model/invalid-port', (v) => {
    const p = checkPortName(v);
    return p === undefined ? undefined : `port name "${v}" ${p}`;
  })).optional(),
  /** TCP (default), UDP or SCTP. */
  protocol: kubernetesProtocolSchema.default('TCP'),
  /** Application protocol hint; ignored. */
  appProtocol: z.string().optional(),
  /** The Service's port, 1–65535. Required. */
  port: intInRange(1, 65535, 'model/port-out-of-range', 'port'),
  /** Container port (number or name) traffic goes to; default = port. */
  targetPort: targetPort.optional(),
  /** Node port; ignored. */
  nodePort: z.number().optional(),
});

const serviceSpecShape = z.looseObject({
  /** Pods backing the Service (equality on labels); absent = endpoints managed elsewhere. */
  selector: labelMapSchema.optional(),
  /** The Service's ports. */
  ports: z.array(servicePortSchema).optional(),
  /** The virtual IP kube-proxy answers on; `None` for a headless Service (DNS gives pod IPs). */
  clusterIP: z.string().optional(),
  /** The virtual IPs, one per family (dual stack); the first equals clusterIP. */
  clusterIPs: z.array(z.string()).optional(),
  /** ClusterIP (default), NodePort, LoadBalancer or ExternalName (a DNS alias: no proxying). */
  type: z.string().optional(),
});

export const serviceSpecSchema = serviceSpecShape.check(
  crossCheck<z.output<typeof serviceSpecShape>>((spec, ctx) => {
    const ports = spec.ports ?? [];
    const names = new Set<string>();
    const keys = new Set<string>();
    ports.forEach((p, i) => {
      if (ports.length > 1 && (p.name ?? '') === '') report(ctx, ['ports', i], 'every port needs a name when a Service has more than one', { code: 'model/missing-field' });
      if (p.name !== undefined && p.name !== '') {
        if (names.has(p.name)) report(ctx, ['ports', i, 'name'], `port name "${p.name}" is used twice`, { code: 'model/duplicate-value' });
        names.add(p.name);
      }
      const key = `${p.port}/${p.protocol}`;
      if (keys.has(key)) report(ctx, ['ports', i], `port ${key} is listed twice`, { code: 'model/duplicate-value' });
      keys.add(key);
    });
  }),
);

export const serviceSchema = resourceSchema(
  {
    /** Selector and ports (the rest passes through). */
    spec: serviceSpecSchema.optional(),
    /** Load-balancer status; ignored. */
    status: z.looseObject({}).optional(),
  },
  checkDns1035Label,
);

export type Service = z.output<typeof serviceSchema>;
