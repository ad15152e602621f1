import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { runnerTests } from './suites/runner.js';

describeLanes(LOCAL_LANES, 'a real Runner with an Entelix session', runnerTests);
