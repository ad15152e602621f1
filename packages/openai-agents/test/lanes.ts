import type { Persistence } from '@entelix/core';
import { createMemoryDatabase, createMemoryPersistence } from '@entelix/memory';
import { runScriptedTurn, type TurnJob, type TurnOutcome } from './scripted-turn.js';

/** The storage one test file runs on. */
export interface Lane {
  /** A new bundle over the lane's storage; every bundle sees the same data. */
  create(): Promise<Persistence>;
  /**
   * Run one agent turn in another process over the same storage. The job and its
   * outcome are plain JSON so that they can cross a process boundary unchanged.
   */
  runTurnInAnotherProcess(job: TurnJob): Promise<TurnOutcome>;
  /** Close every bundle the lane created and whatever else it opened. */
  teardown(): Promise<void>;
}

/** A backend the Session is tested on. */
export interface LaneDefinition {
  readonly name: string;
  start(): Promise<Lane>;
}

/**
 * Every lane the tests run on. Only the memory backend runs on this contract today;
 * Postgres (PGlite, `pg`) and Redis lanes are added here once their session logs have
 * `loadLatest` and conditional appends. Such a lane's
 * `runTurnInAnotherProcess` forks a Node process that opens its own bundle over the
 * same server and runs {@link runScriptedTurn} there.
 */
export const LANES: readonly LaneDefinition[] = [
  {
    name: 'memory',
    async start() {
      // The memory backend is single-process: "another process" is a second bundle
      // over the same database, sharing nothing else with the first.
      const database = createMemoryDatabase();
      const opened: Persistence[] = [];
      const open = () => {
        const persistence = createMemoryPersistence({ database });
        opened.push(persistence);
        return persistence;
      };
      return {
        async create() {
          return open();
        },
        async runTurnInAnotherProcess(job) {
          return runScriptedTurn(open(), job);
        },
        async teardown() {
          await Promise.all(opened.map((persistence) => persistence.close()));
        },
      };
    },
  },
];
