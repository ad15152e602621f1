import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { costTests } from './suites/cost.js';

describeLanes(SERVICE_LANES, 'the Entelix session', costTests);
