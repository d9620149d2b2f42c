// Kubernetes `Status` bodies: the shape kube-apiserver returns for every error (and for
// successful deletes), with the reason names of k8s.io/apimachinery's StatusReason.
import type { Diagnostic } from '../diagnostics/index.ts';

export interface StatusCause {
  readonly reason: string;
  readonly message: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly causes?: readonly StatusCause[];
}

export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Success' | 'Failure';
  readonly message: string;
  readonly reason: string;
  readonly details?: StatusDetails;
  readonly code: number;
}

/** An error answer: HTTP code and the Status body that goes with it. */
export class ApiError extends Error {
  readonly code: number;
  readonly status: Status;
  constructor(status: Status) {
    super(status.message);
    this.name = 'ApiError';
    this.code = status.code;
    this.status = status;
  }
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

export function status(code: number, message: string, details?: StatusDetails, reason?: string): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: code < 400 ? 'Success' : 'Failure',
    message,
    reason: reason ?? (code < 400 ? '' : (REASONS[code] ?? 'Unknown')),
    ...(details === undefined ? {} : { details }),
    code,
  };
}

export function fail(code: number, message: string, details?: StatusDetails, reason?: string): ApiError {
  return new ApiError(status(code, message, details, reason));
}

/** `pods "web" not found`, as kube-apiserver words it. */
export function notFound(qualified: string, name: string, group: string, kind: string): ApiError {
  return fail(404, `${qualified} "${name}" not found`, { name, group, kind: kind.toLowerCase() });
}

export function alreadyExists(qualified: string, name: string, group: string, kind: string): ApiError {
  return fail(409, `${qualified} "${name}" already exists`, { name, group, kind: kind.toLowerCase() }, 'AlreadyExists');
}

export function conflict(qualified: string, name: string, group: string, kind: string): ApiError {
  return fail(
    409,
    `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group, kind: kind.toLowerCase() },
  );
}

/** Diagnostics → the causes of a 422, one per error, with the field path when there is one. */
export function causesOf(diagnostics: readonly Diagnostic[]): StatusCause[] {
  return diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => ({ reason: d.code, message: d.help === undefined ? d.message : `${d.message} (${d.help})`, ...(d.path === undefined ? {} : { field: d.path }) }));
}

export function invalid(kind: string, name: string, group: string, diagnostics: readonly Diagnostic[]): ApiError {
  const causes = causesOf(diagnostics);
  const summary = causes.map((c) => (c.field === undefined ? c.message : `${c.field}: ${c.message}`)).join(', ');
  return fail(422, `${kind} "${name}" is invalid: ${summary}`, { name, group, kind, causes });
}
