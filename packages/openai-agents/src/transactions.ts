import { ConfigError } from '@entelix/core';
import {
  type AgentInputItem,
  protocol,
  type SessionHistoryTransactionArgs,
} from '@openai/agents-core';
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
    assertFields(transaction, ['type', 'items']);
    const items = readModelItems(transaction.items, 'items');
    // An empty batch would have no event to record the operation on.
    if (items.length === 0) throw new ConfigError('an append_items transaction needs items');
    return { operationId, transaction: { type: 'append_items', items } };
  }
  if (transaction.type === 'replace_suffix') {
    assertFields(transaction, ['type', 'expectedSuffix', 'replacement']);
    return {
      operationId,
      transaction: {
        type: 'replace_suffix',
        expectedSuffix: readModelItems(transaction.expectedSuffix, 'expectedSuffix'),
        replacement: readModelItems(transaction.replacement, 'replacement'),
      },
    };
  }
  throw new ConfigError('a history transaction is append_items or replace_suffix');
}

/**
 * A transaction holds its type's fields and no other, as `MemorySession` requires: a
 * field this code does not know could be one a newer runner relies on.
 */
function assertFields(transaction: { type: string }, fields: readonly string[]): void {
  const unknown = Object.keys(transaction).find((field) => !fields.includes(field));
  if (unknown !== undefined) {
    throw new ConfigError(
      `${transaction.type} transactions have no field ${JSON.stringify(unknown)}, only ${fields.join(', ')}`,
    );
  }
}

/**
 * Items of a transaction, each checked against the Agents SDK's own item schema, as
 * `MemorySession` checks them: the runner writes these to replace a model's answer, so
 * an item the model could not read back is refused before anything is written.
 */
function readModelItems(items: unknown, what: string): AgentInputItem[] {
  const list = readItemList(items, what);
  list.forEach((item, index) => {
    if (!protocol.ModelItem.safeParse(item).success) {
      throw new ConfigError(
        `${what}[${index}] is not a history item of the Agents SDK (its protocol.ModelItem schema)`,
      );
    }
  });
  return list;
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
    // Without a prototype, a "__proto__" key is a property like any other, not a setter.
    const sorted: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(nested).sort()) {
      sorted[key] = (nested as Record<string, unknown>)[key];
    }
    return sorted;
  });
}
