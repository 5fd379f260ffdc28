/**
 * Minimal cert-manager CRDs (cert-manager.io/v1 Issuer and Certificate), written for these tests
 * from cert-manager's documented fields — not cert-manager's release YAML. They let the test API
 * server admit and validate the chart's Issuers and Certificates (a Certificate needs secretName
 * and issuerRef.name; usages and key algorithms are the documented enums) without
 * installing cert-manager itself.
 */
type Crd = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string } };

function crd(kind: string, plural: string, spec: Record<string, unknown>): Crd {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.cert-manager.io` },
    spec: {
      group: 'cert-manager.io',
      scope: 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
          },
        },
      ],
    },
  };
}

/** Issuer: exactly the selfSigned or ca form (the two the chart renders). */
export function minimalIssuerCrd(): Crd {
  return crd('Issuer', 'issuers', {
    type: 'object',
    maxProperties: 1,
    minProperties: 1,
    properties: {
      selfSigned: { type: 'object', properties: { crlDistributionPoints: { type: 'array', items: { type: 'string' } } } },
      ca: { type: 'object', required: ['secretName'], properties: { secretName: { type: 'string', minLength: 1 } } },
    },
  });
}

/** Certificate. */
export function minimalCertificateCrd(): Crd {
  const str = { type: 'string' };
  return crd('Certificate', 'certificates', {
    type: 'object',
    required: ['secretName', 'issuerRef'],
    properties: {
      secretName: { type: 'string', minLength: 1 },
      commonName: { type: 'string', maxLength: 64 },
      dnsNames: { type: 'array', items: str },
      isCA: { type: 'boolean' },
      duration: str,
      renewBefore: str,
      usages: {
        type: 'array',
        items: {
          type: 'string',
          enum: [
            'signing',
            'digital signature',
            'content commitment',
            'key encipherment',
            'key agreement',
            'data encipherment',
            'cert sign',
            'crl sign',
            'encipher only',
            'decipher only',
            'any',
            'server auth',
            'client auth',
            'code signing',
            'email protection',
            's/mime',
            'ipsec end system',
            'ipsec tunnel',
            'ipsec user',
            'timestamping',
            'ocsp signing',
            'microsoft sgc',
            'netscape sgc',
          ],
        },
      },
      privateKey: {
        type: 'object',
        properties: {
          algorithm: { type: 'string', enum: ['RSA', 'ECDSA', 'Ed25519'] },
          size: { type: 'integer' },
          encoding: { type: 'string', enum: ['PKCS1', 'PKCS8'] },
          rotationPolicy: { type: 'string', enum: ['Never', 'Always'] },
        },
      },
      issuerRef: {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', minLength: 1 }, kind: str, group: str },
      },
    },
  });
}
