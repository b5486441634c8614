import { randomBytes, randomUUID } from 'node:crypto';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type BrowserContext, expect, type Page } from '@playwright/test';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite with make e2e`);
  return value;
}

export const baseUrl = required('E2E_BASE_URL');

export interface TestUser {
  id: string;
  username: string;
  password: string;
  displayName: string;
  token: string;
}

/** A call to the api through the edge, as the client makes it. */
export async function apiCall<T>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function loginToken(username: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok)
    throw new Error(`login ${username}: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

let adminTokenPromise: Promise<string> | undefined;
export function adminToken(): Promise<string> {
  adminTokenPromise ??= loginToken(required('E2E_ADMIN_USERNAME'), required('E2E_ADMIN_PASSWORD'));
  return adminTokenPromise;
}

export const adminCredentials = {
  username: required('E2E_ADMIN_USERNAME'),
  password: required('E2E_ADMIN_PASSWORD'),
};

/** A fresh account made by the admin over the API, with a session of its own. */
export async function createUser(displayName: string): Promise<TestUser> {
  const username = `${displayName.toLowerCase().replace(/\W/g, '')}-${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const created = await apiCall<{ id: string }>(await adminToken(), 'POST', '/admin/users', {
    username,
    email: `${username}@school.example`,
    displayName,
    role: 'student',
    password,
  });
  return {
    id: created.id,
    username,
    password,
    displayName,
    token: await loginToken(username, password),
  };
}

export async function directConversation(a: TestUser, b: TestUser): Promise<string> {
  const created = await apiCall<{ id: string }>(a.token, 'POST', '/conversations', {
    kind: 'direct',
    userId: b.id,
  });
  return created.id;
}

/** Logs in through the login page and waits for the live connection. */
export async function logIn(
  page: Page,
  user: { username: string; password: string },
): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await expect(page.getByTestId('offline-banner')).toHaveCount(0);
}

export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  return { context, page: await context.newPage() };
}

/** Two new users and their direct conversation, each logged in on a page of their own and
 *  open on it. */
export async function twoPeopleInConversation(
  browser: Browser,
  [firstName, secondName]: [string, string] = ['Ada', 'Ben'],
) {
  const ada = await createUser(firstName);
  const ben = await createUser(secondName);
  const conversationId = await directConversation(ada, ben);
  const a = await newPage(browser);
  const b = await newPage(browser);
  await logIn(a.page, ada);
  await logIn(b.page, ben);
  await a.page.goto(`/#/c/${conversationId}`);
  await b.page.goto(`/#/c/${conversationId}`);
  return { ada, ben, conversationId, a, b };
}

/** Types `text` into the open conversation's composer and sends it with Enter. */
export async function sendWithEnter(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.keyboard.press('Enter');
}

/** Sends a message over the API, as another device of `token`'s user would. */
export async function postMessage(token: string, conversationId: string, body: string) {
  await apiCall(token, 'POST', `/conversations/${conversationId}/messages`, {
    body,
    idempotencyKey: randomUUID(),
  });
}

/** Open Socket.IO connections per gateway port, from each gateway's own /metrics. */
export async function gatewayConnections(): Promise<Map<string, number>> {
  const ports = required('E2E_SOCKET_PORTS').split(' ');
  const counts = new Map<string, number>();
  for (const port of ports) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const match = /^socket_connections(?:\{[^}]*\})? (\d+)/m.exec(text);
    counts.set(port, Number(match?.[1] ?? 0));
  }
  return counts;
}

/** The gateway whose connection count rose between two readings. */
export function gatewayThatGained(before: Map<string, number>, after: Map<string, number>): string {
  const gained = [...after].filter(([port, count]) => count > (before.get(port) ?? 0));
  if (gained.length !== 1)
    throw new Error(
      `expected one gateway to gain a connection: ${JSON.stringify([...before])} → ${JSON.stringify([...after])}`,
    );
  return gained[0]?.[0] ?? '';
}

/** axe-core on what the page shows now: no serious or critical violation. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter(
    (violation) => violation.impact === 'serious' || violation.impact === 'critical',
  );
  expect(
    serious.map(
      (v) =>
        `${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    ),
  ).toEqual([]);
}
