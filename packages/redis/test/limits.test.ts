import { describe } from 'vitest';
import { limitTests } from './limits.js';
import { mockPersistence } from './support.js';

describe('page and batch sizes beyond Lua and JavaScript limits (ioredis-mock)', () => {
  limitTests(() => mockPersistence(), { checkpoints: 300, events: 100_000, writes: 2_000 });
});
