// Decodes each histogram of a sigbench JSON report with HdrHistogram's own
// JavaScript implementation and prints what it reads, as JSON: proof that
// the "hdr" strings are the standard compressed encoding, not a look-alike.
//   node hdr_decode.cjs REPORT.json
const fs = require('node:fs');
const hdr = require('hdr-histogram-js');

const report = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = {};
for (const [name, h] of Object.entries(report.histograms)) {
  if (typeof h !== 'object' || !h.hdr) continue;
  const decoded = hdr.decodeFromCompressedBase64(h.hdr, 64, false);
  out[name] = { count: decoded.totalCount, p99_ns: decoded.getValueAtPercentile(99), max_ns: decoded.maxValue };
}
process.stdout.write(JSON.stringify(out) + '\n');
