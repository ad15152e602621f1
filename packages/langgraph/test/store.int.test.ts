import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { storeTests } from './suites/store.js';

describeLanes(SERVICE_LANES, 'the store', storeTests);
