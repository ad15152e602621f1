import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { runnerTests } from './suites/runner.js';

describeLanes(SERVICE_LANES, 'a real Runner with an Entelix session', runnerTests);
