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
export type { StoreSpec } from './open.ts';
export { registryKey, registryPrefix } from './keys.ts';
