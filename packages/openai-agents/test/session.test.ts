import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { sessionTests } from './suites/session.js';

describeLanes(LOCAL_LANES, 'the Entelix session', sessionTests);
