import { ConfigError } from '@entelix/core';
import type { AgentInputItem, SessionHistoryTransactionArgs } from '@openai/agents-core';
import { type AppliedTransaction, readItemList } from './records.js';

/** A history transaction as validated: what `applyHistoryTransaction` acts on. */
export type HistoryTransaction =
  | { readonly type: 'append_items'; readonly items: AgentInputItem[] }
  | {
      readonly type: 'replace_suffix';
      readonly expectedSuffix: AgentInputItem[];
      readonly replacement: AgentInputItem[];
    };

/** Validate the runner's arguments before any I/O; anything malformed is `CONFIG`. */
export function readTransactionArgs(args: unknown): {
  operationId: string;
  transaction: HistoryTransaction;
} {
  if (typeof args !== 'object' || args === null) {
    throw new ConfigError('history transaction arguments must be an object');
  }
  const { operationId, transaction } = args as Partial<SessionHistoryTransactionArgs>;
  if (typeof operationId !== 'string' || operationId.trim() === '') {
    throw new ConfigError('a history transaction needs a non-empty operationId');
  }
  if (typeof transaction !== 'object' || transaction === null) {
    throw new ConfigError('a history transaction must be an object');
  }
  if (transaction.type === 'append_items') {
    const items = readItemList(transaction.items, 'items');
    // An empty batch would have no event to record the operation on.
    if (items.length === 0) throw new ConfigError('an append_items transaction needs items');
    return { operationId, transaction: { type: 'append_items', items } };
  }
  if (transaction.type === 'replace_suffix') {
    return {
      operationId,
      transaction: {
        type: 'replace_suffix',
        expectedSuffix: readItemList(transaction.expectedSuffix, 'expectedSuffix'),
        replacement: readItemList(transaction.replacement, 'replacement'),
      },
    };
  }
  throw new ConfigError('a history transaction is append_items or replace_suffix');
}

/**
 * What is recorded for an applied transaction: its operation id and a SHA-256 digest
 * of its canonical JSON, enough to tell a retry from a different transaction reusing
 * the id without storing the items twice.
 */
export async function recordOf(
  operationId: string,
  transaction: HistoryTransaction,
): Promise<AppliedTransaction> {
  const bytes = new TextEncoder().encode(canonicalJson(transaction));
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const digest = Array.from(hash, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return { operationId, digest };
}

/** JSON equality the way the stored copy reads back: key order and `undefined` properties ignored. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, nested: unknown) => {
    if (typeof nested !== 'object' || nested === null || Array.isArray(nested)) return nested;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(nested).sort()) {
      sorted[key] = (nested as Record<string, unknown>)[key];
    }
    return sorted;
  });
}
