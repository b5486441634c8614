export {
  type BaseConfig,
  loadDatabaseConfig,
  loadOrExit,
  loadServiceConfig,
  type PostgresSettings,
  type Profile,
  type RedisEndpoint,
  type ServiceConfig,
  type ServiceName,
} from './config.loader.js';
export { ConfigError, type ConfigProblem } from './config-error.js';
