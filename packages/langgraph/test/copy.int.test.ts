import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { copyFromMemorySaverTests } from './suites/copy.js';

describeLanes(SERVICE_LANES, 'moving in from MemorySaver', copyFromMemorySaverTests);
