// The shapes of ../scenarios.json and of the seed's manifest, as the k6 scripts read them (k6
// has no zod; the runner of Quad's repository validates the same file with loadtests/scenarios.ts).

export type LoadProfile = 'full' | 'ci' | 'soak';
export type LatencyGroup = 'read' | 'write' | 'login' | 'call-join' | 'call-key' | 'call-leave';

export interface Phase {
  duration: number;
  arrivalRate: number;
  rampTo?: number;
}

export interface MixAction {
  name: string;
  weight: number;
  group: LatencyGroup;
  method: 'GET' | 'POST';
  path: string;
}

export interface Thresholds {
  errorRate: number;
  p99Ms?: Partial<Record<LatencyGroup, number>>;
  connectP99Ms?: number;
  ackP99Ms?: number;
  deliveryP99Ms?: number;
  deliveryRatio?: number;
}

export interface PhasedLoad {
  phases: Phase[];
  /** The profile's own bounds, over the scenario's. */
  thresholds?: Partial<Thresholds>;
}
/** The mix, optionally with `listeners` students connected over `connectSeconds` before its
 *  arrivals start at `startAfterSeconds` (the three go together). */
export interface MixLoad extends PhasedLoad {
  listeners?: number;
  connectSeconds?: number;
  startAfterSeconds?: number;
}
export interface SocketLoad extends PhasedLoad {
  holdSeconds: number;
  sends: number;
  typing: number;
}
export interface AnnouncementLoad {
  thresholds?: Partial<Thresholds>;
  listeners: number;
  connectSeconds: number;
  holdSeconds: number;
  sendAfterSeconds: number;
  sends: number;
  sendIntervalSeconds: number;
}

/** One class group call per arrival (see scenarios.ts, callLoad). */
export interface CallLoad {
  thresholds?: Partial<Thresholds>;
  calls: number;
  spreadSeconds: number;
  participants: number;
  holdSeconds: number;
}

export type ScenarioDefinition = {
  description: string;
  thresholds: Thresholds;
} & (
  | ({ kind: 'login' } & Partial<Record<LoadProfile, PhasedLoad>>)
  | ({ kind: 'mix' } & Partial<Record<LoadProfile, MixLoad>>)
  | ({ kind: 'socket' } & Partial<Record<LoadProfile, SocketLoad>>)
  | ({ kind: 'announcement' } & Partial<Record<LoadProfile, AnnouncementLoad>>)
  | ({ kind: 'calls' } & Partial<Record<LoadProfile, CallLoad>>)
);

export interface ScenariosFile {
  sessions: Partial<Record<LoadProfile, number>>;
  mix: { actions: MixAction[] };
  scenarios: Record<string, ScenarioDefinition | undefined>;
}

/** What `quad seed` writes (services/cli/seed-command.ts, SeedManifest). */
export interface Manifest {
  passwordKey: string;
  users: Array<{ username: string; id: string; role: string; classIndex: number }>;
  classes: Array<{ id: string; title: string; teacher: string; memberIds: string[] }>;
  announcements: Array<{ id: string; title: string; owner: string; members: string[] }>;
  directs: Array<{ id: string; usernames: [string, string] }>;
}
