// node --import tsx scripts/gpu/providers.ts [--json]
//
// Which execution providers onnxruntime-node starts on this machine (src/runtime/provider-check.ts):
// the start-up log's summary line, each provider's reason and hint, or the report as JSON.

import { checkProviders, providerSummary } from '../../src/runtime/provider-check.js';

const report = await checkProviders();
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(providerSummary(report));
  for (const p of report.providers.filter((s) => !s.live)) {
    console.log(`  ${p.provider}: ${p.reason}`);
    if (p.detail) console.log(`    ${p.detail}`);
    if (p.hint) console.log(`    to make it live: ${p.hint}`);
  }
}
