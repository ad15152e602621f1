import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { transactionTests } from './suites/transactions.js';

describeLanes(SERVICE_LANES, 'history transactions', transactionTests);
