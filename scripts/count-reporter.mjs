// A node:test reporter that prints one closing line: "N passed, N failed, N skipped".
// Suites are not counted, except a suite that failed by itself (a failing before() hook, say) or was
// skipped as a whole (counted once); the reasons given for skipping are listed above that line.
import { appendFileSync } from 'node:fs';

export default async function* countReporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const reasons = new Set();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { details, skip, todo } = event.data;
    const isSuite = details?.type === 'suite';
    if (event.type === 'test:pass') {
      if (isSuite && skip === undefined) continue;
      if (typeof skip === 'string') reasons.add(skip);
      if (skip !== undefined || todo !== undefined) skipped++;
      else passed++;
    } else if (!isSuite || details?.error?.failureType !== 'subtestsFailed') {
      failed++;
    }
  }
  // scripts/run-tests.mjs runs the suite in two parts and prints one line for both.
  const countsFile = process.env.GW_TEST_COUNTS_FILE;
  if (countsFile !== undefined && countsFile !== '') {
    appendFileSync(countsFile, `${JSON.stringify({ passed, failed, skipped, reasons: [...reasons] })}\n`);
    return;
  }
  for (const reason of reasons) yield `\nskipped: ${reason}`;
  yield `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
