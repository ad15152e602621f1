interface KeyValueClient {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
  delete(key: string): boolean;
  keys(prefix: string): Iterable<string>;
}

export {};
