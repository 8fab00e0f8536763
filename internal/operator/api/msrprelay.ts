// MsrpRelay (msrp.dev/v1alpha1): one MSRP relay (RFC 4976) and chat focus (RFC 7701)
// deployment, rendered by the operator into a StatefulSet, Services, a ConfigMap and friends.
import { Type } from 'typebox';
import type { Static } from 'typebox';
import {
  AGE_COLUMN,
  cel,
  Conditions,
  Hostname,
  IntOrPercent,
  ObjectMeta,
  ObjectName,
  ObservedGeneration,
  OpaqueObject,
  Port,
  Quantity,
  READY_COLUMN,
  SecretKeySelector,
  StringEnum,
  StringMap,
} from './common.ts';
import type { KindDefinition } from './common.ts';

/** Chart appVersion; the default relay image tag follows it. */
export const APP_VERSION = '0.1.0';
export const DEFAULT_IMAGE_REPOSITORY = 'ghcr.io/msrp-k8s/msrpd';

const Image = Type.Object(
  {
    repository: Type.Optional(Type.String({
      minLength: 1, maxLength: 512,
      description: 'Default: the operator\'s --relay-image (the chart sets the msrpd image of the operator\'s own version), so upgrading the operator moves the relays that do not pin an image.',
    })),
    tag: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\w][\\w.@:-]*$', description: 'Default: the tag of the operator\'s --relay-image.' })),
    pullPolicy: StringEnum(['Always', 'IfNotPresent', 'Never'] as const, { default: 'IfNotPresent' }),
  },
  {
    default: {},
    description:
      'Container image of the relay. The engine (cmd/msrpd.ts) and the admin sidecar (cmd/admin.ts) both run from it.',
  },
);

const Ports = Type.Object(
  {
    msrpTls: Port({ default: 2855, description: 'MSRP over TLS (msrps: URIs, RFC 4976 default 2855).' }),
    msrpTcp: Type.Optional(Port({ description: 'MSRP over plain TCP; disabled when unset.' })),
    msrpWss: Type.Optional(Port({
      description: 'MSRP over secure WebSocket (RFC 7977, subprotocol msrp): browsers connect to wss://<publicHost>:<port>/. Same certificate as msrpTls; disabled when unset. See spec.websocket for the allowed page origins.',
    })),
    sipUdp: Type.Optional(Port({
      description: 'SIP over UDP for room joins; off (not listened on, not published) when unset. UDP sources can be spoofed, so a public UDP port can be used to reflect traffic at a third party; the focus bounds that (docs/security.md "UDP amplification"), but TCP and TLS need no such care. Set it (e.g. 5060) for clients that only speak UDP.',
    })),
    sipTcp: Port({ default: 5060, description: 'SIP over TCP.' }),
    sipTls: Port({ default: 5061, description: 'SIP over TLS.' }),
    sipWss: Type.Optional(Port({
      description: 'SIP over secure WebSocket (RFC 7118, subprotocol sip) to the chat focus: browsers join rooms at wss://<publicHost>:<port>/ (their MSRP goes through ports.msrpWss). Same certificate as sipTls; only with chat enabled; disabled when unset. spec.websocket.origins applies too.',
    })),
    msrpChat: Port({
      default: 2857,
      description: 'The chat rooms\' MSRP switch over TLS: participants connect here (the a=path of the room\'s SDP answer, RFC 7701). Published only with spec.chat.enabled.',
    }),
  },
  {
    default: {},
    description: 'Ports the relay listens on and publishes through its Service.',
    ...cel(
      {
        // UDP and TCP are separate port spaces, so only the TCP listeners must differ.
        rule:
          'self.msrpTls != self.sipTcp && self.msrpTls != self.sipTls && self.sipTcp != self.sipTls && ' +
          '(!has(self.msrpTcp) || (self.msrpTcp != self.msrpTls && self.msrpTcp != self.sipTcp && self.msrpTcp != self.sipTls))',
        message: 'ports msrpTls, msrpTcp, sipTcp and sipTls must be distinct (they are all TCP listeners)',
      },
      {
        rule: '![self.msrpTls, self.sipTcp, self.sipTls].exists(p, p == self.msrpChat) && (!has(self.msrpTcp) || self.msrpTcp != self.msrpChat)',
        message: 'ports.msrpChat must differ from the other TCP ports (msrpTls, msrpTcp, sipTcp, sipTls)',
        fieldPath: '.msrpChat',
      },
      {
        rule:
          '!has(self.msrpWss) || (![self.msrpTls, self.sipTcp, self.sipTls, self.msrpChat].exists(p, p == self.msrpWss) && ' +
          '(!has(self.msrpTcp) || self.msrpTcp != self.msrpWss) && !(self.msrpWss in [2858, 2859, 8080, 9090, 9091]))',
        message: 'ports.msrpWss must differ from the other TCP ports (msrpTls, msrpTcp, sipTcp, sipTls, msrpChat) and from 2858, 2859, 8080, 9090 and 9091 (taken inside the relay pod)',
        fieldPath: '.msrpWss',
      },
      {
        rule:
          '!has(self.sipWss) || (![self.msrpTls, self.sipTcp, self.sipTls, self.msrpChat].exists(p, p == self.sipWss) && ' +
          '(!has(self.msrpTcp) || self.msrpTcp != self.sipWss) && (!has(self.msrpWss) || self.msrpWss != self.sipWss) && ' +
          '!(self.sipWss in [2858, 2859, 8080, 9090, 9091]))',
        message: 'ports.sipWss must differ from the other TCP ports (msrpTls, msrpTcp, msrpWss, sipTcp, sipTls, msrpChat) and from 2858, 2859, 8080, 9090 and 9091 (taken inside the relay pod)',
        fieldPath: '.sipWss',
      },
      {
        // The engine's HTTP ports, the admin sidecar and the mesh listen in the same pod.
        rule: '![self.msrpTls, self.sipTcp, self.sipTls, self.msrpChat].exists(p, p in [2858, 2859, 8080, 9090, 9091]) && (!has(self.msrpTcp) || !(self.msrpTcp in [2858, 2859, 8080, 9090, 9091]))',
        message: 'ports 2858 and 2859 (mesh), 8080 (admin API), 9090 and 9091 (engine HTTP) are taken inside the relay pod',
      },
    ),
  },
);

const Service = Type.Object(
  {
    type: StringEnum(['LoadBalancer', 'NodePort', 'ClusterIP'] as const, { default: 'LoadBalancer' }),
    annotations: Type.Optional(StringMap({ description: 'Annotations of the public Service (cloud load balancer settings).' })),
    loadBalancerClass: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    externalTrafficPolicy: Type.Optional(
      StringEnum(['Cluster', 'Local'] as const, {
        description: 'Local keeps client source addresses, which limits.connectionsPerSource relies on.',
      }),
    ),
  },
  {
    default: {},
    description: 'The public Service in front of the relay pods.',
    ...cel(
      {
        rule: "!has(self.loadBalancerClass) || self.type == 'LoadBalancer'",
        message: 'service.loadBalancerClass requires service.type LoadBalancer',
      },
      {
        rule: "!has(self.externalTrafficPolicy) || self.type != 'ClusterIP'",
        message: 'service.externalTrafficPolicy requires service.type LoadBalancer or NodePort',
      },
    ),
  },
);

const IssuerRef = Type.Object(
  {
    name: ObjectName({ description: 'Name of the cert-manager Issuer or ClusterIssuer.' }),
    kind: StringEnum(['Issuer', 'ClusterIssuer'] as const, { default: 'Issuer' }),
    group: Type.String({ minLength: 1, maxLength: 253, default: 'cert-manager.io' }),
  },
  { description: 'The operator creates a cert-manager Certificate for publicHost signed by this issuer.' },
);

const Tls = Type.Object(
  {
    secretName: Type.Optional(
      ObjectName({ description: 'A kubernetes.io/tls Secret in the same namespace holding the certificate and key.' }),
    ),
    issuerRef: Type.Optional(IssuerRef),
    dnsNames: Type.Optional(
      Type.Array(Hostname(), {
        maxItems: 32,
        description: 'Extra DNS names for the Certificate, besides publicHost (issuerRef only).',
      }),
    ),
  },
  {
    description: 'Certificate of the TLS listeners. The engine reloads it without dropping connections.',
    ...cel(
      {
        rule: 'has(self.secretName) != has(self.issuerRef)',
        message: 'exactly one of tls.secretName or tls.issuerRef must be set',
      },
      {
        rule: '!has(self.dnsNames) || has(self.issuerRef)',
        message: 'tls.dnsNames is only used with tls.issuerRef (a secretName Secret already carries its names)',
        fieldPath: '.dnsNames',
      },
    ),
  },
);

const PasswordStorage = Type.Object(
  {
    mode: StringEnum(['ha1', 'encrypted'] as const, {
      default: 'ha1',
      description:
        'ha1: only the HA1 digests Digest AUTH needs; passwords cannot be recovered. encrypted: the digests plus the ' +
        'password sealed with AES-256-GCM under the key of keySecretRef (engine database.passwordStorage).',
    }),
    keySecretRef: Type.Optional(SecretKeySelector('key', 'Secret key holding the 32-byte key (raw, 64 hex characters or base64); required by encrypted.')),
    previousKeySecretRefs: Type.Optional(
      Type.Array(SecretKeySelector('key', 'An older key, still read after a rotation.'), {
        maxItems: 4,
        description: 'Older keys still read (key rotation): POST /v1/password-storage/rotate re-seals with keySecretRef, then remove them.',
      }),
    ),
  },
  {
    description: 'How user passwords are kept (docs/admin-api.md "Password storage").',
    ...cel({ rule: "self.mode != 'encrypted' || has(self.keySecretRef)", message: 'passwordStorage.keySecretRef is required when mode is encrypted' }),
  },
);

const Database = Type.Object(
  {
    secretRef: SecretKeySelector('url', 'Secret key holding a PostgreSQL connection URL (postgres://...).'),
    passwordStorage: Type.Optional(PasswordStorage),
  },
  {
    description:
      'PostgreSQL shared by all replicas; required. The engine and the admin sidecar are two processes, and the embedded ' +
      'database (PGlite) is single-process, so it is for `npm start` only.',
  },
);

const Realm = Type.Object({
  name: Type.String({
    minLength: 1,
    maxLength: 253,
    description: 'Realm name used in Digest authentication (RFC 4976 §6), usually a domain.',
  }),
  hosts: Type.Optional(
    Type.Array(Hostname(), {
      maxItems: 32,
      description: 'Host names whose AUTH requests belong to this realm.',
    }),
  ),
});

const Limits = Type.Object(
  {
    maxHeaderBytes: Type.Integer({ minimum: 1024, maximum: 1048576, default: 16384 }),
    maxConnectionBufferBytes: Type.Integer({
      minimum: 65536,
      maximum: 1073741824,
      default: 4194304,
      description: 'Bytes buffered per connection before reading from the sender pauses.',
    }),
    connectionsPerSource: Type.Integer({ minimum: 1, maximum: 1000000, default: 256 }),
    sessionsPerUser: Type.Integer({ minimum: 1, maximum: 1000000, default: 64 }),
    minExpires: Type.Integer({
      minimum: 1,
      maximum: 31536000,
      default: 300,
      description: 'Smallest AUTH Expires accepted, in seconds (423 Interval Out-of-Bounds below it).',
    }),
    maxExpires: Type.Integer({
      minimum: 1,
      maximum: 31536000,
      default: 86400,
      description: 'Largest AUTH Expires granted, in seconds.',
    }),
    transactionTimeoutSeconds: Type.Integer({
      minimum: 1,
      maximum: 600,
      default: 30,
      description: 'Seconds to wait for a transaction response before a 408 (RFC 4975 §7.3).',
    }),
  },
  {
    default: {},
    ...cel({
      rule: 'self.minExpires <= self.maxExpires',
      message: 'limits.minExpires must not be greater than limits.maxExpires',
    }),
  },
);

const Throttling = Type.Object(
  {
    bytesPerSecondPerSession: Type.Optional(Quantity({ description: 'e.g. 1Mi; unlimited when unset.' })),
    bytesPerSecondPerUser: Type.Optional(Quantity()),
    bytesPerSecondPerRealm: Type.Optional(Quantity()),
  },
  { description: 'Forwarding rate limits, as Kubernetes quantities of bytes per second.' },
);

// Regular expressions as RE2 reads them; celMatches() puts one in a CEL string literal.
const PORT_RE = '([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
const LABEL_RE = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const OCTET_RE = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4_RE = `(${OCTET_RE}\\.){3}${OCTET_RE}`;
const H16 = '[0-9a-fA-F]{1,4}';
/** RFC 4291 §2.2 text forms (`::` at most once); no zone id, no embedded IPv4. */
const IPV6_RE = [
  `(${H16}:){7}${H16}`,
  `(${H16}:){1,7}:`,
  `(${H16}:){1,6}:${H16}`,
  `(${H16}:){1,5}(:${H16}){1,2}`,
  `(${H16}:){1,4}(:${H16}){1,3}`,
  `(${H16}:){1,3}(:${H16}){1,4}`,
  `(${H16}:){1,2}(:${H16}){1,5}`,
  `${H16}:(:${H16}){1,6}`,
  `:((:${H16}){1,7}|:)`,
].map((alt) => `(${alt})`).join('|');

/** spec.peering.allow entries: `*`, a name, `*.` and a name, or `[v6]`; then an optional `:port`. */
export const PEER_HOST_RE = `(\\*|(\\*\\.)?${LABEL_RE}(\\.${LABEL_RE})+|\\[(${IPV6_RE})\\])(:${PORT_RE})?`;
/** spec.peering.dnsServers entries: `v4`, `v4:port`, `v6`, `[v6]:port`. */
export const DNS_SERVER_RE = `${IPV4_RE}(:${PORT_RE})?|${IPV6_RE}|\\[(${IPV6_RE})\\](:${PORT_RE})?`;

/** A CEL rule: `self` matches `re` as a whole (backslashes doubled for the CEL string literal). */
function celMatches(re: string): string {
  return `self.matches('^(${re.replaceAll('\\', '\\\\')})$')`;
}

/**
 * A peer relay in spec.peering.allow: the engine's nextHops.allow entry written as one
 * string, `host[:port]`. The host is a name (at least two labels, as in a certificate),
 * `*.` and such a name for every host under it, `*` for any host, an IPv4 address or a
 * bracketed IPv6 address. A CEL rule rather than `pattern`, so the message reads as prose.
 */
const PeerHostPattern = Type.String({
  minLength: 1,
  maxLength: 261,
  ...cel({
    rule: celMatches(PEER_HOST_RE),
    message:
      'must be a lower-case host name, *.domain, * or an IP address ([v6] in brackets), with an optional :port ' +
      '(1-65535), such as relay.example.com, *.example.net:2855 or [fd00::10]:2855',
  }),
});

/** A DNS server for next-hop lookups: `address`, `address:port` or `[v6]:port`, as the engine's nextHops.dnsServers. */
const DnsServer = Type.String({
  minLength: 1,
  maxLength: 64,
  ...cel({
    rule: celMatches(DNS_SERVER_RE),
    message: 'must be an IP address with an optional port: 10.0.0.10, 10.0.0.10:5353, fd00::a or [fd00::a]:53',
  }),
});

const Peering = Type.Object(
  {
    allow: Type.Optional(
      Type.Array(PeerHostPattern, {
        maxItems: 64,
        'x-kubernetes-list-type': 'set',
        description:
          'Peer relays this relay may forward to (RFC 4976 §6: its clients reach users of other relays through them), ' +
          'as host[:port]: relay.example.com, "*.example.net" (every host under it; quote it in YAML), "*" (any host), ' +
          '10.0.0.7 or [fd00::7]:2855; any port when the port is left out. Empty or unset: the relay forwards only ' +
          'between its own clients and to nothing else; a request for any other host gets 403 (never an open relay). ' +
          'Rendered to the engine\'s nextHops.allow.',
      }),
    ),
    peerCertificates: StringEnum(['require', 'verify-if-presented'] as const, {
      default: 'require',
      description:
        'Who may deliver to this relay\'s clients over a connection it did not open (engine tls.peerCertificates). ' +
        'require: only a relay presenting a client certificate that chains to the ca.crt of the relay\'s TLS Secret ' +
        'and names the host of its From-Path URI (mutual TLS, RFC 4976 §9.2); anything else gets 403. ' +
        'verify-if-presented: also peers without a certificate (endpoints that use no relay); a certificate that ' +
        'fails is still refused.',
    }),
    allowPrivateAddresses: Type.Boolean({
      default: false,
      description:
        'Allow peers whose names resolve to private, loopback, link-local or unique-local addresses (engine ' +
        'nextHops.allowPrivate). Needed for peers inside the cluster (pod and Service IPs); off otherwise, so an ' +
        'allowed public name cannot be pointed into the pod network (DNS rebinding).',
    }),
    dnsServers: Type.Optional(
      Type.Array(DnsServer, {
        maxItems: 8,
        'x-kubernetes-list-type': 'set',
        description:
          'DNS servers for peer lookups (RFC 4976 §8: SRV _msrps._tcp.<host>, then A/AAAA), as 10.0.0.10, ' +
          '10.0.0.10:5353 or [fd00::a]:53; they alone answer (no /etc/hosts). Unset: the pod\'s resolver ' +
          '(cluster DNS). Engine nextHops.dnsServers.',
      }),
    ),
  },
  {
    description:
      'Relay-to-relay forwarding (RFC 4976 §6, §9.2). Connections between relays are mutual TLS with the ' +
      'relay\'s own certificate (spec.tls); peers are verified against the ca.crt of that Secret (cert-manager ' +
      'writes it for CA, self-signed and Vault issuers), or against the public root CAs when it has none (ACME ' +
      'issuers, a Secret made with kubectl create secret tls). Unset: the relay forwards only between its own ' +
      'clients and accepts deliveries only from relays with a verified certificate.',
  },
);

const Chat = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    domain: Type.Optional(Hostname({ description: 'Domain of room URIs (sip:room@domain); publicHost when unset.' })),
  },
  { default: {}, description: 'The RFC 7701 chat focus.' },
);

const Drain = Type.Object(
  {
    timeoutSeconds: Type.Integer({
      minimum: 0,
      maximum: 86400,
      default: 600,
      description:
        'How long a terminating replica (rolling update, scale-down, node drain) keeps serving the sessions it holds ' +
        'while refusing new AUTHs, so clients reconnect to other replicas. It ends earlier when the last session ends. ' +
        'The pod\'s terminationGracePeriodSeconds is set to match. The default lets a typical file transfer finish.',
    }),
  },
  { default: {}, description: 'Graceful termination of relay pods.' },
);

const ResourceList = Type.Record(Type.String(), Quantity(), { maxProperties: 16 });
const Resources = Type.Object(
  {
    limits: Type.Optional(ResourceList),
    requests: Type.Optional(ResourceList),
  },
  { description: 'core/v1 ResourceRequirements of the engine container.' },
);

const Scheduling = Type.Object(
  {
    nodeSelector: Type.Optional(StringMap()),
    affinity: Type.Optional(OpaqueObject({ description: 'core/v1 Affinity.' })),
    tolerations: Type.Optional(Type.Array(OpaqueObject({ description: 'core/v1 Toleration.' }), { maxItems: 64 })),
    topologySpreadConstraints: Type.Optional(
      Type.Array(OpaqueObject({ description: 'core/v1 TopologySpreadConstraint.' }), { maxItems: 16 }),
    ),
    priorityClassName: Type.Optional(Type.String({ maxLength: 253 })),
  },
  { description: 'Pod placement, passed to the StatefulSet pod template as given.' },
);

const PodDisruptionBudget = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    minAvailable: Type.Optional(IntOrPercent()),
    maxUnavailable: Type.Optional(IntOrPercent()),
  },
  {
    default: {},
    description: 'PodDisruptionBudget of the relay pods; maxUnavailable 1 when neither bound is set.',
    ...cel({
      rule: '!(has(self.minAvailable) && has(self.maxUnavailable))',
      message: 'set at most one of podDisruptionBudget.minAvailable and podDisruptionBudget.maxUnavailable',
    }),
  },
);

const Monitoring = Type.Object(
  {
    serviceMonitor: Type.Object(
      {
        enabled: Type.Boolean({ default: false }),
        interval: Type.Optional(Type.String({ pattern: '^[0-9]+(ms|s|m|h)$', maxLength: 16 })),
        labels: Type.Optional(StringMap()),
      },
      { default: {}, description: 'A prometheus-operator ServiceMonitor for the admin /metrics endpoint.' },
    ),
  },
  { default: {} },
);

export const MsrpRelaySpec = Type.Object(
  {
    replicas: Type.Integer({
      minimum: 0,
      maximum: 64,
      default: 1,
      description: 'Number of relay pods (StatefulSet replicas). They share state through spec.database.',
    }),
    image: Image,
    imagePullSecrets: Type.Optional(Type.Array(Type.Object({ name: ObjectName({ description: 'A Secret of type kubernetes.io/dockerconfigjson in the relay\'s namespace.' }) }), {
      maxItems: 16,
      description: 'Secrets the kubelet uses to pull the relay image from a private registry (pod spec imagePullSecrets).',
    })),
    publicHost: Hostname({
      description: 'Public FQDN of the relay, used in its msrps:// URI (Use-Path) and in the certificate.',
    }),
    ports: Ports,
    websocket: Type.Optional(Type.Object(
      {
        origins: Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\\s]+$' }), {
          maxItems: 64,
          default: [],
          description: 'Origins (scheme://host[:port]) of the web pages allowed to open WebSocket connections on ports.msrpWss and ports.sipWss; others are refused with 403 at the handshake. Empty: any origin.',
        }),
      },
      { description: 'MSRP and SIP over WebSocket (ports.msrpWss, RFC 7977; ports.sipWss, RFC 7118).' },
    )),
    service: Service,
    tls: Tls,
    // Required, but through the CEL rule below rather than the schema's `required`: a missing
    // required field stops the API server before any CEL rule runs, with a bare "Required value".
    database: Type.Optional(Database),
    realms: Type.Optional(
      Type.Array(Realm, {
        maxItems: 64,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        description: 'Authentication realms; names are unique.',
      }),
    ),
    limits: Limits,
    throttling: Type.Optional(Throttling),
    peering: Type.Optional(Peering),
    chat: Chat,
    drain: Drain,
    resources: Type.Optional(Resources),
    scheduling: Type.Optional(Scheduling),
    podDisruptionBudget: PodDisruptionBudget,
    monitoring: Monitoring,
  },
  {
    description: 'Desired state of the relay.',
    ...cel({
      rule: 'has(self.database)',
      message:
        'spec.database.secretRef is required: a relay pod runs the engine and the admin sidecar as two processes, ' +
        'which cannot share the embedded PGlite database (it is for `npm start` only); a relay pod needs PostgreSQL',
      fieldPath: '.database',
    }),
  },
);
/** As the API server admits it: spec.database is always there (the CEL rule above). */
export type MsrpRelaySpec = Omit<Static<typeof MsrpRelaySpec>, 'database'> & { database: Static<typeof Database> };

export const MsrpRelayStatus = Type.Object(
  {
    conditions: Type.Optional(Conditions()),
    observedGeneration: Type.Optional(ObservedGeneration()),
    replicas: Type.Optional(Type.Integer({ minimum: 0, description: 'Pods of the StatefulSet.' })),
    readyReplicas: Type.Optional(Type.Integer({ minimum: 0, description: 'Pods ready to relay.' })),
    selector: Type.Optional(Type.String({ description: 'Label selector of the pods (for the scale subresource).' })),
    version: Type.Optional(Type.String({ description: 'The relay image every pod runs, once a rollout has finished (repository:tag).' })),
    publicUris: Type.Optional(
      Type.Array(Type.String(), { maxItems: 16, description: 'msrps:// (and msrp://) URIs clients put in their paths.' }),
    ),
    address: Type.Optional(Type.String({ maxLength: 253, description: 'The public Service\'s load-balancer address (IP or host name), or its cluster IP when it is not a LoadBalancer.' })),
    certificateNotAfter: Type.Optional(Type.String({ format: 'date-time', description: 'When the certificate in the TLS Secret expires (its notAfter).' })),
  },
  { description: 'Observed state of the relay.' },
);
export type MsrpRelayStatus = Static<typeof MsrpRelayStatus>;

export const MsrpRelay = Type.Object({
  apiVersion: Type.Literal('msrp.dev/v1alpha1'),
  kind: Type.Literal('MsrpRelay'),
  metadata: ObjectMeta,
  spec: MsrpRelaySpec,
  status: Type.Optional(MsrpRelayStatus),
});
export type MsrpRelay = Omit<Static<typeof MsrpRelay>, 'spec'> & { spec: MsrpRelaySpec };

export const msrpRelayKind: KindDefinition = {
  kind: 'MsrpRelay',
  listKind: 'MsrpRelayList',
  plural: 'msrprelays',
  singular: 'msrprelay',
  shortNames: ['mrl'],
  categories: ['msrp'],
  description: 'MsrpRelay runs an MSRP relay (RFC 4976) and chat focus (RFC 7701) as a StatefulSet.',
  spec: MsrpRelaySpec,
  status: MsrpRelayStatus,
  printerColumns: [
    READY_COLUMN,
    { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', description: 'Desired replicas.' },
    {
      name: 'Available',
      type: 'integer',
      jsonPath: '.status.readyReplicas',
      description: 'Ready replicas.',
      priority: 1,
    },
    { name: 'Public URI', type: 'string', jsonPath: '.status.publicUris[0]', description: 'First public URI.' },
    { name: 'Address', type: 'string', jsonPath: '.status.address', description: 'Load-balancer address.' },
    { name: 'Cert Expires', type: 'string', jsonPath: '.status.certificateNotAfter', description: 'Certificate notAfter.', priority: 1 },
    { name: 'Database', type: 'string', jsonPath: '.status.conditions[?(@.type=="DatabaseReady")].status', description: 'DatabaseReady condition.', priority: 1 },
    AGE_COLUMN,
  ],
  scale: {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.status.selector',
  },
};
