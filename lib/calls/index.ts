export type { CallPresence, CallView, JoinAnswer, LiveCallMarker } from './call.service.js';
export { CallService } from './call.service.js';
export {
  CallPermissionError,
  CallsUnavailableError,
  NoLiveCallError,
  WebhookSignatureError,
} from './call-errors.js';
export { CallReconciler } from './call-reconciler.js';
export { type CallKey, type CallParticipantState, CallStateStore } from './call-state.store.js';
export { callsConsumer } from './calls-consumer.js';
export { callOfRoom, createLiveKit, type LiveKit, roomOfCall } from './livekit.js';
export { LiveKitWebhooks, type WebhookOutcome } from './livekit-webhooks.js';
