import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');

/** Run the built agent with `args`; `env` is laid over this process's environment. */
export function runAgent(args: readonly string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

/** Every step of the story, with the outcome it has on every backend. */
export function expectTheWholeStory(stdout: string): void {
  expect(stdout).toContain('acme:   next ["approve"], asking "Approve the refund?"');
  expect(stdout).toContain('globex: Hi Grace, here is what I found about "Where is my invoice?".');
  expect(stdout).toContain('acme:   Hi Ada, your refund is on its way (refund #1).');
  expect(stdout).toContain('acme:   Hi Ada, we cannot refund this order.');
  expect(stdout).toContain('latest decision: no (5 checkpoints before the fork)');
  expect(stdout).toContain("stale worker's resume: LOCK_LOST");
  expect(stdout).toContain('stale worker, signal ignored: FENCED');
  // The fenced run recorded no refund: the current worker's is the second.
  expect(stdout).toContain(
    "current worker's resume: Hi Ada, your refund is on its way (refund #2).",
  );
  expect(stdout).toContain('metadata: {"source":"loop","step":3,"parents":{}}');
  expect(stdout).toContain('last message: AIMessage "Hi Ada, we cannot refund this order."');
  expect(stdout).toContain(`acme's memory of c-1: {"name":"Ada","refunds":2}`);
  expect(stdout).toContain('copied 1 thread, 3 checkpoints, 5 pending writes');
  expect(stdout).toContain('initech: Hi Bob, your refund is on its way (refund #1).');
  expect(stdout).toContain('no tenant: CONFIG');
  // What the story wrote is what purgeTenant finds: the same on every backend.
  expect(stdout).toContain('acme:    12 checkpoints, 21 pending writes, 1 memory item');
  expect(stdout).toContain('globex:  4 checkpoints, 5 pending writes, 1 memory item');
  expect(stdout).toContain('initech: 5 checkpoints, 10 pending writes, 1 memory item');
  expect(stdout).toMatch(/left behind: nothing/);
}
