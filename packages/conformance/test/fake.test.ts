import { runConformance } from '@entelix/conformance';
import { createFakePersistence, createFakeStorage } from './fake.js';

// The correct fake must pass everything, so each broken fake's failures come from its flaw.
const storage = createFakeStorage();
runConformance({ name: 'inline fake', create: () => createFakePersistence(storage) });
