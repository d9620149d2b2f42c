// Discovery documents (/api, /apis, /api/v1, /apis/{group}/{version}) and an OpenAPI v2
// document, generated from the resource table so they never disagree with the routes.
import { apiVersionOf, groupVersions, RESOURCES } from './resources.ts';
import type { ResourceInfo } from './resources.ts';

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

export function coreVersions(): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
}

export function apiGroupList(): object {
  const groups = new Map<string, string[]>();
  for (const r of RESOURCES) {
    if (r.group === '') continue;
    const vs = groups.get(r.group) ?? [];
    if (!vs.includes(r.version)) vs.push(r.version);
    groups.set(r.group, vs);
  }
  groups.set('strata', ['v1']);
  groups.set('authorization.k8s.io', ['v1']);
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => ({
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]!}`, version: versions[0]! },
    })),
  };
}

function apiResource(r: ResourceInfo): object[] {
  const main = { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: VERBS, ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}) };
  return [main, ...r.subresources.map((s) => ({ name: `${r.plural}/${s}`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] }))];
}

const STRATA_RESOURCES = [
  { name: 'apply', singularName: '', namespaced: false, kind: 'ApplyResult', verbs: ['create'] },
  { name: 'explain', singularName: '', namespaced: false, kind: 'Explanation', verbs: ['create'] },
  { name: 'matrix', singularName: '', namespaced: false, kind: 'Matrix', verbs: ['create'] },
  { name: 'auditevents', singularName: 'auditevent', namespaced: false, kind: 'Event', verbs: ['list'] },
  // An agent's view of the state: GET /apis/strata/v1/nodeviews/NODE (list; ?watch=true).
  { name: 'nodeviews', singularName: 'nodeview', namespaced: false, kind: 'NodeView', verbs: ['get', 'watch'] },
  { name: 'flows', singularName: 'flow', namespaced: false, kind: 'FlowRecord', verbs: ['create', 'list', 'watch'] },
  { name: 'flows/stats', singularName: '', namespaced: false, kind: 'FlowStats', verbs: ['get'] },
  { name: 'flows/status', singularName: '', namespaced: false, kind: 'FlowStoreStatus', verbs: ['get'] },
];

/** The APIResourceList of one group/version, or undefined when the server does not serve it. */
export function apiResourceList(groupVersion: string): object | undefined {
  if (groupVersion === 'strata/v1') {
    const own = (groupVersions().get(groupVersion) ?? []).flatMap(apiResource);
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: [...STRATA_RESOURCES, ...own] };
  }
  if (groupVersion === 'authorization.k8s.io/v1') {
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: [{ name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] }] };
  }
  const rs = groupVersions().get(groupVersion);
  if (rs === undefined) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: rs.flatMap(apiResource) };
}

function basePath(r: ResourceInfo, namespaced: boolean): string {
  const root = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  return namespaced ? `${root}/namespaces/{namespace}/${r.plural}` : `${root}/${r.plural}`;
}

/** A Swagger 2.0 document listing every path and operation, with one loose schema per kind. */
export function openApiV2(): object {
  const paths: Record<string, object> = {};
  const definitions: Record<string, object> = {};
  for (const r of RESOURCES) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const ref = { $ref: `#/definitions/${defName(r)}` };
    definitions[defName(r)] = {
      type: 'object',
      description: `${r.kind} (${apiVersionOf(r)}), validated by Strata's model as \`strata check\` does`,
      required: ['apiVersion', 'kind', 'metadata'],
      properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: { type: 'object' }, status: { type: 'object' } },
      'x-kubernetes-group-version-kind': [gvk],
    };
    const op = (verb: string, action: string): object => ({ operationId: `${verb}${r.kind}`, 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, responses: { '200': { description: 'OK', schema: ref } } });
    const collection = basePath(r, r.namespaced);
    paths[collection] = { get: op('list', 'list'), post: op('create', 'post') };
    paths[`${collection}/{name}`] = { get: op('read', 'get'), put: op('replace', 'put'), patch: op('patch', 'patch'), delete: op('delete', 'delete') };
    for (const s of r.subresources) paths[`${collection}/{name}/${s}`] = { get: op(`read${s}`, 'get'), put: op(`replace${s}`, 'put'), patch: op(`patch${s}`, 'patch') };
    if (r.namespaced) paths[basePath(r, false)] = { get: op('listAllNamespaces', 'list') };
  }
  return { swagger: '2.0', info: { title: 'Strata', version: 'v1' }, paths, definitions };
}

function defName(r: ResourceInfo): string {
  const g = r.group === '' ? 'core' : r.group.split('.').reverse().join('.');
  return `${g}.${r.version}.${r.kind}`;
}

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** `/openapi/v3`: the index of per-group-version documents, as kube-apiserver serves it. */
export function openApiV3Index(): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const r of RESOURCES) {
    const p = gvPath(r.group, r.version);
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}` };
  }
  return { paths };
}

/** `/openapi/v3/apis/G/V`: one OpenAPI 3 document with a loose schema per kind (kubectl reads it to validate). */
export function openApiV3(groupVersionPath: string): object | undefined {
  const rs = RESOURCES.filter((r) => gvPath(r.group, r.version) === groupVersionPath);
  if (rs.length === 0) return undefined;
  const schemas: Record<string, object> = {};
  const paths: Record<string, object> = {};
  for (const r of rs) {
    schemas[defName(r)] = {
      type: 'object',
      description: `${r.kind}: validated by the server as \`strata check\` validates it`,
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      },
      'x-kubernetes-preserve-unknown-fields': true,
      'x-kubernetes-group-version-kind': [{ group: r.group, version: r.version, kind: r.kind }],
    };
    const ref = { $ref: `#/components/schemas/${defName(r)}` };
    const ok = { responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } } };
    paths[basePath(r, r.namespaced)] = { get: ok, post: ok };
    paths[`${basePath(r, r.namespaced)}/{name}`] = { get: ok, put: ok, patch: ok, delete: ok };
  }
  return { openapi: '3.0.0', info: { title: 'Strata', version: 'v1' }, paths, components: { schemas } };
}
