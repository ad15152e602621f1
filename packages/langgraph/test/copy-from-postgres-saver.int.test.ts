import { describeLanes, LOCAL_LANES, SERVICE_LANES } from '../../../test-support/lanes.js';
import { describeWithService } from '../../../test-support/services.js';
import { copyFromPostgresSaverTests } from './suites/copy-from-postgres-saver.js';

describeWithService('DATABASE_URL', "moving in from LangGraph's PostgresSaver", (url) => {
  describeLanes([...LOCAL_LANES, ...SERVICE_LANES], 'into Entelix', (lane) =>
    copyFromPostgresSaverTests(lane, url),
  );
});
