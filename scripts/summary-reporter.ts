// Prints the plain closing line "N passed, N failed, N skipped" that CI reads, after
// vitest's own summary (the default reporter prints its summary in onTestRunEnd).
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  private line = '';

  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of modules) {
      let failedHere = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedHere++;
        else skipped++;
      }
      // A suite that failed in a hook or at import fails no single test: count it once.
      if (module.state() === 'failed' && failedHere === 0) failedHere = 1;
      failed += failedHere;
    }
    failed += errors.length;
    this.line = `${passed} passed, ${failed} failed, ${skipped} skipped`;
    // Printed on exit so it is the last line whatever order the reporters run in.
    process.once('exit', () => process.stdout.write(`\n${this.line}\n`));
  }
}
