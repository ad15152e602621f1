import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { saverTests } from './suites/saver.js';

describeLanes(LOCAL_LANES, 'the saver', saverTests);
