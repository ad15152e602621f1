import { assertNewestFence, type DriverWrite } from '@entelix/core/adapter';

declare function readFenceCounter(lockKey: string): bigint; // 0n before any grant

function checkFence(call: DriverWrite): void {
  if (call.fence === undefined) return;
  // Throws FencedError unless the fence is exactly the newest grant.
  assertNewestFence(call.fence, readFenceCounter(call.fence.lockKey), 'acme-kv');
}

export {};
