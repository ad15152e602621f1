import { describeLanes, SERVICE_LANES } from '../../../test-support/lanes.js';
import { validatorTests } from './suites/validator.js';

describeLanes(SERVICE_LANES, "LangGraph's checkpoint validator", validatorTests);
