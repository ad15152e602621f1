import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { storeDifferentialTests } from './suites/store-differential.js';

describeLanes(SERVICE_LANES, "the store against LangGraph's InMemoryStore", storeDifferentialTests);
