export {
  type BaseConfig,
  loadDatabaseConfig,
  loadOrExit,
  loadServiceConfig,
  type PostgresSettings,
  type Profile,
  parseClusterNodes,
  type RedisEndpoint,
  type RedisNode,
  type ServiceConfig,
  type ServiceName,
} from './config.loader.js';
export { ConfigError, type ConfigProblem } from './config-error.js';
