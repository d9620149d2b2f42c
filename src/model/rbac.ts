// Kubernetes RBAC (rbac.authorization.k8s.io/v1): Role, ClusterRole, RoleBinding,
// ClusterRoleBinding. The API server stores and evaluates them; the engine does not read them,
// so they are not in KINDS (the loader skips them with a note, as kubectl-exported files carry
// them). Upstream: k8s.io/api/rbac/v1/types.go and pkg/apis/rbac/validation.
import { z } from 'zod';
import { resourceSchema } from './resource-schema.ts';
import { strict } from './schema-kit.ts';

/** RBAC objects are named by path segments: anything but `/`, `%`, `.` and `..`. */
function checkPathSegmentName(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (name === '.' || name === '..') return 'may not be "." or ".."';
  if (/[/%]/.test(name)) return 'may not contain "/" or "%"';
  return undefined;
}

export const policyRuleSchema = strict({
  verbs: z.array(z.string()).min(1),
  apiGroups: z.array(z.string()).optional(),
  resources: z.array(z.string()).optional(),
  resourceNames: z.array(z.string()).optional(),
  nonResourceURLs: z.array(z.string()).optional(),
});
export type PolicyRule = z.output<typeof policyRuleSchema>;

const rulesShape = {
  rules: z.array(policyRuleSchema).optional(),
};

export const roleSchema = resourceSchema(rulesShape, checkPathSegmentName);
export const clusterRoleSchema = resourceSchema(
  {
    ...rulesShape,
    /** Aggregation is not evaluated by Strata; kept so exported ClusterRoles load. */
    aggregationRule: z.looseObject({}).optional(),
  },
  checkPathSegmentName,
);

export const subjectSchema = strict({
  kind: z.enum(['User', 'Group', 'ServiceAccount']),
  name: z.string().min(1),
  namespace: z.string().optional(),
  apiGroup: z.string().optional(),
});
export type Subject = z.output<typeof subjectSchema>;

export const roleRefSchema = strict({
  apiGroup: z.string(),
  kind: z.enum(['Role', 'ClusterRole']),
  name: z.string().min(1),
});

const bindingShape = {
  subjects: z.array(subjectSchema).optional(),
  roleRef: roleRefSchema,
};

export const roleBindingSchema = resourceSchema(bindingShape, checkPathSegmentName);
export const clusterRoleBindingSchema = resourceSchema(bindingShape, checkPathSegmentName);

export type Role = z.output<typeof roleSchema>;
export type ClusterRole = z.output<typeof clusterRoleSchema>;
export type RoleBinding = z.output<typeof roleBindingSchema>;
export type ClusterRoleBinding = z.output<typeof clusterRoleBindingSchema>;

export const RBAC_SCHEMAS = {
  Role: roleSchema,
  ClusterRole: clusterRoleSchema,
  RoleBinding: roleBindingSchema,
  ClusterRoleBinding: clusterRoleBindingSchema,
} as const;
