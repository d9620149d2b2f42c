// The parts of a PodSpec (and pod template) Strata reads: container ports (named ports, listeners
// in the lab), the service account (a selector label), the node and host networking. The rest of
// the huge upstream schema passes through unvalidated. Checks follow core/validation
// validateContainerPorts (port names unique within the pod).
import { z } from 'zod';
import { ipString } from './cidr-field.ts';
import { checkDns1123Subdomain, checkPortName } from './names.ts';
import { objectMetaSchema } from './object-meta.ts';
import { kubernetesProtocolSchema } from './protocol.ts';
import { crossCheck, intInRange, report, stringRule } from './schema-kit.ts';

// Loose like the rest of the pod spec: Kubernetes decodes unknown fields away (server-side field
// validation warns), so a typo such as `containerport` leaves a port without a number, which the
// engine ignores with a warning rather than rejecting the whole manifest.
export const containerPortSchema = z.looseObject({
  /** IANA port name (≤ 15 of a-z, 0-9, '-'), unique in the pod; what named ports in policies match. */
  name: z.string().check(stringRule('model/invalid-port', (v) => {
    const p = checkPortName(v);
    return p === undefined ? undefined : `port name "${v}" ${p}`;
  })).optional(),
  /** The port the container listens on, 1–65535. Required by Kubernetes; a port without one is ignored. */
  containerPort: intInRange(1, 65535, 'model/port-out-of-range', 'containerPort').optional(),
  /** TCP (default), UDP or SCTP. */
  protocol: kubernetesProtocolSchema.default('TCP'),
  /** Host port, 1–65535; absent = none. */
  hostPort: intInRange(1, 65535, 'model/port-out-of-range', 'hostPort').optional(),
  /** Host address for hostPort. */
  hostIP: ipString.optional(),
});

export type ContainerPort = z.output<typeof containerPortSchema>;

export const containerSchema = z.looseObject({
  /** Ports the container exposes (informational in Kubernetes; named ports matter to policy). */
  ports: z.array(containerPortSchema).optional(),
});

const serviceAccountField = z.string().check(stringRule('model/invalid-name', (v) => {
  const p = checkDns1123Subdomain(v);
  return p === undefined ? undefined : `service account name "${v}" ${p}`;
}));

const podSpecShape = z.looseObject({
  /** Containers; at least one. */
  containers: z.array(containerSchema).min(1),
  /** Init (and sidecar) containers; their ports count too. */
  initContainers: z.array(containerSchema).optional(),
  /** Service account; default `default` (becomes the projectcalico.org/serviceaccount label). */
  serviceAccountName: serviceAccountField.optional(),
  /** Deprecated alias of serviceAccountName. */
  serviceAccount: serviceAccountField.optional(),
  /** Node the pod is bound to. */
  nodeName: z.string().optional(),
  /** Uses the host's network namespace: then it is not a workload endpoint. Default false. */
  hostNetwork: z.boolean().optional(),
});

export const podSpecSchema = podSpecShape.check(
  crossCheck<z.output<typeof podSpecShape>>((spec, ctx) => {
    const seen = new Map<string, string>();
    for (const list of ['initContainers', 'containers'] as const) {
      (spec[list] ?? []).forEach((c, i) => {
        (c.ports ?? []).forEach((p, j) => {
          if (p.name === undefined) return;
          const first = seen.get(p.name);
          if (first !== undefined) report(ctx, [list, i, 'ports', j, 'name'], `port name "${p.name}" is already used by ${first}`, { code: 'model/duplicate-value' });
          else seen.set(p.name, `${list}[${i}].ports[${j}]`);
        });
      });
    }
  }),
);

export type PodSpec = z.output<typeof podSpecSchema>;

/** A pod template: the labels and spec every pod of an endpoint group gets. */
export const podTemplateSchema = z.looseObject({
  /** Template metadata; its labels are the pods' labels. */
  metadata: objectMetaSchema.optional(),
  /** The pods' spec. Required. */
  spec: podSpecSchema,
});

export type PodTemplate = z.output<typeof podTemplateSchema>;
