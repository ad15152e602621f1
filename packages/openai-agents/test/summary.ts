import type { AgentInputItem } from '@openai/agents-core';

/**
 * One line per history item, for comparing a history with what a test expects:
 * `user: text`, `assistant: text`, `call <name> <arguments>`, `result <callId>: <text>`.
 */
export function summarize(items: readonly AgentInputItem[]): string[] {
  return items.map((item) => {
    switch (item.type) {
      case undefined:
      case 'message': {
        const content = (item as { content: unknown }).content;
        return `${(item as { role: string }).role}: ${textOf(content)}`;
      }
      case 'function_call':
        return `call ${item.name} ${item.arguments}`;
      case 'function_call_result':
        return `result ${item.callId}: ${textOf(item.output)}`;
      default:
        return item.type;
    }
  });
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map(textOf).join('');
  if (typeof content === 'object' && content !== null && 'text' in content) {
    return String((content as { text: unknown }).text);
  }
  return JSON.stringify(content);
}
