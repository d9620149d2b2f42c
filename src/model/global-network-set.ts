// Calico `GlobalNetworkSet`: a cluster-wide labelled set of CIDRs (matched by global policies and
// by `namespaceSelector: global()`). Upstream: api/.../v3/globalnetworkset.go.
import type { z } from 'zod';
import { checkCalicoName } from './names.ts';
import { networkSetSpecSchema, reservedLabelCheck } from './network-set.ts';
import { resourceSchema } from './resource-schema.ts';

export const globalNetworkSetSchema = resourceSchema(
  {
    /** The networks. Required. */
    spec: networkSetSpecSchema,
  },
  checkCalicoName,
).check(reservedLabelCheck());

export type GlobalNetworkSet = z.output<typeof globalNetworkSetSchema>;
