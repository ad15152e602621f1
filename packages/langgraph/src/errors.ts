import { EntelixError } from '@entelix/core';

/** The name the bridge's own errors carry: `[entelix] [langgraph] ...`. */
export const BRIDGE = 'langgraph';

/** True for an Entelix error with this code, from any copy of `@entelix/core`. */
export function hasCode(error: unknown, code: string): boolean {
  return EntelixError.isInstance(error) && error.code === code;
}
