import { callApi } from './api-client.js';

/*
 * Every read the api offers, taken from its own OpenAPI document and called with real ids, so
 * that a test recording "what every GET answers" covers a read route added later without
 * being edited. A GET path with a parameter the caller's world has no value for fails with a
 * message saying where to add it.
 */

/** The people, conversations and ids a test has seeded, from which GET paths are filled. */
export interface ReadWorld<Who extends string> {
  /** Callers of the routes without parameters (/me, /conversations, …). */
  people: readonly Who[];
  /** Caller of /admin routes. */
  admin: Who;
  userIds: Record<Who, string>;
  conversations: ReadonlyArray<{ id: string; members: readonly Who[] }>;
  /** Values of the other parameters of conversation routes, by parameter name (`pollId`):
   *  each belongs to one conversation and is read by that conversation's members. */
  conversationChildren: Record<string, ReadonlyArray<{ conversationId: string; id: string }>>;
  /** Values of required query parameters, by name (`q` of /search): one call per value. */
  queryValues: Record<string, readonly string[]>;
  /** Values of any other path parameter, by the segment before it and its name
   *  (`webhooks/{id}`); read by the admin on /admin routes, by the first person elsewhere. */
  pathValues: Record<string, readonly string[]>;
}

export interface ReadCall<Who extends string> {
  who: Who;
  path: string;
}

/** A GET operation: its path template, OpenAPI style (`/conversations/{id}`), and the names
 *  of its query parameters. */
export interface GetOperation {
  template: string;
  query: string[];
  requiredQuery: string[];
}

/** Every GET operation of the api's OpenAPI document. */
export async function getOperations(baseUrl: string): Promise<GetOperation[]> {
  const reply = await callApi(baseUrl, 'GET', '/openapi.json');
  const paths = reply.body.paths as Record<
    string,
    { get?: { parameters?: Array<{ name: string; in: string; required?: boolean }> } }
  >;
  return Object.entries(paths)
    .flatMap(([template, item]) => {
      if (!item.get) return [];
      const query = (item.get.parameters ?? []).filter((parameter) => parameter.in === 'query');
      return [
        {
          template,
          query: query.map((parameter) => parameter.name),
          requiredQuery: query
            .filter((parameter) => parameter.required)
            .map((parameter) => parameter.name),
        },
      ];
    })
    .sort((a, b) => a.template.localeCompare(b.template));
}

/** The concrete calls for `templates`: every conversation route as every member of every
 *  conversation, every profile, every parameterless route as every person. */
export function readCalls<Who extends string>(
  operations: readonly GetOperation[],
  world: ReadWorld<Who>,
  testFile: string,
): Array<ReadCall<Who>> {
  const calls: Array<ReadCall<Who>> = [];
  for (const { template, query, requiredQuery } of operations) {
    const parameters = [...template.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? '');
    const missingQuery = requiredQuery.filter((name) => !world.queryValues[name]?.length);
    if (missingQuery.length > 0) {
      throw new Error(
        `GET ${template} requires query parameters (${missingQuery.join(', ')}) that ${testFile} has no values for: add them to its world's queryValues`,
      );
    }
    if (parameters.length === 0) {
      const callers = template.startsWith('/admin') ? [world.admin] : world.people;
      for (const search of queryStrings(requiredQuery, world.queryValues)) {
        for (const who of callers) {
          calls.push({ who, path: `${template}${search}` });
          if (query.includes('limit')) {
            calls.push({ who, path: `${template}${search}${search ? '&' : '?'}limit=2` });
          }
        }
      }
      continue;
    }
    if (requiredQuery.length > 0) {
      throw new Error(
        `GET ${template} has both path and required query parameters: teach readCalls (test/harness/read-surface.ts) to combine them`,
      );
    }
    if (template.startsWith('/conversations/{id}')) {
      const children = parameters.filter((name) => name !== 'id');
      const unknown = children.filter((name) => !(name in world.conversationChildren));
      if (unknown.length === 0) {
        for (const conversation of world.conversations) {
          for (const path of fill(template.replace('{id}', conversation.id), children, (name) =>
            (world.conversationChildren[name] ?? [])
              .filter((child) => child.conversationId === conversation.id)
              .map((child) => child.id),
          )) {
            for (const who of conversation.members) {
              calls.push({ who, path });
              // A small page too, so that the second page (its cursor) is exercised as well.
              if (query.includes('limit')) calls.push({ who, path: `${path}?limit=2` });
            }
          }
        }
        continue;
      }
    }
    if (template === '/users/{id}') {
      const caller = world.people[0] as Who;
      for (const id of Object.values<string>(world.userIds)) {
        calls.push({ who: caller, path: `/users/${id}` });
      }
      continue;
    }
    const keys = [...template.matchAll(/([^/]+)\/\{([^}]+)\}/g)].map(
      (match) => `${match[1]}/{${match[2]}}`,
    );
    if (
      !template.startsWith('/conversations/{id}') &&
      keys.every((key) => key in world.pathValues)
    ) {
      const caller = template.startsWith('/admin') ? world.admin : (world.people[0] as Who);
      let paths = [template];
      for (const key of keys) {
        paths = paths.flatMap((partial) =>
          (world.pathValues[key] ?? []).map((value) =>
            partial.replace(`/${key}`, `/${key.slice(0, key.indexOf('/'))}/${value}`),
          ),
        );
      }
      for (const path of paths) {
        calls.push({ who: caller, path });
        if (query.includes('limit')) calls.push({ who: caller, path: `${path}?limit=2` });
      }
      continue;
    }
    throw new Error(
      `GET ${template} has path parameters (${parameters.join(', ')}) that ${testFile} has no values for: seed what it reads and teach readCalls (test/harness/read-surface.ts) to fill them`,
    );
  }
  return calls;
}

/** One query string per combination of the required parameters' values ('' without any). */
function queryStrings(names: readonly string[], values: Record<string, readonly string[]>) {
  let strings = [''];
  for (const name of names) {
    strings = strings.flatMap((partial) =>
      (values[name] ?? []).map(
        (value) => `${partial}${partial ? '&' : '?'}${name}=${encodeURIComponent(value)}`,
      ),
    );
  }
  return strings;
}

/** `path` with each of `names` replaced by every value `values(name)` gives (a product). */
function fill(path: string, names: readonly string[], values: (name: string) => string[]) {
  let paths = [path];
  for (const name of names) {
    paths = paths.flatMap((partial) =>
      values(name).map((value) => partial.replace(`{${name}}`, value)),
    );
  }
  return paths;
}

export interface RecordedAnswer {
  status: number;
  body: unknown;
}

/** Fields whose value changes by being read (when a session or key was last used). */
const volatileFields = new Set(['lastSeenAt', 'lastUsedAt']);

/** The body without the fields that legitimately change between two identical reads. */
export function normalised(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalised);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !volatileFields.has(key))
      .map(([key, inner]) => [key, normalised(inner)]),
  );
}

/** Calls every read and returns its answers by `who GET path`; a page with a nextCursor is
 *  followed once. */
export async function recordAnswers<Who extends string>(
  baseUrl: string,
  calls: ReadonlyArray<ReadCall<Who>>,
  tokens: Record<Who, string>,
): Promise<Map<string, RecordedAnswer>> {
  const answers = new Map<string, RecordedAnswer>();
  const pending = [...calls];
  for (let call = pending.shift(); call; call = pending.shift()) {
    const reply = await callApi(baseUrl, 'GET', call.path, { token: tokens[call.who] });
    answers.set(`${call.who} GET ${call.path}`, {
      status: reply.status,
      body: normalised(reply.body),
    });
    const cursor = reply.body.nextCursor;
    if (typeof cursor === 'string' && !call.path.includes('cursor=')) {
      const separator = call.path.includes('?') ? '&' : '?';
      pending.push({
        who: call.who,
        path: `${call.path}${separator}cursor=${encodeURIComponent(cursor)}`,
      });
    }
  }
  return answers;
}
