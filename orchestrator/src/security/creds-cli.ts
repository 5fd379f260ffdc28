/**
 * `gramfleet creds generate`: the production credentials of a deployment (./creds.ts), loaded
 * only when the command runs.
 */
import type { CliCommand } from '../cli/command';

/** `gramfleet creds`. */
export const CREDS_COMMAND: CliCommand = {
  name: 'creds',
  summary: 'credentials of a production deployment: NATS identities per role, a CA, NATS and Temporal certificates, as Kubernetes Secrets',
  subcommands: [
    {
      name: 'generate',
      summary: 'write them to a new directory (secrets.yaml holds the Secrets the chart mounts; keys/ stays offline)',
      flags: {
        out: { type: 'string', value: 'DIR', description: 'output directory, new or empty (0700, files 0600)', required: true },
        values: { type: 'string', value: 'FILE', description: "the deployment's values (the Helm chart's values.yaml shape): Secret names, hosts, prefix" },
        namespace: { type: 'string', value: 'NS', description: 'namespace of the Secrets (default: the values, else gramfleet)' },
        'nats-hosts': { type: 'string', value: 'H1,H2', description: 'more DNS names or IPs of the NATS server certificate (comma-separated)' },
        days: { type: 'string', value: 'N', description: 'validity of the certificates in days (default 825)' },
      },
      notes:
        'apply: kubectl apply -n NS -f DIR/secrets.yaml; the NATS servers include DIR/nats/auth.conf (Secret nats.auth.secretName)\n  and serve DIR/nats/nats-server.crt; see docs/operations.md',
      run: async (a, ctx) => {
        const { generateProductionCreds } = await import('./creds.js');
        const { valuesFromArgs } = await import('../k8s/cli.js');
        const ns = a.string('namespace');
        const valuesFile = a.string('values');
        const hosts = (a.string('nats-hosts') ?? '')
          .split(',')
          .map((h) => h.trim())
          .filter((h) => h !== '');
        const days = a.int('days');
        const g = await generateProductionCreds({
          out: a.need('out'),
          values: valuesFromArgs({ ...(valuesFile !== undefined ? { values: valuesFile } : {}), ...(ns !== undefined ? { namespace: ns } : {}) }),
          natsHosts: hosts,
          ...(days !== undefined ? { days } : {}),
        });
        ctx.out.write(
          [
            `wrote ${g.dir}`,
            `  secrets.yaml: ${g.secretNames.join(', ')}`,
            `  ca.crt, nats/ (server certificate, auth.conf, creds/<role>.creds), temporal/ (client, frontend, internode)`,
            `  keys/: the CA key and the NATS operator and account seeds; keep them offline`,
            `  NATS account (KEDA's nats.account): ${g.accountPublicKey}`,
            '',
          ].join('\n'),
        );
        return 0;
      },
    },
  ],
};
