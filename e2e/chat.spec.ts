import { type Dialog, expect, type Page, test } from '@playwright/test';
import {
  apiCall,
  createUser,
  directConversation,
  gatewayConnections,
  gatewayThatGained,
  logIn,
  newPage,
  postMessage,
  sendWithEnter,
  twoPeopleInConversation,
} from './helpers.js';

function messages(page: Page) {
  return page.getByTestId('messages');
}

test('two people on different gateways: send, receive, typing, presence, seen by, unread badge', async ({
  browser,
}) => {
  const ada = await createUser('Ada');
  const ben = await createUser('Ben');
  const conversationId = await directConversation(ada, ben);
  const a = await newPage(browser);
  const b = await newPage(browser);

  // The edge spreads WebSockets round-robin over the two gateways: consecutive logins land on
  // different ones, checked on the gateways themselves.
  const beforeAda = await gatewayConnections();
  await logIn(a.page, ada);
  const afterAda = await gatewayConnections();
  await logIn(b.page, ben);
  const afterBen = await gatewayConnections();
  const adaGateway = gatewayThatGained(beforeAda, afterAda);
  const benGateway = gatewayThatGained(afterAda, afterBen);
  expect(adaGateway).not.toBe(benGateway);

  // Ben sees Ada online in his list.
  const benItem = b.page.getByTestId('conversation-item').filter({ hasText: 'Ada' });
  await expect(benItem.getByTestId('presence-dot')).toHaveAttribute('data-online', 'true');

  await a.page.goto(`/#/c/${conversationId}`);
  await expect(a.page.getByRole('heading', { name: 'Ben' })).toBeVisible();
  await a.page.getByLabel('Message', { exact: true }).fill('Hello Ben');
  await a.page.getByRole('button', { name: 'Send' }).click();
  await expect(messages(a.page).getByText('Hello Ben')).toHaveCount(1);

  // Not open on Ben's side: the badge counts up, then clears when he opens it.
  await expect(benItem.getByTestId('unread-badge')).toContainText('1');
  await sendWithEnter(a.page, 'Are you there?');
  await expect(benItem.getByTestId('unread-badge')).toContainText('2');
  await benItem.click();
  await expect(messages(b.page).getByText('Hello Ben')).toHaveCount(1);
  await expect(messages(b.page).getByText('Are you there?')).toHaveCount(1);
  await expect(benItem.getByTestId('unread-badge')).toHaveCount(0);

  // Ada's last message was read on the other gateway.
  await expect(a.page.getByTestId('seen-by')).toHaveText('Seen by Ben');

  // Typing travels too, and stops when the message arrives.
  await b.page.getByLabel('Message', { exact: true }).pressSequentially('Yes');
  await expect(a.page.getByTestId('typing')).toHaveText('Ben is typing…');
  await b.page.keyboard.press('Enter');
  await expect(messages(a.page).getByText('Yes', { exact: true })).toHaveCount(1);
  await expect(a.page.getByTestId('typing')).toHaveCount(0);

  // Ben leaves: Ada sees him go offline.
  await b.context.close();
  const adaListItem = a.page.getByTestId('conversation-item').filter({ hasText: 'Ben' });
  await expect(adaListItem.getByTestId('presence-dot')).toHaveAttribute('data-online', 'false');
  await a.context.close();
});

test('offline and back: messages sent meanwhile appear once on both sides', async ({ browser }) => {
  const { ada, conversationId, a, b } = await twoPeopleInConversation(browser);
  await sendWithEnter(a.page, 'before');
  await expect(messages(b.page).getByText('before')).toHaveCount(1);

  await b.context.setOffline(true);
  await expect(b.page.getByTestId('offline-banner')).toBeVisible();
  for (const text of ['while away 1', 'while away 2']) {
    await sendWithEnter(a.page, text);
    await expect(messages(a.page).getByText(text)).toHaveCount(1);
  }
  // Ben writes while offline: shown as sending, delivered once he is back.
  await sendWithEnter(b.page, 'typed offline');
  await expect(messages(b.page).getByText('Sending…')).toHaveCount(1);

  await b.context.setOffline(false);
  await expect(b.page.getByTestId('offline-banner')).toHaveCount(0);
  for (const text of ['while away 1', 'while away 2', 'typed offline']) {
    await expect(messages(b.page).getByText(text)).toHaveCount(1);
    await expect(messages(a.page).getByText(text)).toHaveCount(1);
  }
  await expect(messages(b.page).getByText('Sending…')).toHaveCount(0);
  // Exactly once in the stored history too.
  const history = await apiCall<{ messages: { body: string | null }[] }>(
    ada.token,
    'GET',
    `/conversations/${conversationId}/messages`,
  );
  expect(
    history.messages.filter((m: { body: string | null }) => m.body === 'typed offline'),
  ).toHaveLength(1);
  await a.context.close();
  await b.context.close();
});

test('polls live, search, edit and delete seen by the other side, delete for me', async ({
  browser,
}) => {
  const { conversationId, a, b } = await twoPeopleInConversation(browser);

  await sendWithEnter(a.page, 'the zebra crossing');
  const onBen = messages(b.page).getByTestId('message').filter({ hasText: 'zebra' });
  await expect(onBen).toHaveCount(1);

  // Edit, then delete, seen live by Ben.
  const onAda = messages(a.page).getByTestId('message').filter({ hasText: 'zebra' });
  await onAda.getByRole('button', { name: 'Edit' }).click();
  await a.page.getByLabel('Edit message').fill('the zebra crossing, edited');
  await a.page.getByRole('button', { name: 'Save' }).click();
  await expect(onBen).toContainText('the zebra crossing, edited');
  await expect(onBen).toContainText('edited');

  // Search finds it (Ben's side).
  await b.page.goto('/#/search');
  await b.page.getByLabel('Search my conversations').fill('zebra');
  await b.page.getByRole('button', { name: 'Search' }).click();
  await expect(b.page.getByTestId('search-result')).toHaveCount(1);
  await expect(b.page.getByTestId('search-result').locator('mark')).toHaveText('zebra');
  await b.page.goto(`/#/c/${conversationId}`);

  await onAda.getByRole('button', { name: 'Delete' }).click();
  await expect(messages(b.page).getByText('Message deleted')).toHaveCount(1);
  await expect(messages(b.page).getByText('zebra')).toHaveCount(0);

  // A poll: Ada creates, Ben votes, Ada sees the result.
  await a.page.getByText('New poll').click();
  await a.page.getByLabel('Question').fill('Lunch?');
  await a.page.getByLabel('Options (one per line)').fill('Pizza\nSalad');
  await a.page.getByRole('button', { name: 'Create' }).last().click();
  const benPoll = b.page.getByTestId('poll').filter({ hasText: 'Lunch?' });
  await expect(benPoll).toBeVisible();
  await benPoll.getByRole('button', { name: /Pizza/ }).click();
  await expect(a.page.getByTestId('poll').getByRole('button', { name: /Pizza/ })).toContainText(
    '1 votes',
  );

  // Delete for me: gone from Ben's list, still in Ada's.
  b.page.on('dialog', (dialog: Dialog) => void dialog.accept());
  await b.page.getByText('Members').click();
  await b.page.getByRole('button', { name: 'Delete for me' }).click();
  await expect(b.page.getByTestId('conversation-item')).toHaveCount(0);
  await expect(a.page.getByTestId('conversation-item')).toHaveCount(1);
  await a.context.close();
  await b.context.close();
});

test("a stranger's browser never shows the conversation", async ({ browser }) => {
  const ada = await createUser('Ada');
  const ben = await createUser('Ben');
  const eve = await createUser('Eve');
  const conversationId = await directConversation(ada, ben);
  await postMessage(ada.token, conversationId, 'private words');
  const e = await newPage(browser);
  await logIn(e.page, eve);
  await e.page.goto(`/#/c/${conversationId}`);
  await expect(e.page.getByRole('heading', { name: 'Conversation not found.' })).toBeVisible();
  await expect(e.page.getByText('private words')).toHaveCount(0);
  await expect(e.page.getByTestId('conversation-item')).toHaveCount(0);
  await e.context.close();
});
