import { Checkpoint, CheckpointId, EntelixError, Namespace, ThreadKey } from '@entelix/core';

const key = ThreadKey.of('acme', 'support-thread-1');
const first = Checkpoint.create({ key, step: 0, state: { messages: ['hi'] }, nextNode: 'agent' });
console.log(`checkpoint ${first.id} for ${key.tenantId}/${key.threadId}, step ${first.step}`);

const ns = Namespace.of('acme', 'users', 'u:42');
console.log(
  `namespace renders as ${ns.render()} and parses back to [${Namespace.parse(ns.render()).scope.join(', ')}]`,
);

try {
  ThreadKey.of('', 'thread');
} catch (error) {
  if (EntelixError.isInstance(error)) console.log(`empty tenant rejected: ${error.code}`);
}
const earlier = CheckpointId.create();
const later = CheckpointId.create();
console.log(`ids are monotonic: ${earlier < later}`);
