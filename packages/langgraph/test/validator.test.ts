import { describeLanes, LOCAL_LANES } from '../../../test-support/lanes.js';
import { validatorTests } from './suites/validator.js';

describeLanes(LOCAL_LANES, "LangGraph's checkpoint validator", validatorTests);
