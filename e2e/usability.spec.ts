import { expect, test } from '@playwright/test';
import { createUser, directConversation, logIn, newPage, postMessage } from './helpers.js';

test('keyboard only: log in, open a conversation and send', async ({ browser }) => {
  const ada = await createUser('Ada');
  const ben = await createUser('Ben');
  await directConversation(ada, ben);
  const { page, context } = await newPage(browser);
  await page.goto('/');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Username')).toBeFocused();
  await page.keyboard.type(ada.username);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Password')).toBeFocused();
  await page.keyboard.type(ada.password);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();

  // The first Tab reaches the skip button, which moves focus to the main region.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Skip to content' })).toBeFocused();
  const item = page.getByTestId('conversation-item').filter({ hasText: 'Ben' });
  await item.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Ben' })).toBeVisible();
  await page.getByLabel('Message', { exact: true }).focus();
  await page.keyboard.type('typed without a mouse');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('messages').getByText('typed without a mouse')).toHaveCount(1);
  await context.close();
});

test('phone-sized screen: the list, then the conversation alone, and back', async ({ browser }) => {
  const ada = await createUser('Ada');
  const ben = await createUser('Ben');
  const conversationId = await directConversation(ada, ben);
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByLabel('Username').fill(ada.username);
  await page.getByLabel('Password').fill(ada.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  const list = page.getByRole('complementary', { name: 'Conversations' });
  await expect(list).toBeVisible();
  await list.getByTestId('conversation-item').click();
  await expect(page).toHaveURL(new RegExp(`#/c/${conversationId}$`));
  await expect(list).toBeHidden();
  await expect(page.getByRole('heading', { name: 'Ben' })).toBeVisible();
  // Nothing wider than the screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(overflow).toBeLessThanOrEqual(390);
  await page.getByRole('link', { name: 'Back to conversations' }).click();
  await expect(list).toBeVisible();
  await context.close();
});

test('history scrolls upward page by page, in order, without repeats', async ({ browser }) => {
  const ada = await createUser('Ada');
  const ben = await createUser('Ben');
  const conversationId = await directConversation(ada, ben);
  for (let i = 1; i <= 45; i++) {
    await postMessage(ben.token, conversationId, `history ${i}`);
  }
  const { page, context } = await newPage(browser);
  // Logged in before the conversation is opened: going to it while the login is still on its
  // way once left the page on the empty conversation screen.
  await logIn(page, ada);
  await page.goto(`/#/c/${conversationId}`);
  const messages = page.getByTestId('messages').getByTestId('message');
  // The first page holds the newest 30.
  await expect(messages).toHaveCount(30);
  await expect(messages.last()).toContainText('history 45');
  await page.getByTestId('messages').evaluate((list) => {
    list.scrollTop = 0;
  });
  await expect(messages).toHaveCount(45);
  const bodies = await messages.locator('.body').allTextContents();
  expect(bodies).toEqual(Array.from({ length: 45 }, (_, i) => `history ${i + 1}`));
  await context.close();
});
