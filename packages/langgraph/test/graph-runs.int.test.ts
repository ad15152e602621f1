import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { graphRunTests } from './suites/graph-runs.js';

describeLanes(SERVICE_LANES, 'real graphs, step by step against MemorySaver', graphRunTests);
