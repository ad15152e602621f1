import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { copyFromMemorySaverTests } from './suites/copy.js';

describeLanes(LOCAL_LANES, 'moving in from MemorySaver', copyFromMemorySaverTests);
