import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { saverTests } from './suites/saver.js';

describeLanes(SERVICE_LANES, 'the saver', saverTests);
