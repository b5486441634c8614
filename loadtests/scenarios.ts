import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * loadtests/scenarios.json, validated: the runner here (loadtests/run.ts) reads it through this
 * module, the k6 scripts read the same file with k6's open(). A number changed in the JSON
 * changes both; a malformed file stops the runner before any load is sent.
 */

const phase = z.strictObject({
  duration: z.int().positive(),
  arrivalRate: z.number().positive(),
  rampTo: z.number().positive().optional(),
});

/** read, write, login: the school-day requests; call-join, call-key, call-leave: the calls
 *  scenario's POST .../call, GET .../call/key and POST .../call/leave. */
const latencyGroups = z.enum(['read', 'write', 'login', 'call-join', 'call-key', 'call-leave']);
export type LatencyGroup = z.infer<typeof latencyGroups>;

const thresholds = z.strictObject({
  /** Failed requests, socket connections and acks over all attempts. */
  errorRate: z.number().min(0).max(1),
  p99Ms: z.partialRecord(latencyGroups, z.number().positive()).optional(),
  connectP99Ms: z.number().positive().optional(),
  ackP99Ms: z.number().positive().optional(),
  /** From the server event's emittedAt to its arrival at the client. */
  deliveryP99Ms: z.number().positive().optional(),
  /** Deliveries received over deliveries expected (announcement: every announcement to every
   *  listener; calls: every call:* event of each call to the class member listening). */
  deliveryRatio: z.number().min(0).max(1).optional(),
  /** Growth of each service's RSS and of each Redis's used_memory, in MiB per hour: the
   *  least-squares slope of the samples after the run's first quarter (its warm-up, while
   *  caches, pools and the JIT fill). A soak's leak test: a bounded cache levels off. */
  memorySlopeMiBPerHour: z.number().positive().optional(),
});
export type Thresholds = z.infer<typeof thresholds>;

const profileNames = ['full', 'ci', 'soak'] as const;
export type ProfileName = (typeof profileNames)[number];

/** A profile may loosen or tighten a scenario's thresholds (the ci profile's run on a shared
 *  CI machine beside the load generator, so its latency bounds catch breakage, not capacity). */
const thresholdOverrides = thresholds.partial().optional();

const phasedLoad = z.strictObject({
  phases: z.array(phase).min(1),
  thresholds: thresholdOverrides,
});
const socketLoad = phasedLoad.extend({
  holdSeconds: z.int().positive(),
  sends: z.int().min(0),
  typing: z.int().min(0),
});
/** The school-day mix (steady, soak), optionally with students connected for its whole run:
 *  `listeners` of the logged-in students connect a socket over `connectSeconds` and join their
 *  conversations; the mix's arrivals start `startAfterSeconds` after the first connect (so no
 *  send happens before they listen), and the listeners stay the same margin after the last
 *  arrival, so that the last sends are delivered before they leave. */
const mixLoad = phasedLoad
  .extend({
    listeners: z.int().positive().optional(),
    connectSeconds: z.int().positive().optional(),
    startAfterSeconds: z.int().positive().optional(),
  })
  .superRefine((load, context) => {
    const given = [load.listeners, load.connectSeconds, load.startAfterSeconds].filter(
      (value) => value !== undefined,
    ).length;
    if (given !== 0 && given !== 3) {
      context.addIssue({
        code: 'custom',
        message: 'listeners, connectSeconds and startAfterSeconds go together',
      });
    }
    if (
      load.connectSeconds !== undefined &&
      load.startAfterSeconds !== undefined &&
      load.startAfterSeconds <= load.connectSeconds
    ) {
      context.addIssue({
        code: 'custom',
        path: ['startAfterSeconds'],
        message:
          'the mix starts after the listeners have connected: startAfterSeconds > connectSeconds',
      });
    }
  });
const announcementLoad = z.strictObject({
  thresholds: thresholdOverrides,
  listeners: z.int().positive(),
  connectSeconds: z.int().positive(),
  holdSeconds: z.int().positive(),
  sendAfterSeconds: z.int().positive(),
  sends: z.int().positive(),
  sendIntervalSeconds: z.number().positive(),
});
/** One arrival is one class group call: `participants` students of a class start or join it,
 *  read its key, hold it `holdSeconds`, and leave one by one (the last leave ends it), while
 *  another student of the class listens for its call:* events. `calls` arrivals are spread
 *  evenly over `spreadSeconds`. */
const callLoad = z.strictObject({
  thresholds: thresholdOverrides,
  calls: z.int().positive(),
  spreadSeconds: z.int().positive(),
  participants: z.int().min(2),
  holdSeconds: z.int().positive(),
});

const perProfile = <T extends z.ZodType>(load: T) =>
  z.strictObject({ full: load.optional(), ci: load.optional(), soak: load.optional() });
const common = { description: z.string(), $comment: z.string().optional(), thresholds };

const scenario = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('login'), ...common, ...perProfile(phasedLoad).shape }),
  z.strictObject({ kind: z.literal('mix'), ...common, ...perProfile(mixLoad).shape }),
  z.strictObject({ kind: z.literal('socket'), ...common, ...perProfile(socketLoad).shape }),
  z.strictObject({
    kind: z.literal('announcement'),
    ...common,
    ...perProfile(announcementLoad).shape,
  }),
  z.strictObject({ kind: z.literal('calls'), ...common, ...perProfile(callLoad).shape }),
]);
export type Scenario = z.infer<typeof scenario>;
export type Phase = z.infer<typeof phase>;
export type SocketLoad = z.infer<typeof socketLoad>;
export type MixLoad = z.infer<typeof mixLoad>;
export type AnnouncementLoad = z.infer<typeof announcementLoad>;
export type CallLoad = z.infer<typeof callLoad>;

const seedParameters = z.strictObject({
  users: z.int().positive(),
  classSize: z.int().positive(),
  announcementSize: z.int().positive(),
  days: z.int().min(0),
  classMessagesPerDay: z.int().min(0),
  directMessagesPerDay: z.int().min(0),
});

const mixAction = z.strictObject({
  name: z.string(),
  weight: z.int().positive(),
  group: latencyGroups,
  method: z.enum(['GET', 'POST']),
  /** {conversationId} is replaced by one of the student's conversations. */
  path: z.string().startsWith('/api/v1/'),
});
export type MixAction = z.infer<typeof mixAction>;

export const scenarioNames = [
  'morning-burst',
  'steady',
  'realtime',
  'announcement',
  'calls',
  'soak',
] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export const scenariosFileSchema = z
  .strictObject({
    $comment: z.string(),
    version: z.literal(1),
    seed: z.strictObject({ full: seedParameters, ci: seedParameters }),
    testRateLimits: z.record(z.string(), z.unknown()),
    sessions: z.strictObject({ $comment: z.string(), full: z.int(), ci: z.int() }),
    mix: z.strictObject({ $comment: z.string(), actions: z.array(mixAction).min(1) }),
    scenarios: z.strictObject(
      Object.fromEntries(scenarioNames.map((name) => [name, scenario])) as Record<
        ScenarioName,
        typeof scenario
      >,
    ),
    profiles: z.strictObject({
      full: z.array(z.enum(scenarioNames)),
      ci: z.array(z.enum(scenarioNames)),
      soak: z.array(z.enum(scenarioNames)),
    }),
  })
  .superRefine((file, context) => {
    for (const profile of profileNames) {
      for (const name of file.profiles[profile]) {
        if (file.scenarios[name][profile] === undefined) {
          context.addIssue({
            code: 'custom',
            path: ['scenarios', name, profile],
            message: `profile ${profile} runs ${name}, which has no ${profile} load`,
          });
        }
      }
    }
    // A call's participants and its listener are students of one class (its teacher is not).
    for (const profile of profileNames) {
      const calls = file.scenarios.calls;
      const load = calls.kind === 'calls' ? calls[profile] : undefined;
      const seed = file.seed[profile === 'soak' ? 'full' : profile];
      if (load && load.participants + 1 > seed.classSize - 1) {
        context.addIssue({
          code: 'custom',
          path: ['scenarios', 'calls', profile, 'participants'],
          message: `${load.participants} participants and a listener do not fit in a class of ${seed.classSize} (its teacher included)`,
        });
      }
    }
  });
export type ScenariosFile = z.infer<typeof scenariosFileSchema>;

export const scenariosPath = join(import.meta.dirname, 'scenarios.json');

export function loadScenarios(path = scenariosPath): ScenariosFile {
  return scenariosFileSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
}

/** The scenario's thresholds as the profile runs them. */
export function thresholdsFor(scenario: Scenario, profile: ProfileName): Thresholds {
  return { ...scenario.thresholds, ...scenario[profile]?.thresholds };
}

/** RATE_LIMITS for the stack under test, without the file's own comment. */
export function testRateLimits(file: ScenariosFile): string {
  const { $comment: _comment, ...limits } = file.testRateLimits;
  return JSON.stringify(limits);
}

/** A mix load's listeners, when it has them (the schema gives the three numbers together), and
 *  how long they stay connected from their first connect: until the mix's last arrival, plus
 *  the margin the mix waited after their connect window. */
export function mixListenersOf(load: MixLoad, mixSeconds: number) {
  const { listeners, connectSeconds, startAfterSeconds } = load;
  if (listeners === undefined || connectSeconds === undefined || startAfterSeconds === undefined) {
    return undefined;
  }
  const holdSeconds = startAfterSeconds + mixSeconds + (startAfterSeconds - connectSeconds);
  return { listeners, connectSeconds, startAfterSeconds, holdSeconds };
}
