import type { SeedManifest } from '../services/cli/seed-command.js';

/**
 * The calls scenario's pure parts, shared by the runner (which people to log in) and the
 * Artillery processor (what a listener should have received): no I/O here, so they are unit
 * tested (call-plan.test.ts).
 */

/** One class of the seed as a call needs it: students who call, and another who listens. */
export interface CallClass {
  conversationId: string;
  participants: string[];
  listener: string;
}

/**
 * The first `count` classes with room for `participants` students and a listener, each with its
 * first students as participants and the next as listener. Students only: the teacher owns the
 * class conversation and may end calls, which a participant of this scenario never does.
 */
export function callClasses(
  manifest: Pick<SeedManifest, 'users' | 'classes'>,
  count: number,
  participants: number,
): CallClass[] {
  const studentsOf = new Map<number, string[]>();
  for (const user of manifest.users) {
    if (user.role !== 'student') continue;
    studentsOf.set(user.classIndex, [...(studentsOf.get(user.classIndex) ?? []), user.username]);
  }
  const chosen: CallClass[] = [];
  for (const [index, klass] of manifest.classes.entries()) {
    if (chosen.length === count) break;
    const students = studentsOf.get(index) ?? [];
    const listener = students[participants];
    if (listener === undefined) continue;
    chosen.push({
      conversationId: klass.id,
      participants: students.slice(0, participants),
      listener,
    });
  }
  if (chosen.length === 0) {
    throw new Error(`no class of the seed has ${participants + 1} students for the calls scenario`);
  }
  return chosen;
}

export const callEventNames = [
  'call:started',
  'call:participant-joined',
  'call:participant-left',
  'call:ended',
] as const;
export type CallEventName = (typeof callEventNames)[number];

/** A call:* event as the listener received it. */
export interface ReceivedCallEvent {
  name: CallEventName;
  callId: string;
  userId?: string;
  /** The server's emittedAt and the arrival, both in ms since the epoch. */
  emittedAt: number;
  arrivedAt: number;
}

/** What a member hears of one call of `participants` who all joined and left: it started, each
 *  joined and left, and it ended. */
export function expectedCallEvents(participants: number): number {
  return 2 + 2 * participants;
}

/**
 * The distinct events of `callId` among those received (a call:* event can be announced twice:
 * the worker's outbox relay repeats one whose first publish it cannot confirm), each once, with
 * the latency of its first arrival.
 */
export function callDeliveries(
  received: readonly ReceivedCallEvent[],
  callId: string,
): Array<{ name: CallEventName; userId?: string; latencyMs: number }> {
  const first = new Map<string, ReceivedCallEvent>();
  for (const event of received) {
    if (event.callId !== callId) continue;
    const identity = `${event.name} ${event.userId ?? ''}`;
    if (!first.has(identity)) first.set(identity, event);
  }
  return [...first.values()].map((event) => ({
    name: event.name,
    ...(event.userId === undefined ? {} : { userId: event.userId }),
    latencyMs: event.arrivedAt - event.emittedAt,
  }));
}
