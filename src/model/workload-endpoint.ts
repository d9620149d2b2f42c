// Calico `WorkloadEndpoint`: a workload's interface as Calico stores it (normally written by the
// CNI plugin; accepted here so that calicoctl exports can be analysed). Upstream:
// libcalico-go/lib/apis/internalapi/workloadendpoint.go, validator.go validateWorkloadEndpointSpec.
import { z } from 'zod';
import { parseCidrText } from '../net/index.ts';
import { cidrString, ipString } from './cidr-field.ts';
import { workloadEndpointPortSchema } from './endpoint-port.ts';
import { checkInterfaceName } from './host-endpoint.ts';
import { checkCalicoName } from './names.ts';
import { resourceSchema } from './resource-schema.ts';
import { crossCheck, report, strict, stringRule } from './schema-kit.ts';

const nameField = z.string().check(stringRule('model/invalid-name', (v) => (v === '' ? undefined : checkCalicoName(v))));
const int64 = z.number().optional();

const workloadEndpointSpecShape = strict({
  /** Orchestrator, e.g. `k8s` (becomes the projectcalico.org/orchestrator label). */
  orchestrator: nameField.optional(),
  /** Workload name. */
  workload: nameField.optional(),
  /** Node the workload runs on. */
  node: nameField.optional(),
  /** Container id (letters, digits, '-'). */
  containerID: z.string().optional(),
  /** Pod name (Kubernetes). */
  pod: nameField.optional(),
  /** Endpoint name within the workload. */
  endpoint: nameField.optional(),
  /** Kubernetes service account (becomes projectcalico.org/serviceaccount). */
  serviceAccountName: nameField.optional(),
  /** The endpoint's addresses: single-address CIDRs (/32, /128) or bare addresses. */
  ipNetworks: z.array(cidrString('lenient')).optional(),
  /** 1:1 NATs; each internalIP within ipNetworks. */
  ipNATs: z.array(strict({ /** Address on the endpoint. */ internalIP: ipString, /** External address. */ externalIP: ipString })).optional(),
  /** IPv4 gateway. */
  ipv4Gateway: ipString.optional(),
  /** IPv6 gateway. */
  ipv6Gateway: ipString.optional(),
  /** Profiles applied after policy, in order (kns.<namespace>, ksa.<namespace>.<sa>). */
  profiles: z.array(nameField).optional(),
  /** Host-side interface name (e.g. cali12345). Required. */
  interfaceName: z.string().check(stringRule('model/invalid-value', checkInterfaceName)),
  /** MAC address. */
  mac: z.string().optional(),
  /** Named ports rules can refer to. */
  ports: z.array(workloadEndpointPortSchema).optional(),
  /** CIDRs the endpoint may send from besides its own. */
  allowSpoofedSourcePrefixes: z.array(cidrString('lenient')).optional(),
  /** Bandwidth and connection limits; not interpreted. */
  qosControls: strict({
    /** Ingress bandwidth limit, bits/s. */
    ingressBandwidth: int64,
    /** Ingress burst, bits. */
    ingressBurst: int64,
    /** Ingress peak rate, bits/s. */
    ingressPeakrate: int64,
    /** Ingress minimum burst, bytes. */
    ingressMinburst: int64,
    /** Egress bandwidth limit, bits/s. */
    egressBandwidth: int64,
    /** Egress burst, bits. */
    egressBurst: int64,
    /** Egress peak rate, bits/s. */
    egressPeakrate: int64,
    /** Egress minimum burst, bytes. */
    egressMinburst: int64,
    /** Ingress packet rate limit, packets/s. */
    ingressPacketRate: int64,
    /** Ingress packet burst. */
    ingressPacketBurst: int64,
    /** Egress packet rate limit, packets/s. */
    egressPacketRate: int64,
    /** Egress packet burst. */
    egressPacketBurst: int64,
    /** Ingress connection limit. */
    ingressMaxConnections: int64,
    /** Egress connection limit. */
    egressMaxConnections: int64,
    /** DSCP mark for egress traffic (number or name). */
    dscp: z.union([z.number(), z.string()]).optional(),
  }).optional(),
});

export const workloadEndpointSpecSchema = workloadEndpointSpecShape.check(
  crossCheck<z.output<typeof workloadEndpointSpecShape>>((s, ctx) => {
    (s.ipNetworks ?? []).forEach((text, i) => {
      const r = parseCidrText(text);
      if (r.ok && r.value.cidr.prefix !== (r.value.address.family === 4 ? 32 : 128)) {
        report(ctx, ['ipNetworks', i], `"${text}" contains more than one address: a workload endpoint has single addresses (/32 or /128)`, { code: 'model/invalid-cidr' });
      }
    });
  }),
);

export const workloadEndpointSchema = resourceSchema(
  {
    /** The endpoint. Required. */
    spec: workloadEndpointSpecSchema,
  },
  checkCalicoName,
);

export type WorkloadEndpoint = z.output<typeof workloadEndpointSchema>;
