import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { costTests } from './suites/cost.js';

describeLanes(LOCAL_LANES, 'the Entelix session', costTests);
