import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { graphRunTests } from './suites/graph-runs.js';

describeLanes(LOCAL_LANES, 'real graphs, step by step against MemorySaver', graphRunTests);
