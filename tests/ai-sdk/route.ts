// route.ts
import type { Persistence } from '@entelix/core';
import {
  convertToModelMessages,
  type LanguageModel,
  streamText,
  type UIMessage,
  validateUIMessages,
} from 'ai';
import { chatHistory } from './chat-history.js';

/**
 * POST /api/chat. The client sends only its newest message (`prepareSendMessagesRequest`
 * in `useChat`); the tenant comes from your authentication, never from the body.
 */
export async function handleChat(
  persistence: Persistence,
  tenantId: string,
  request: Request,
  model: LanguageModel,
): Promise<Response> {
  const body = (await request.json()) as { id: string; message: unknown };
  // One message in, one validated message out.
  const [message] = (await validateUIMessages<UIMessage>({ messages: [body.message] })) as [
    UIMessage,
  ];
  const chat = chatHistory(persistence, tenantId, body.id);
  const loaded = await chat.load();
  // A message the chat already has replaces it and ends the chat there: a continuation
  // resends the last assistant message, a regeneration the user message before it.
  const at = loaded.messages.findIndex((stored) => stored.id === message.id);
  const messages = [...(at === -1 ? loaded.messages : loaded.messages.slice(0, at)), message];

  const result = streamText({ model, messages: await convertToModelMessages(messages) });
  return result.toUIMessageStreamResponse({
    originalMessages: messages,
    generateMessageId: () => crypto.randomUUID(),
    onFinish: async ({ messages: finished }) => {
      await chat.save(loaded, finished); // CONFLICT: another tab wrote first; reload the chat
    },
  });
}
