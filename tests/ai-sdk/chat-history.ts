// chat-history.ts
import { isDeepStrictEqual } from 'node:util';
import { type Persistence, ThreadKey } from '@entelix/core';
import type { UIMessage } from 'ai';

/** One event of a chat's log: a message, or the marker a rewritten chat starts with. */
export interface ChatLogRecord<M extends UIMessage = UIMessage> {
  message?: M;
  startsChat?: true;
}

/** A chat as it was read: its messages and the log head they were read at. */
export interface LoadedChat<M extends UIMessage = UIMessage> {
  readonly messages: M[];
  readonly head: number;
}

/**
 * The messages of one chat of one tenant, one event per message. A save is one
 * conditional append against the head the chat was loaded at: if anything else was
 * written since (another tab, another server), it fails with CONFLICT and writes nothing.
 */
export function chatHistory<M extends UIMessage = UIMessage>(
  persistence: Persistence,
  tenantId: string,
  chatId: string,
) {
  const key = ThreadKey.of(tenantId, chatId); // INVALID_ID for a bad id, before any I/O
  const log = persistence.sessionLog<ChatLogRecord<M>>();

  return {
    async load(): Promise<LoadedChat<M>> {
      // The head first: an append between the two reads makes the next save fail.
      const head = await log.head(key);
      const events = await log.loadSince(key, 0);
      let start = 0;
      events.forEach((event, index) => {
        if (event.event.startsChat) start = index;
      });
      const messages = events.slice(start).flatMap((event) => event.event.message ?? []);
      return { messages, head };
    },

    /** Store `messages` as the chat's new content; returns what a later save builds on. */
    async save(loaded: LoadedChat<M>, messages: M[]): Promise<LoadedChat<M>> {
      const kept = loaded.messages.every((message, i) => isDeepStrictEqual(message, messages[i]));
      if (kept) {
        // An ordinary turn: append what is new.
        const added = messages.slice(loaded.messages.length).map((message) => ({ message }));
        const head = await log.append(key, added, { expectedHead: loaded.head });
        return { messages, head };
      }
      // A stored message changed (a continuation extends the last assistant message, a
      // regeneration replaces it): write the chat anew, marker first, in one append.
      const records: ChatLogRecord<M>[] =
        messages.length === 0
          ? [{ startsChat: true }]
          : messages.map((message, i) => (i === 0 ? { startsChat: true, message } : { message }));
      const head = await log.append(key, records, { expectedHead: loaded.head });
      // Only what the marker superseded; a crash before this line leaves it to be skipped.
      await log.archiveBefore(key, head - records.length + 1);
      return { messages, head };
    },
  };
}
