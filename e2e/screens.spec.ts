import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import {
  adminCredentials,
  apiCall,
  createUser,
  directConversation,
  expectAccessible,
  logIn,
  newPage,
  postMessage,
  twoPeopleInConversation,
} from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));

test('admin creates a user who then logs in', async ({ browser }) => {
  const admin = await newPage(browser);
  await logIn(admin.page, adminCredentials);
  await admin.page.getByRole('link', { name: 'Admin' }).click();
  const username = `carol-${Date.now()}`;
  const password = `pw-${crypto.randomUUID()}`;
  await admin.page.getByLabel('Username').fill(username);
  await admin.page.getByLabel('Email').fill(`${username}@school.example`);
  await admin.page.getByLabel('Display name').fill('Carol');
  await admin.page.getByLabel('Password').fill(password);
  await admin.page.getByRole('button', { name: 'Create', exact: true }).first().click();
  await expect(admin.page.getByRole('status')).toHaveText(`User ${username} created.`);

  const carol = await newPage(browser);
  await logIn(carol.page, { username, password });
  await carol.page.getByRole('link', { name: 'Profile' }).click();
  await expect(carol.page.getByLabel('Display name')).toHaveValue('Carol');
  await carol.context.close();

  // API keys: shown once, listed by name, revoked.
  const keyName = `bot-${Date.now()}`;
  await admin.page.getByLabel('Key name').fill(keyName);
  await admin.page.getByRole('button', { name: 'Create key' }).click();
  await expect(admin.page.getByText(/Copy this key now; it is not shown again: qk_/)).toBeVisible();
  const key = admin.page.getByTestId('api-key').filter({ hasText: keyName });
  await expect(key).toHaveCount(1);
  await key.getByRole('button', { name: `Revoke key ${keyName}` }).click();
  await expect(key).toContainText('(revoked)');
  await expect(key.getByRole('button')).toHaveCount(0);

  // Webhooks: added with their secret shown once, with an (empty) dead-letter list, deleted.
  const hookUrl = `http://127.0.0.1:9/quad-${Date.now()}`;
  await admin.page.getByLabel('Webhook URL').fill(hookUrl);
  await admin.page.getByRole('button', { name: 'Add webhook' }).click();
  await expect(admin.page.getByText(/Signing secret \(shown once\)/)).toBeVisible();
  const hook = admin.page.getByTestId('webhook').filter({ hasText: hookUrl });
  await expect(hook).toContainText('active');
  await hook.getByText('Dead letters (0)').click();
  await expect(hook.getByText('No dead letters.')).toBeVisible();
  await hook.getByRole('button', { name: 'Delete' }).click();
  await expect(hook).toHaveCount(0);
  await admin.context.close();
});

test('every screen: no serious or critical accessibility violations', async ({ browser }) => {
  const { page, context } = await newPage(browser);
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Log in to Quad' })).toBeVisible();
  await expectAccessible(page, 'login');

  const ada = await createUser('Ada');
  const ben = await createUser('Ben');
  const conversationId = await directConversation(ada, ben);
  await postMessage(ben.token, conversationId, 'Hi Ada');
  await logIn(page, ada);
  await expectAccessible(page, 'conversation list');
  await page.goto(`/#/c/${conversationId}`);
  await expect(page.getByTestId('messages').getByText('Hi Ada')).toBeVisible();
  await expectAccessible(page, 'conversation');
  for (const screen of [
    'profile',
    'sessions',
    'notifications',
    'search',
    `call/${conversationId}`,
  ]) {
    await page.goto(`/#/${screen}`);
    await expect(page.locator('main h1')).toBeVisible();
    await expectAccessible(page, screen);
  }
  await page.goto('/#/c/00000000-0000-4000-8000-000000000000');
  await expect(page.getByRole('heading', { name: 'Conversation not found.' })).toBeVisible();
  await expectAccessible(page, 'not found');
  await context.close();

  const admin = await newPage(browser);
  await logIn(admin.page, adminCredentials);
  await admin.page.goto('/#/admin');
  await expect(admin.page.locator('main h1')).toHaveText('Admin');
  await expectAccessible(admin.page, 'admin');
  await admin.context.close();
});

test('the edge: security headers on the client, WebSocket-only gateways', async ({ request }) => {
  const page = await request.get('/');
  expect(page.status()).toBe(200);
  expect(page.headers()['content-security-policy']).toContain("default-src 'self'");
  expect(page.headers()['x-content-type-options']).toBe('nosniff');
  const polling = await request.get('/socket.io/?EIO=4&transport=polling');
  expect(polling.status()).toBe(400);
});

test('send-to-appear latency over 50 sends (printed), and the screenshot', async ({ browser }) => {
  const { ada, a, b } = await twoPeopleInConversation(browser, ['Ada Lovelace', 'Ben Okri']);
  await expect(b.page.getByRole('heading', { name: 'Ada Lovelace' })).toBeVisible();

  const composer = a.page.getByLabel('Message', { exact: true });
  const latencies: number[] = [];
  for (let i = 0; i < 50; i++) {
    const text = `latency probe ${i}`;
    await composer.fill(text);
    // Ben's page notes the moment the text enters its DOM; Ada's send starts just after.
    const appeared = b.page.evaluate(
      (wanted) =>
        new Promise<number>((resolve) => {
          const list = document.querySelector('[data-testid="messages"]');
          if (!list) throw new Error('no message list');
          const observer = new MutationObserver(() => {
            if (list.textContent?.includes(wanted)) {
              observer.disconnect();
              resolve(Date.now());
            }
          });
          observer.observe(list, { childList: true, subtree: true, characterData: true });
        }),
      `${text}\u200b`.slice(0, -1),
    );
    // The observer is in place once this round trip to Ben's page returns.
    await b.page.evaluate(() => 0);
    const sentAt = Date.now();
    await composer.press('Enter');
    latencies.push((await appeared) - sentAt);
  }
  latencies.sort((x, y) => x - y);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
  console.log(
    `send-to-appear latency over ${latencies.length} sends (Chromium → edge → gateway A → Redis → gateway B → Chromium): p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${latencies.at(-1)} ms`,
  );

  // The README's picture: a short, friendly conversation on a phone-sized-plus window.
  const { page, context } = await newPage(browser);
  await page.setViewportSize({ width: 960, height: 640 });
  const cam = await createUser('Camille Roy');
  const dana = await createUser('Dana Idris');
  const group = await apiCall<{ id: string }>(cam.token, 'POST', '/conversations', {
    kind: 'group',
    title: 'Year 9 Biology',
    memberIds: [dana.id, ada.id],
  });
  const lines: [typeof cam, string][] = [
    [dana, 'Is the field trip still on for Thursday?'],
    [cam, 'Yes! Meet at the main gate at 8:30, bring boots.'],
    [ada, 'Can we share the pond samples here afterwards?'],
    [cam, 'Please do, and add your notes to the poll below.'],
  ];
  for (const [who, body] of lines) {
    await postMessage(who.token, group.id, body);
  }
  await logIn(page, cam);
  await page.goto(`/#/c/${group.id}`);
  await expect(page.getByTestId('messages').getByText('bring boots')).toBeVisible();
  await expect(page.getByTestId('messages').getByText('Dana Idris').first()).toBeVisible();
  const target =
    process.env.E2E_SCREENSHOT === '1'
      ? join(here, '..', 'docs', 'images', 'conversation.png')
      : test.info().outputPath('conversation.png');
  mkdirSync(dirname(target), { recursive: true });
  await page.screenshot({ path: target });
  console.log(`screenshot: ${target}`);
  await a.context.close();
  await b.context.close();
  await context.close();
});
