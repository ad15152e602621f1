import { describe } from 'vitest';
import { filterTests } from './filters.js';
import { mockPersistence } from './support.js';

describe('filters evaluated in Lua (ioredis-mock, Lua 5.3)', () => {
  filterTests(() => mockPersistence());
});
