import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { storeTests } from './suites/store.js';

describeLanes(LOCAL_LANES, 'the store', storeTests);
