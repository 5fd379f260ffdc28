/**
 * A minimal ServiceMonitor CRD (monitoring.coreos.com/v1), written for these tests from the
 * Prometheus Operator's documented ServiceMonitor fields — not the operator's release YAML. It
 * lets the test API server admit and validate the chart's ServiceMonitor (a required selector
 * and endpoints with a port name, path and interval) without installing the operator.
 */
export function minimalServiceMonitorCrd(): Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string } } {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'servicemonitors.monitoring.coreos.com' },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: { kind: 'ServiceMonitor', listKind: 'ServiceMonitorList', plural: 'servicemonitors', singular: 'servicemonitor', shortNames: ['smon'] },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
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
                  required: ['selector', 'endpoints'],
                  properties: {
                    jobLabel: { type: 'string' },
                    selector: {
                      type: 'object',
                      properties: {
                        matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
                        matchExpressions: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
                      },
                    },
                    namespaceSelector: {
                      type: 'object',
                      properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: { type: 'string' } } },
                    },
                    endpoints: {
                      type: 'array',
                      minItems: 1,
                      items: {
                        type: 'object',
                        properties: {
                          port: { type: 'string' },
                          targetPort: { 'x-kubernetes-int-or-string': true },
                          path: { type: 'string' },
                          scheme: { type: 'string', enum: ['http', 'https'] },
                          interval: { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' },
                          scrapeTimeout: { type: 'string' },
                          honorLabels: { type: 'boolean' },
                          relabelings: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
                          metricRelabelings: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}
