import { Redis } from 'ioredis';

const client = new Redis('redis://127.0.0.1:6379', {
  maxRetriesPerRequest: 0, // reject queued and in-flight commands at each failed reconnection
  autoResendUnfulfilledCommands: false, // never re-send a script that may already have run
  retryStrategy: (attempt: number) => Math.min(attempt * 50, 500), // retry at most every 500 ms
});

export {};
