import { runConformance } from '@entelix/conformance';
import { describeWithService } from '../../../test-support/services.js';
import { realServerTarget } from './pg-support.js';

// A fresh schema per run, migrated by the owner; the suite itself connects as a
// non-superuser application role so forced row-level security is really in force.
describeWithService('DATABASE_URL', 'postgres conformance (application role)', (url) => {
  runConformance(realServerTarget('postgres', url));
});

describeWithService('DATABASE_URL', 'postgres conformance (prepared statements)', (url) => {
  runConformance(
    realServerTarget('postgres (preparedStatements)', url, undefined, { preparedStatements: true }),
  );
});
