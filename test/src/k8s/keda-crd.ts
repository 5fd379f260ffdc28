/**
 * A minimal ScaledObject CRD (keda.sh/v1alpha1), written for these tests from KEDA's
 * documented ScaledObject fields — not KEDA's release YAML. It lets the test API server
 * admit and validate the chart's ScaledObjects (required scaleTargetRef.name, trigger type and
 * string metadata, integer replica bounds) without installing KEDA itself.
 */
export function minimalScaledObjectCrd(): Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string } } {
  const int = { type: 'integer', format: 'int32', minimum: 0 };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'scaledobjects.keda.sh' },
    spec: {
      group: 'keda.sh',
      scope: 'Namespaced',
      names: { kind: 'ScaledObject', listKind: 'ScaledObjectList', plural: 'scaledobjects', singular: 'scaledobject', shortNames: ['so'] },
      versions: [
        {
          name: 'v1alpha1',
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
                spec: {
                  type: 'object',
                  required: ['scaleTargetRef', 'triggers'],
                  properties: {
                    scaleTargetRef: {
                      type: 'object',
                      required: ['name'],
                      properties: {
                        apiVersion: { type: 'string' },
                        kind: { type: 'string' },
                        name: { type: 'string' },
                        envSourceContainerName: { type: 'string' },
                      },
                    },
                    minReplicaCount: int,
                    maxReplicaCount: int,
                    idleReplicaCount: int,
                    pollingInterval: int,
                    cooldownPeriod: int,
                    triggers: {
                      type: 'array',
                      minItems: 1,
                      items: {
                        type: 'object',
                        required: ['type', 'metadata'],
                        properties: {
                          type: { type: 'string' },
                          name: { type: 'string' },
                          metricType: { type: 'string' },
                          metadata: { type: 'object', additionalProperties: { type: 'string' } },
                          authenticationRef: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, kind: { type: 'string' } } },
                        },
                      },
                    },
                    advanced: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                    fallback: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  },
                },
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
          },
        },
      ],
    },
  };
}
