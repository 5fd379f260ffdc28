/**
 * `gramfleet k8s render|apply|status|controller`, declared without loading the Kubernetes client
 * library: `./cli.ts` (and with it @kubernetes/client-node) is loaded when a subcommand runs,
 * so `--help` and every other command start without it.
 */
import { JSON_FLAG, type CliCommand, type Flags } from '../cli/command';

const VALUE_FLAGS: Flags = {
  values: { type: 'string', value: 'FILE', description: "deployment values, YAML or JSON (the Helm chart's values.yaml shape)" },
  namespace: { type: 'string', value: 'NS', description: 'namespace of the deployment' },
  gpu: { type: 'boolean', description: 'deploy the GPU worker too' },
  keda: { type: 'boolean', description: 'autoscale the workers with KEDA' },
  'no-crds': { type: 'boolean', description: 'leave the KernelCampaign CRD out' },
};

/** `gramfleet k8s`. */
export const K8S_COMMAND: CliCommand = {
  name: 'k8s',
  summary: 'the Kubernetes deployment without Helm: render, apply, KernelCampaign status, the controller',
  subcommands: [
    {
      name: 'render',
      summary: 'print the manifests as YAML',
      flags: VALUE_FLAGS,
      run: async (a, ctx) => (await import('./cli.js')).k8sRender(a, ctx),
    },
    {
      name: 'apply',
      summary: 'server-side apply the manifests (field manager gramfleet) with the current kubeconfig',
      flags: { ...VALUE_FLAGS, 'dry-run': { type: 'boolean', description: 'let the API server validate and admit every object without persisting it' } },
      run: async (a, ctx) => (await import('./cli.js')).k8sApply(a, ctx),
    },
    {
      name: 'status',
      summary: 'list KernelCampaigns with their phase and progress',
      flags: { namespace: { type: 'string', value: 'NS', description: 'only this namespace (default all)' }, json: JSON_FLAG },
      run: async (a, ctx) => (await import('./cli.js')).k8sStatus(a, ctx),
    },
    {
      name: 'controller',
      summary: "run the KernelCampaign controller (the controller container's entrypoint)",
      notes:
        'environment (docs/config.md): GRAMFLEET_TEMPORAL_ADDRESS, GRAMFLEET_NAMESPACE, GRAMFLEET_TASK_QUEUE, GRAMFLEET_WATCH_NAMESPACE,\n  GRAMFLEET_PREFIX, GRAMFLEET_POLL_MS, GRAMFLEET_HEALTH_PORT, GRAMFLEET_LOG_LEVEL',
      run: async () => (await import('./cli.js')).runController(),
    },
  ],
};
