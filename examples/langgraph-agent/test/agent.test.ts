import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = join(import.meta.dirname, '..', 'dist', 'main.js');

function runAgent(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('the LangGraph agent example', () => {
  it('tells the whole story on memory, with no server', () => {
    const { status, stdout, stderr } = runAgent('--backend', 'memory');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toContain('acme:   next ["approve"], asking "Approve the refund?"');
    expect(stdout).toContain(
      'globex: Hi Grace, here is what I found about "Where is my invoice?".',
    );
    expect(stdout).toContain('acme:   Hi Ada, your refund is on its way (refund #1).');
    expect(stdout).toContain('acme:   Hi Ada, we cannot refund this order.');
    expect(stdout).toContain('latest decision: no');
    expect(stdout).toContain("stale worker's resume: LOCK_LOST");
    expect(stdout).toContain('stale worker, signal ignored: FENCED');
    // The fenced run recorded no refund: the current worker's is the second.
    expect(stdout).toContain(
      "current worker's resume: Hi Ada, your refund is on its way (refund #2).",
    );
    expect(stdout).toContain('metadata: {"source":"loop","step":3,"parents":{}}');
    expect(stdout).toContain('last message: AIMessage "Hi Ada, we cannot refund this order."');
    expect(stdout).toContain(`acme's memory of c-1: {"name":"Ada","refunds":2}`);
    expect(stdout).toMatch(/copied 1 thread, 3 checkpoints, \d+ pending writes/);
    expect(stdout).toContain('initech: Hi Bob, your refund is on its way (refund #1).');
    expect(stdout).toContain('no tenant: CONFIG');
  }, 60_000);

  it('runs on memory by default and names the backends it has', () => {
    expect(runAgent().status).toBe(0);
    const { status, stdout, stderr } = runAgent('--backend', 'cassandra');
    expect(status).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe('langgraph-agent: unknown backend "cassandra"; available: memory');
  }, 60_000);
});
