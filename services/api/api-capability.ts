import type { ApiRoute } from '../../lib/http/api-route.js';
import type { ProblemMapper } from '../../lib/http/error-handler.js';
import type { RateLimitPolicyName } from '../../lib/rate-limit/index.js';

/**
 * What a capability (accounts, conversations, ...) plugs into the api: its routes under
 * /api/v1 (mounted and documented in OpenAPI) and the mapping of its domain errors to
 * problems. main.ts builds each from the clients it creates; api-app.ts only assembles them.
 */
export interface ApiCapability {
  name: string;
  routes: readonly ApiRoute[];
  /** Routes whose caller proves itself by a signature over the raw body (LiveKit's webhook),
   *  not by a Quad credential: mounted before the credential check and the JSON parser, and
   *  documented like the others. They spend their own per-address budget, not the anonymous
   *  one: their one legitimate caller posts far more than a person at one address would. */
  signedRoutes?: { rateLimitPolicy: RateLimitPolicyName; routes: readonly ApiRoute[] };
  problems?: ProblemMapper;
}
