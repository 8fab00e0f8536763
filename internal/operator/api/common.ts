// Pieces shared by the msrp.dev CRDs: API coordinates, metav1.Condition, references,
// Kubernetes quantities and opaque core/v1 shapes. Everything here is a TypeBox schema,
// so one definition yields the TypeScript type (Static<>), the runtime check and,
// through structural.ts, the CRD's OpenAPI v3 schema.
import { Type } from 'typebox';
import type { Static, TSchema, TSchemaOptions, TUnsafe } from 'typebox';

export const GROUP = 'msrp.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A CEL rule attached to a schema node (apiextensions.k8s.io/v1 ValidationRule). */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** JSONPath (relative to the node) the error is reported against. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  optionalOldSelf?: boolean;
}

/** TypeBox options carrying CEL rules: `{ ...cel({ rule, message }) }`. */
export function cel(...rules: ValidationRule[]): { 'x-kubernetes-validations': ValidationRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** A string restricted to a set of values; rendered as `type: string, enum: [...]`. */
export function StringEnum<const V extends readonly string[]>(values: V, options: TSchemaOptions = {}): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ ...options, type: 'string', enum: [...values] });
}

/** TCP/UDP port number. */
export function Port(options: TSchemaOptions = {}) {
  return Type.Integer({ minimum: 1, maximum: 65535, ...options });
}

/** A DNS-1123 subdomain such as a Secret, Issuer or object name (at most 253 characters). */
export function ObjectName(options: TSchemaOptions = {}) {
  return Type.String({
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
    ...options,
  });
}

/** A fully qualified domain name (lower case, no trailing dot). */
export function Hostname(options: TSchemaOptions = {}) {
  return Type.String({
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$',
    ...options,
  });
}

/** Kubernetes resource.Quantity syntax (the pattern controller-gen emits, unsigned). */
export const QUANTITY_PATTERN =
  '^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

/**
 * An integer or a string (IntOrString). Rendered with `x-kubernetes-int-or-string: true`,
 * the only place where a structural schema may leave `type` out.
 */
export function IntOrString(options: TSchemaOptions = {}): TUnsafe<number | string> {
  return Type.Unsafe<number | string>({
    ...options,
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  });
}

/** A non-negative Kubernetes quantity (`10Mi`, `1.5G`, or a plain integer). */
export function Quantity(options: TSchemaOptions = {}): TUnsafe<number | string> {
  return IntOrString({ pattern: QUANTITY_PATTERN, ...options });
}

/** A percentage (`"25%"`) or an absolute count, as PodDisruptionBudget takes them. */
export function IntOrPercent(options: TSchemaOptions = {}): TUnsafe<number | string> {
  return IntOrString({
    ...options,
    ...cel({
      rule: "type(self) == int ? self >= 0 : self.matches('^[0-9]+%$')",
      message: 'must be a non-negative integer or a percentage such as "25%"',
    }),
  });
}

/**
 * An object whose contents the API server keeps as given (for the big core/v1 types such as
 * Affinity or Toleration, which the Pod API validates when the operator renders the pod).
 */
export function OpaqueObject<T = Record<string, unknown>>(options: TSchemaOptions = {}): TUnsafe<T> {
  return Type.Unsafe<T>({ ...options, type: 'object', 'x-kubernetes-preserve-unknown-fields': true });
}

/** map[string]string, e.g. labels, annotations, nodeSelector. */
export function StringMap(options: TSchemaOptions = {}) {
  return Type.Record(Type.String(), Type.String({ maxLength: 4096 }), { maxProperties: 64, ...options });
}

/** A reference to an object of a known kind in the same namespace. */
export const LocalObjectReference = Type.Object({
  name: ObjectName({ description: 'Name of the referenced object in the same namespace.' }),
});
export type LocalObjectReference = Static<typeof LocalObjectReference>;

/** A key of a Secret in the same namespace. */
export function SecretKeySelector(defaultKey: string, description: string) {
  return Type.Object(
    {
      name: ObjectName({ description: 'Name of the Secret in the same namespace.' }),
      key: Type.String({
        minLength: 1,
        maxLength: 253,
        pattern: '^[-._a-zA-Z0-9]+$',
        default: defaultKey,
        description: 'Key in the Secret data.',
      }),
    },
    { description },
  );
}

/** metav1.Condition, the standard status condition shape. */
export const Condition = Type.Object({
  type: Type.String({
    minLength: 1,
    maxLength: 316,
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    description: 'Type of condition in CamelCase, e.g. Ready, Progressing, Degraded.',
  }),
  status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'Status of the condition.' }),
  observedGeneration: Type.Optional(
    Type.Integer({ minimum: 0, description: 'The .metadata.generation the condition was set from.' }),
  ),
  lastTransitionTime: Type.String({
    format: 'date-time',
    description: 'Last time the condition changed from one status to another.',
  }),
  reason: Type.String({
    minLength: 1,
    maxLength: 1024,
    pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    description: 'Machine-readable CamelCase reason for the last transition.',
  }),
  message: Type.String({ maxLength: 32768, description: 'Human-readable details about the transition.' }),
});
export type Condition = Static<typeof Condition>;

/**
 * The condition types the operator writes: Ready, Progressing, Degraded on both kinds; on an
 * MsrpRelay also what a person checks first (docs/relay.md "Status"): the certificate, the
 * load-balancer address and the database.
 */
export const CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded', 'CertificateReady', 'LoadBalancerReady', 'DatabaseReady'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** `status.conditions`: a list map keyed by type, as server-side apply expects. */
export function Conditions() {
  return Type.Array(Condition, {
    maxItems: 16,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
    description: 'Current state of the object: Ready, Progressing and Degraded (metav1.Condition).',
  });
}

/** `status.observedGeneration`. */
export function ObservedGeneration() {
  return Type.Integer({ minimum: 0, description: 'The .metadata.generation the status was computed from.' });
}

/** Minimal object metadata for typing objects read from the API (the CRD schema leaves metadata to the server). */
export const ObjectMeta = Type.Object({
  name: Type.String(),
  namespace: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  resourceVersion: Type.Optional(Type.String()),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  finalizers: Type.Optional(Type.Array(Type.String())),
  deletionTimestamp: Type.Optional(Type.String()),
  creationTimestamp: Type.Optional(Type.String()),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

/** Describes one kind for crd.ts: names, schemas and the columns `kubectl get` prints. */
export interface KindDefinition {
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  description: string;
  spec: TSchema;
  status: TSchema;
  printerColumns: PrinterColumn[];
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

/** The Ready condition's status, for printer columns. */
export const READY_COLUMN: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  description: 'Status of the Ready condition.',
};

export const AGE_COLUMN: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
