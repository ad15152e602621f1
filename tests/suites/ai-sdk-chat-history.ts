import { ThreadKey } from '@entelix/core';
import type { UIMessage } from 'ai';
import { MockLanguageModelV3, simulateReadableStream } from 'ai/test';
import { expect, it } from 'vitest';
import { type Lane, openLane, randomId } from '../../test-support/lanes.js';
import { type ChatLogRecord, chatHistory } from '../ai-sdk/chat-history.js';
import { handleChat } from '../ai-sdk/route.js';

/** A model that streams `text` as one text part. */
function modelSaying(text: string): MockLanguageModelV3 {
  return new MockLanguageModelV3({
    doStream: async () => ({
      stream: simulateReadableStream({
        chunks: [
          { type: 'stream-start', warnings: [] },
          { type: 'text-start', id: 'text-1' },
          { type: 'text-delta', id: 'text-1', delta: text },
          { type: 'text-end', id: 'text-1' },
          {
            type: 'finish',
            finishReason: { unified: 'stop', raw: undefined },
            usage: {
              inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
              outputTokens: { total: 1, text: 1, reasoning: 0 },
            },
          },
        ],
      }),
    }),
  });
}

const userSays = (text: string): UIMessage => ({
  id: crypto.randomUUID(),
  role: 'user',
  parts: [{ type: 'text', text }],
});

const textOf = (message: UIMessage) =>
  message.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');

/** The recipe of docs/ai-sdk.md, run as the guide shows it, over one lane's storage. */
export function chatHistoryTests(lane: Lane): void {
  const opened = openLane(lane);

  /** POST one message through the recipe's route handler and read the whole stream. */
  async function post(tenantId: string, chatId: string, message: UIMessage, reply: string) {
    const request = new Request('http://localhost/api/chat', {
      method: 'POST',
      body: JSON.stringify({ id: chatId, message }),
    });
    const response = await handleChat(opened.persistence, tenantId, request, modelSaying(reply));
    await response.text(); // onFinish runs once the stream is consumed
  }
  const eventsOf = (tenantId: string, chatId: string) =>
    opened.persistence.sessionLog<ChatLogRecord>().loadSince(ThreadKey.of(tenantId, chatId), 0);

  it('keeps the turns of a chat, appending only what is new', async () => {
    const tenantId = randomId('tenant');
    const chatId = randomId('chat');
    await post(tenantId, chatId, userSays('Hi'), 'Hello!');
    await post(tenantId, chatId, userSays('How are you?'), 'Fine.');
    const { messages, head } = await chatHistory(opened.persistence, tenantId, chatId).load();
    expect(messages.map((message) => [message.role, textOf(message)])).toEqual([
      ['user', 'Hi'],
      ['assistant', 'Hello!'],
      ['user', 'How are you?'],
      ['assistant', 'Fine.'],
    ]);
    expect(head).toBe(4);
    expect((await eventsOf(tenantId, chatId)).map((event) => event.seq)).toEqual([1, 2, 3, 4]);
  });

  it('a continuation replaces the last assistant message atomically, with fresh ordinals', async () => {
    const tenantId = randomId('tenant');
    const chatId = randomId('chat');
    await post(tenantId, chatId, userSays('Tell me a story'), 'Once upon');
    const before = await chatHistory(opened.persistence, tenantId, chatId).load();
    const assistant = before.messages.at(-1)!;
    await post(tenantId, chatId, assistant, ' a time.');

    const after = await chatHistory(opened.persistence, tenantId, chatId).load();
    expect(after.messages.map((message) => message.id)).toEqual(
      before.messages.map((message) => message.id),
    );
    expect(textOf(after.messages.at(-1)!)).toBe('Once upon a time.');
    // One rewrite: a marker with the first message, then the rest; the old events archived.
    const events = await eventsOf(tenantId, chatId);
    expect(events.map((event) => event.seq)).toEqual([3, 4]);
    expect(events[0]?.event.startsChat).toBe(true);
  });

  it('a regeneration replaces the answer to the resent user message', async () => {
    const tenantId = randomId('tenant');
    const chatId = randomId('chat');
    const question = userSays('Pick a number');
    await post(tenantId, chatId, question, '7');
    await post(tenantId, chatId, question, '8');
    const { messages } = await chatHistory(opened.persistence, tenantId, chatId).load();
    expect(messages.map((message) => [message.role, textOf(message)])).toEqual([
      ['user', 'Pick a number'],
      ['assistant', '8'],
    ]);
    expect(messages[0]?.id).toBe(question.id);
  });

  it('a save from a stale load loses its conditional append with CONFLICT and writes nothing', async () => {
    const tenantId = randomId('tenant');
    const chatId = randomId('chat');
    const tab = chatHistory(opened.persistence, tenantId, chatId);
    const otherTab = chatHistory(await opened.storage.open(), tenantId, chatId);
    const first = await tab.save(await tab.load(), [userSays('one')]);
    const seenByBoth = await otherTab.load();
    expect(seenByBoth).toEqual(first);

    await tab.save(first, [...first.messages, userSays('two from this tab')]);
    for (const attempt of [
      [...seenByBoth.messages, userSays('two from the other tab')],
      [userSays('a rewrite from the other tab')],
    ]) {
      await expect(otherTab.save(seenByBoth, attempt)).rejects.toMatchObject({ code: 'CONFLICT' });
    }
    const stored = await tab.load();
    expect(stored.messages.map(textOf)).toEqual(['one', 'two from this tab']);
    expect(stored.head).toBe(2);
  });

  it('keeps two tenants with the same chat id apart', async () => {
    const chatId = randomId('chat');
    const acme = randomId('acme');
    const globex = randomId('globex');
    await post(acme, chatId, userSays('acme only'), 'ok');
    await post(globex, chatId, userSays('globex only'), 'ok');
    const texts = async (tenantId: string) =>
      (await chatHistory(opened.persistence, tenantId, chatId).load()).messages.map(textOf);
    expect(await texts(acme)).toEqual(['acme only', 'ok']);
    expect(await texts(globex)).toEqual(['globex only', 'ok']);
  });

  it('a bad chat id is INVALID_ID, an unserialisable message SERIALIZATION, and nothing is written', async () => {
    const tenantId = randomId('tenant');
    for (const chatId of ['', 'a\u0000b', 'x'.repeat(257)]) {
      expect(() => chatHistory(opened.persistence, tenantId, chatId)).toThrow(
        expect.objectContaining({ code: 'INVALID_ID' }),
      );
    }
    const chatId = randomId('chat');
    const chat = chatHistory(opened.persistence, tenantId, chatId);
    const loaded = await chat.load();
    const dated = { ...userSays('when'), metadata: { at: new Date(0) } };
    await expect(chat.save(loaded, [userSays('fine'), dated])).rejects.toMatchObject({
      code: 'SERIALIZATION',
    });
    expect(await opened.persistence.sessionLog().head(ThreadKey.of(tenantId, chatId))).toBe(0);
  });
}
