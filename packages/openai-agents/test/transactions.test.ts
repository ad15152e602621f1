import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { transactionTests } from './suites/transactions.js';

describeLanes(LOCAL_LANES, 'history transactions', transactionTests);
