import { Counter, Gauge, type Registry } from 'prom-client';

/** The calls' metrics (dashboard row "Calls"). Never a key, never a user id in a label. */
export function callMetrics(registry: Registry) {
  return {
    live: new Gauge({
      name: 'calls_live',
      help: 'Calls live now, as the last reconciliation counted them',
      registers: [registry],
    }),
    participants: new Gauge({
      name: 'call_participants',
      help: 'Participants in live calls, as the last reconciliation counted them',
      registers: [registry],
    }),
    participantSeconds: new Counter({
      name: 'call_participant_seconds_total',
      help: 'Time spent in calls, summed over participants (call minutes = this / 60), counted at each leave',
      registers: [registry],
    }),
    webhookEvents: new Counter({
      name: 'livekit_webhook_events_total',
      help: 'LiveKit webhook events received, by event and result (applied, duplicate, ignored, refused)',
      labelNames: ['event', 'result'] as const,
      registers: [registry],
    }),
    corrections: new Counter({
      name: 'call_reconciliation_corrections_total',
      help: 'Differences between the recorded call state and LiveKit corrected by the reconciler, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    rotations: new Counter({
      name: 'call_key_rotations_total',
      help: 'Media keys replaced in live calls, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}

export type CallMetrics = ReturnType<typeof callMetrics>;
