export {
  type CacheNamespaceName,
  type CachePolicies,
  type CachePolicy,
  cacheNamespaceNames,
  cacheRuntime,
  defaultCachePolicies,
  jitteredTtl,
} from './cache.policies.js';
export {
  CacheAside,
  type CacheAsideOptions,
  type CacheCodec,
  type CacheNamespace,
  type CacheNamespaceOptions,
} from './cache-aside.js';
export { cacheKey } from './cache-key.js';
export { CacheMetrics, cacheMetrics, type NamespaceMetrics } from './cache-metrics.js';
export {
  CacheRedisAccess,
  type CacheStoreOptions,
  cacheStoreAccess,
  execBatch,
} from './cache-redis-access.js';
