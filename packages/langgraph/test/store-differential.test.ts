import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { storeDifferentialTests } from './suites/store-differential.js';

describeLanes(LOCAL_LANES, "the store against LangGraph's InMemoryStore", storeDifferentialTests);
