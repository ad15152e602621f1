import { ConfigError } from './errors.js';
import { CheckpointId, describe, ThreadKey, validateId } from './ids.js';
import {
  assertNonNegativeInteger,
  assertPositiveInteger,
  type CallOptions,
  readOptions,
  type WriteOptions,
} from './options.js';

/** A snapshot of a graph's state on one thread. Immutable once written. */
export interface Checkpoint<S> {
  readonly id: CheckpointId;
  readonly key: ThreadKey;
  readonly parentId: CheckpointId | null;
  /** The graph step; a non-negative safe integer. Not used for ordering. */
  readonly step: number;
  readonly state: S;
  /** The node to run next, or `null` when the graph is at rest. */
  readonly nextNode: string | null;
  readonly createdAt: Date;
}

/** What {@link Checkpoint.create} needs. */
export interface CheckpointInput<S> {
  key: ThreadKey;
  step: number;
  state: S;
  nextNode?: string | null;
  parentId?: CheckpointId | string | null;
}

/** Options of {@link Checkpointer.listHistory}. */
export interface ListHistoryOptions extends CallOptions {
  /** How many checkpoints at most; a positive integer. */
  limit: number;
  /** Only checkpoints written before this one (keyset paging). */
  before?: CheckpointId | string;
}

/**
 * Graph-state snapshots per thread. "Latest" and history order are the order in which
 * checkpoints were written, assigned by the backend, never `step` or a client clock.
 */
export interface Checkpointer<S> {
  /** Store a new checkpoint. `CONFLICT` if its id already exists on that thread. */
  put(checkpoint: Checkpoint<S>, options?: WriteOptions): Promise<void>;
  /** The last checkpoint written on the thread, or `undefined`. */
  getLatest(key: ThreadKey, options?: CallOptions): Promise<Checkpoint<S> | undefined>;
  /** One checkpoint of the thread, or `undefined`. */
  getById(
    key: ThreadKey,
    id: CheckpointId | string,
    options?: CallOptions,
  ): Promise<Checkpoint<S> | undefined>;
  /** Checkpoints newest first, at most `limit`, written before `before` when given. */
  listHistory(key: ThreadKey, options: ListHistoryOptions): Promise<Checkpoint<S>[]>;
  /**
   * Fork: write a new checkpoint whose parent is `parentId`, with `step = parent.step + 1`
   * and the parent's `nextNode`. It becomes the latest. `NOT_FOUND` if the parent is missing.
   */
  updateState(
    key: ThreadKey,
    parentId: CheckpointId | string,
    state: S,
    options?: WriteOptions,
  ): Promise<CheckpointId>;
  /** Delete every checkpoint of the thread; returns how many were deleted. */
  deleteThread(key: ThreadKey, options?: WriteOptions): Promise<number>;
}

/** Helpers for {@link Checkpoint} values. */
export const Checkpoint = {
  /** A new checkpoint with a fresh UUIDv7 id and `createdAt = now`. */
  create<S>(input: CheckpointInput<S>): Checkpoint<S> {
    const fields = readOptions<CheckpointInput<S>>(input, 'checkpoint input');
    return Object.freeze({
      id: CheckpointId.create(),
      key: ThreadKey.from(fields.key),
      parentId: fields.parentId == null ? null : CheckpointId.parse(fields.parentId),
      step: assertNonNegativeInteger(fields.step, 'step'),
      state: fields.state as S,
      nextNode: validateNextNode(fields.nextNode),
      createdAt: new Date(),
    });
  },
  /**
   * Re-validate a checkpoint handed to `put` (it may have been cast past the types)
   * and return a normalized copy. Throws `INVALID_ID` or `CONFIG`.
   */
  validate<S>(checkpoint: unknown): Checkpoint<S> {
    if (typeof checkpoint !== 'object' || checkpoint === null) {
      throw new ConfigError(`checkpoint must be an object, got ${describe(checkpoint)}`);
    }
    const cp = checkpoint as Record<string, unknown>;
    const createdAt = cp.createdAt;
    if (!(createdAt instanceof Date) || Number.isNaN(createdAt.getTime())) {
      throw new ConfigError('checkpoint.createdAt must be a valid Date');
    }
    return {
      id: CheckpointId.parse(cp.id),
      key: ThreadKey.from(cp.key),
      parentId: cp.parentId == null ? null : CheckpointId.parse(cp.parentId),
      step: assertNonNegativeInteger(cp.step, 'checkpoint.step'),
      state: cp.state as S,
      nextNode: validateNextNode(cp.nextNode),
      createdAt,
    };
  },
};

function validateNextNode(nextNode: unknown): string | null {
  return nextNode == null ? null : validateId(nextNode, 'nextNode');
}

/** Validate `listHistory` options: a positive `limit` and an optional checkpoint id. */
export function readListHistoryOptions(options: unknown): {
  limit: number;
  before: CheckpointId | undefined;
  signal: AbortSignal | undefined;
} {
  const opts = readOptions<ListHistoryOptions>(options, 'listHistory options');
  return {
    limit: assertPositiveInteger(opts.limit, 'limit'),
    before: opts.before === undefined ? undefined : CheckpointId.parse(opts.before),
    signal: opts.signal,
  };
}
