// The store's front door: the Datastore contract and openDatastore(spec).
export type {
  Datastore,
  ListOptions,
  ListResult,
  StoredObject,
  TxnOp,
  TxnOpResult,
  TxnResult,
  Watch,
  WatchEvent,
  WatchEventType,
  StoreErrorCode,
} from './types.ts';
export {
  StoreError,
  CompactedError,
  FutureRevisionError,
  WatchOverflowError,
  StoreUnavailableError,
} from './types.ts';
export { openDatastore, parseStoreSpec } from './open.ts';
export type { StoreSpec, SpecResult, OpenOptions } from './open.ts';
export { DEFAULT_WATCH_BUFFER_LIMIT } from './watch-queue.ts';
export { registryKey, registryPrefix, REGISTRY_ROOT } from './keys.ts';
export type { RegistryKeyParts } from './keys.ts';
