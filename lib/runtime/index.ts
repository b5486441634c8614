export type { CacheStores, DomainServices } from './domain-services.js';
export {
  type CallServices,
  type ExtraConnectionRole,
  type RedisRole,
  Runtime,
  type RuntimeOptions,
} from './runtime.js';
export { ServiceRuntime, startServiceRuntime } from './service-runtime.js';
export { readPackageVersion } from './version.js';
