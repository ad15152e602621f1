import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { sessionTests } from './suites/session.js';

describeLanes(SERVICE_LANES, 'the Entelix session', sessionTests);
