// Every tenant's expired items; returns how many rows were deleted.
const evicted = await persistence.store().evictExpired();
// Or one tenant only:
await persistence.store().evictExpired('acme');

export {};
