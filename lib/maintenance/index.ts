export { CacheWarmUp, type WarmUpResult, type WarmUpSettings } from './cache-warm-up.js';
export { MaintenanceMetrics } from './maintenance-metrics.js';
export {
  messageRetentionDays,
  RETENTION_SETTING,
  RetentionCleanup,
  type RetentionResult,
} from './retention-cleanup.js';
export { deleteEndedSessions } from './session-cleanup.js';
export { type StaleRealtimeResult, StaleRealtimeSweep } from './stale-realtime-sweep.js';
