#!/usr/bin/env node
// Writes the Helm chart's CRD file from orchestrator/src/k8s/crd.ts (run after `tsc -b`);
// test/src/k8s/manifests.test.ts fails when the two disagree.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { kernelCampaignCrd, toYamlStream } = require('@gramfleet/orchestrator/internal');
const out = path.join(__dirname, '..', 'deploy', 'helm', 'gramfleet', 'crds', 'kernelcampaigns.gramfleet.io.yaml');
fs.writeFileSync(
  out,
  '# Generated from orchestrator/src/k8s/crd.ts by scripts/k8s-gen-crd.js; a test checks they agree.\n' + toYamlStream([kernelCampaignCrd()]),
);
