import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

// `describeWithService` names a suite it skips "<title> (set <VARIABLE> to run)".
const NEEDS_SERVICE = /\(set ([A-Z_]+) to run\)$/;

/**
 * Prints which suites were skipped for want of a service and which variable would run
 * them (vitest's own output hides skipped suites' titles), then one closing line,
 * `N passed, N failed, N skipped`, for CI logs to read.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const filesByVariable = new Map<string, Set<string>>();
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
      for (const suite of module.children.allSuites()) {
        const variable = NEEDS_SERVICE.exec(suite.name)?.[1];
        if (variable === undefined) continue;
        const files = filesByVariable.get(variable) ?? new Set<string>();
        files.add(relative(process.cwd(), module.moduleId));
        filesByVariable.set(variable, files);
      }
      if (module.state() === 'failed' && module.children.size === 0) failed++;
    }
    if (filesByVariable.size > 0) {
      const lines = [
        '',
        'Skipped for want of a service (scripts/services/start.sh starts them all):',
      ];
      for (const [variable, files] of [...filesByVariable].sort()) {
        lines.push(
          `  set ${variable} to run ${files.size} file${files.size === 1 ? '' : 's'}: ${[...files].sort().join(', ')}`,
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
