// Objects the msrp.dev CRDs must reject, each with the message the API server gives.
// Used by e2e/k8s-api.test.ts; every case starts from a valid object and breaks one thing.

export type Obj = Record<string, unknown>;

export interface InvalidCase {
  name: string;
  object: Obj;
  /** Expected in kubectl's stderr (the server's message). */
  message: RegExp;
}

export function relay(name: string, spec: Obj = {}): Obj {
  return {
    apiVersion: 'msrp.dev/v1alpha1',
    kind: 'MsrpRelay',
    metadata: { name },
    spec: { publicHost: 'msrp.example.com', tls: { secretName: 'relay-tls' }, database: { secretRef: { name: 'relay-db' } }, ...spec },
  };
}

export function room(name: string, spec: Obj = {}): Obj {
  return {
    apiVersion: 'msrp.dev/v1alpha1',
    kind: 'ChatRoom',
    metadata: { name },
    spec: { relayRef: { name: 'relay' }, ...spec },
  };
}

function without(obj: Obj, field: string): Obj {
  const spec = { ...(obj.spec as Obj) };
  delete spec[field];
  return { ...obj, spec };
}

export const INVALID: InvalidCase[] = [
  {
    // The engine and the admin sidecar are two processes; PGlite is single-process.
    name: 'no database',
    object: without(relay('bad-no-database'), 'database'),
    message: /spec\.database: Invalid value: .*spec\.database\.secretRef is required: .*PGlite.*a relay pod needs PostgreSQL/,
  },
  {
    // docs/admin-api.md "Password storage": encrypted passwords need the key's Secret.
    name: 'encrypted password storage without a key',
    object: relay('bad-password-key', { database: { secretRef: { name: 'relay-db' }, passwordStorage: { mode: 'encrypted' } } }),
    message: /spec\.database\.passwordStorage: Invalid value: .*passwordStorage\.keySecretRef is required when mode is encrypted/,
  },
  {
    name: 'three replicas without a database',
    object: without(relay('bad-replicas', { replicas: 3 }), 'database'),
    message: /spec\.database: Invalid value: .*spec\.database\.secretRef is required/,
  },
  {
    name: 'both tls.secretName and tls.issuerRef',
    object: relay('bad-tls-both', { tls: { secretName: 's', issuerRef: { name: 'ca' } } }),
    message: /spec\.tls: Invalid value: .*exactly one of tls\.secretName or tls\.issuerRef must be set/,
  },
  {
    name: 'neither tls.secretName nor tls.issuerRef',
    object: relay('bad-tls-neither', { tls: {} }),
    message: /spec\.tls: Invalid value: .*exactly one of tls\.secretName or tls\.issuerRef must be set/,
  },
  {
    name: 'no tls at all',
    object: without(relay('bad-tls-missing'), 'tls'),
    message: /spec\.tls: Required value/,
  },
  {
    name: 'tls.dnsNames with a secretName',
    object: relay('bad-dnsnames', { tls: { secretName: 's', dnsNames: ['a.example.com'] } }),
    message: /spec\.tls\.dnsNames: Invalid value: .*tls\.dnsNames is only used with tls\.issuerRef/,
  },
  {
    name: 'issuerRef kind that is not Issuer or ClusterIssuer',
    object: relay('bad-issuer-kind', { tls: { issuerRef: { name: 'ca', kind: 'Vault' } } }),
    message: /spec\.tls\.issuerRef\.kind: Unsupported value: "Vault": supported values: "Issuer", "ClusterIssuer"/,
  },
  {
    name: 'missing publicHost',
    object: without(relay('bad-no-host'), 'publicHost'),
    message: /spec\.publicHost: Required value/,
  },
  {
    name: 'publicHost that is not a domain name',
    object: relay('bad-host', { publicHost: 'Not A Host!' }),
    message: /spec\.publicHost: Invalid value: "Not A Host!": spec\.publicHost in body should match/,
  },
  {
    name: 'port 70000',
    object: relay('bad-port', { ports: { msrpTls: 70000 } }),
    message: /spec\.ports\.msrpTls: Invalid value: 70000: spec\.ports\.msrpTls in body should be less than or equal to 65535/,
  },
  {
    name: 'two TCP listeners on one port',
    object: relay('bad-port-clash', { ports: { msrpTcp: 5061 } }),
    message: /spec\.ports: Invalid value: .*ports msrpTls, msrpTcp, sipTcp and sipTls must be distinct/,
  },
  {
    name: 'the chat switch on a relay port',
    object: relay('bad-chat-port', { ports: { msrpChat: 2855 } }),
    message: /spec\.ports\.msrpChat: Invalid value: .*ports\.msrpChat must differ from the other TCP ports/,
  },
  {
    name: 'the WebSocket port on the TLS port',
    object: relay('bad-wss-port', { ports: { msrpWss: 2855 } }),
    message: /spec\.ports\.msrpWss: Invalid value: .*ports\.msrpWss must differ from the other TCP ports/,
  },
  {
    name: 'the SIP WebSocket port on the MSRP WebSocket port',
    object: relay('bad-sip-wss-port', { ports: { msrpWss: 8443, sipWss: 8443 } }),
    message: /spec\.ports\.sipWss: Invalid value: .*ports\.sipWss must differ from the other TCP ports/,
  },
  {
    name: 'a WebSocket origin that is not scheme://host',
    object: relay('bad-wss-origin', { ports: { msrpWss: 8443 }, websocket: { origins: ['chat.example.com'] } }),
    message: /spec\.websocket\.origins\[0\]: Invalid value: "chat\.example\.com": spec\.websocket\.origins\[0\] in body should match/,
  },
  {
    name: 'a public port the pod uses inside (the mesh)',
    object: relay('bad-mesh-port', { ports: { msrpTcp: 2858 } }),
    message: /spec\.ports: Invalid value: .*ports 2858 and 2859 \(mesh\), 8080 \(admin API\), 9090 and 9091 \(engine HTTP\) are taken/,
  },
  {
    name: 'service type External',
    object: relay('bad-service-type', { service: { type: 'External' } }),
    message: /spec\.service\.type: Unsupported value: "External": supported values: "LoadBalancer", "NodePort", "ClusterIP"/,
  },
  {
    name: 'loadBalancerClass on a ClusterIP service',
    object: relay('bad-lb-class', { service: { type: 'ClusterIP', loadBalancerClass: 'example.com/lb' } }),
    message: /spec\.service: Invalid value: .*service\.loadBalancerClass requires service\.type LoadBalancer/,
  },
  {
    name: 'an unknown field (strict field validation)',
    object: relay('bad-unknown-field', { replica: 2 }),
    message: /unknown field "spec\.replica"/,
  },
  {
    name: 'minExpires greater than maxExpires',
    object: relay('bad-expires', { limits: { minExpires: 7200, maxExpires: 3600 } }),
    message: /spec\.limits: Invalid value: .*limits\.minExpires must not be greater than limits\.maxExpires/,
  },
  {
    name: 'duplicate realm names',
    object: relay('bad-realms', { realms: [{ name: 'example.com' }, { name: 'example.com', hosts: ['a.example.com'] }] }),
    message: /spec\.realms\[1\]: Duplicate value: .*"name":"example\.com"/,
  },
  {
    name: 'a throttle that is not a quantity',
    object: relay('bad-throttle', { throttling: { bytesPerSecondPerSession: 'fast' } }),
    message: /spec\.throttling\.bytesPerSecondPerSession: Invalid value: "fast": spec\.throttling\.bytesPerSecondPerSession in body should match/,
  },
  {
    name: 'both minAvailable and maxUnavailable',
    object: relay('bad-pdb', { podDisruptionBudget: { minAvailable: 1, maxUnavailable: 1 } }),
    message: /spec\.podDisruptionBudget: Invalid value: .*set at most one of podDisruptionBudget\.minAvailable and podDisruptionBudget\.maxUnavailable/,
  },
  {
    name: 'minAvailable that is neither a count nor a percentage',
    object: relay('bad-pdb-value', { podDisruptionBudget: { minAvailable: 'half' } }),
    message: /spec\.podDisruptionBudget\.minAvailable: Invalid value: .*must be a non-negative integer or a percentage/,
  },
  {
    name: 'pull policy Sometimes',
    object: relay('bad-pull-policy', { image: { pullPolicy: 'Sometimes' } }),
    message: /spec\.image\.pullPolicy: Unsupported value: "Sometimes"/,
  },
  {
    name: 'a relay name too long for its StatefulSet pods',
    object: relay('r'.repeat(53)),
    message: /metadata\.name: Too long: may not be (longer|more) than 52/,
  },
  {
    name: 'a peer that is a URL, not host[:port]',
    object: relay('bad-peer-host', { peering: { allow: ['relay.example.org', 'msrps://relay.partner.example.org:2855'] } }),
    message: /spec\.peering\.allow\[1\]: Invalid value: .*must be a lower-case host name, \*\.domain, \* or an IP address/,
  },
  {
    name: 'a peer port out of range',
    object: relay('bad-peer-port', { peering: { allow: ['relay.partner.example.org:70000'] } }),
    message: /spec\.peering\.allow\[0\]: Invalid value: .*with an optional :port \(1-65535\)/,
  },
  {
    name: 'the same peer twice',
    object: relay('bad-peer-duplicate', { peering: { allow: ['relay.partner.example.org', 'relay.partner.example.org'] } }),
    message: /spec\.peering\.allow\[1\]: Duplicate value: "relay\.partner\.example\.org"/,
  },
  {
    name: 'more than 64 peers',
    object: relay('bad-peer-count', { peering: { allow: Array.from({ length: 65 }, (_, i) => `relay${i}.partner.example.org`) } }),
    message: /spec\.peering\.allow: Too many: 65: must have at most 64 items/,
  },
  {
    name: 'peerCertificates optional',
    object: relay('bad-peer-certificates', { peering: { peerCertificates: 'optional' } }),
    message: /spec\.peering\.peerCertificates: Unsupported value: "optional": supported values: "require", "verify-if-presented"/,
  },
  {
    name: 'a DNS server given by name',
    object: relay('bad-dns-server', { peering: { dnsServers: ['10.96.0.10', 'kube-dns.kube-system'] } }),
    message: /spec\.peering\.dnsServers\[1\]: Invalid value: .*must be an IP address with an optional port/,
  },
  {
    name: 'room uri http://x',
    object: room('bad-uri', { uri: 'http://x' }),
    message: /spec\.uri: Invalid value: .*must be a sip: or sips: URI such as sips:lobby@chat\.example\.com/,
  },
  {
    name: 'room with both name and uri',
    object: room('bad-name-and-uri', { name: 'lobby', uri: 'sips:lobby@chat.example.com' }),
    message: /spec: Invalid value: .*set at most one of spec\.name and spec\.uri/,
  },
  {
    name: 'negative maxParticipants',
    object: room('bad-max', { policy: { maxParticipants: -1 } }),
    message: /spec\.policy\.maxParticipants: Invalid value: -1: spec\.policy\.maxParticipants in body should be greater than or equal to 1/,
  },
  {
    name: 'room without relayRef',
    object: without(room('bad-no-relay'), 'relayRef'),
    message: /spec\.relayRef: Required value/,
  },
  {
    name: 'a moderator that is not a SIP URI',
    object: room('bad-moderator', { policy: { moderators: ['alice'] } }),
    message: /spec\.policy\.moderators\[0\]: Invalid value: .*must be a sip: or sips: URI/,
  },
  {
    name: 'a deny pattern that is not a SIP URI pattern',
    object: room('bad-deny', { policy: { deny: ['*'] } }),
    message: /spec\.policy\.deny\[0\]: Invalid value: .*must be a sip: or sips: URI pattern/,
  },
  {
    name: 'negative history size',
    object: room('bad-history', { policy: { history: { size: -5 } } }),
    message: /spec\.policy\.history\.size: Invalid value: -5: .*greater than or equal to 0/,
  },
];
