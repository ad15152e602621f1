export type { SessionLogRecord } from './records.js';
export {
  createEntelixSession,
  DEFAULT_MAX_ATTEMPTS,
  type EntelixSession,
  type EntelixSessionOptions,
} from './session.js';
