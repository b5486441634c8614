import { expect, type Page, test } from '@playwright/test';
import {
  apiCall,
  baseUrl,
  createUser,
  expectAccessible,
  logIn,
  newPage,
  twoPeopleInConversation,
} from './helpers.js';

function tileOf(page: Page, userId: string) {
  return page.getByTestId('call-participant').and(page.locator(`[data-user-id="${userId}"]`));
}

/** The other person's video plays: frames arrive, decrypted, and the clock moves on. */
async function expectVideoPlaying(page: Page, userId: string): Promise<void> {
  const video = tileOf(page, userId).getByTestId('call-video');
  await expect(video).toHaveCount(1);
  // The first frame needs ICE, DTLS and a key frame: on a busy machine that takes a while.
  await expect
    .poll(
      () =>
        video.evaluate(
          (element: HTMLVideoElement) => element.readyState >= 2 && element.videoWidth > 0,
        ),
      { timeout: 20_000 },
    )
    .toBe(true);
  const first = await video.evaluate((element: HTMLVideoElement) => element.currentTime);
  await expect
    .poll(() => video.evaluate((element: HTMLVideoElement) => element.currentTime))
    .toBeGreaterThan(first);
}

test('a call between two browsers through the edge: encrypted media, mute, one leaves, the key rotates', async ({
  browser,
}) => {
  // Four joins with live video in two browsers on a shared 2-core machine: more than the
  // suite's default minute when the machine is busy (18 s when it is not).
  test.setTimeout(120_000);
  const { ada, ben, conversationId, a, b } = await twoPeopleInConversation(browser, [
    'Ada Caller',
    'Ben Caller',
  ]);
  // LiveKit's signalling must come through the edge, on the page's own origin.
  const signalling: string[] = [];
  for (const page of [a.page, b.page]) page.on('websocket', (ws) => signalling.push(ws.url()));

  await a.page.goto(`/#/call/${conversationId}`);
  await expect(a.page.getByRole('heading', { name: 'Call: Ben Caller' })).toBeVisible();
  await expect(a.page.getByTestId('call-status')).toHaveText('Nobody is in a call here.');
  await a.page.getByRole('button', { name: 'Start call' }).click();
  await expect(a.page.getByTestId('call-status')).toHaveAttribute('data-phase', 'connected');
  // Keyboard users land on the controls.
  await expect(a.page.getByRole('button', { name: 'Mute microphone' })).toBeFocused();
  // E2EE as livekit-client reports it (Room.isE2EEEnabled), with the key's slot from the api.
  const adaEncryption = a.page.getByTestId('call-encryption');
  await expect(adaEncryption).toHaveAttribute('data-e2ee', 'true');
  const firstKeyIndex = Number(await adaEncryption.getAttribute('data-key-index'));

  // Ben's conversation list marks the live call (GET /calls/live and the call:* events).
  const benItem = b.page.getByTestId('conversation-item').filter({ hasText: 'Ada Caller' });
  await expect(benItem.getByTestId('live-call')).toHaveText('Call in progress');
  await benItem.click();
  await b.page.getByRole('link', { name: 'Join call' }).click();
  await b.page.getByRole('button', { name: 'Join call' }).click();
  await expect(b.page.getByTestId('call-status')).toHaveAttribute('data-phase', 'connected');
  await expect(b.page.getByTestId('call-encryption')).toHaveAttribute('data-e2ee', 'true');
  await expect(b.page.getByTestId('call-encryption')).toHaveAttribute(
    'data-key-index',
    String(firstKeyIndex),
  );

  // Each sees the other in the list, and the other's video plays: it was encrypted by one
  // browser with the call's key and decrypted by the other, through LiveKit.
  await expect(tileOf(a.page, ben.id)).toContainText('Ben Caller');
  await expect(tileOf(b.page, ada.id)).toContainText('Ada Caller');
  await expect(tileOf(a.page, ada.id)).toContainText('(You)');
  // Each publisher declared its tracks encrypted (LiveKit relays that to the other side)...
  await expect(tileOf(a.page, ben.id)).toHaveAttribute('data-encrypted', 'true');
  await expect(tileOf(b.page, ada.id)).toHaveAttribute('data-encrypted', 'true');
  // ...and the frames decrypt: with a wrong key no frame would decode.
  await expectVideoPlaying(a.page, ben.id);
  await expectVideoPlaying(b.page, ada.id);
  const edgeSignalling = `${baseUrl.replace(/^http/, 'ws')}/livekit/rtc`;
  expect(signalling.filter((url) => url.startsWith(edgeSignalling))).toHaveLength(2);

  // Mute and unmute, seen on the other side.
  await a.page.getByRole('button', { name: 'Mute microphone' }).click();
  await expect(a.page.getByRole('button', { name: 'Unmute microphone' })).toBeVisible();
  await expect(tileOf(b.page, ada.id)).toHaveAttribute('data-microphone', 'off');
  await expect(tileOf(b.page, ada.id)).toContainText('microphone muted');
  await a.page.getByRole('button', { name: 'Turn camera off' }).click();
  await expect(tileOf(b.page, ada.id)).toHaveAttribute('data-camera', 'off');
  await a.page.getByRole('button', { name: 'Unmute microphone' }).click();
  await expect(tileOf(b.page, ada.id)).toHaveAttribute('data-microphone', 'on');
  await a.page.getByRole('button', { name: 'Turn camera on' }).click();
  await expect(tileOf(b.page, ada.id)).toHaveAttribute('data-camera', 'on');
  await expectAccessible(a.page, 'call, joined');

  // Ben leaves: Ada sees him gone and gets the rotated key over her socket, in the next slot.
  await b.page.getByRole('button', { name: 'Leave call' }).click();
  await expect(b.page.getByTestId('call-status')).toHaveText('You left the call.');
  await expect(b.page.getByRole('button', { name: 'Join call' })).toBeFocused();
  await expect(tileOf(a.page, ben.id)).toHaveCount(0);
  await expect(adaEncryption).toHaveAttribute('data-key-index', String((firstKeyIndex + 1) % 16));
  await expect(a.page.getByTestId('call-status')).toHaveAttribute('data-phase', 'connected');
  await expect(adaEncryption).toHaveAttribute('data-e2ee', 'true');

  // Ben comes back: the join answer hands him the rotated key, Ada encrypts with the one pushed
  // to her, and each decrypts the other again.
  await b.page.getByRole('button', { name: 'Join call' }).click();
  await expect(b.page.getByTestId('call-encryption')).toHaveAttribute(
    'data-key-index',
    String((firstKeyIndex + 1) % 16),
  );
  await expectVideoPlaying(a.page, ben.id);
  await expectVideoPlaying(b.page, ada.id);

  // The last one out ends the call: the marker goes from Ben's list.
  await b.page.getByRole('button', { name: 'Leave call' }).click();
  await expect(adaEncryption).toHaveAttribute('data-key-index', String((firstKeyIndex + 2) % 16));
  await b.page.getByRole('link', { name: 'Back to the conversation' }).click();
  await expect(benItem.getByTestId('live-call')).toBeVisible();
  await a.page.getByRole('button', { name: 'Leave call' }).click();
  await expect(benItem.getByTestId('live-call')).toHaveCount(0);
  await a.context.close();
  await b.context.close();
});

test('an owner ends the call for everyone, from the keyboard', async ({ browser }) => {
  const cam = await createUser('Cam Owner');
  const dana = await createUser('Dana Member');
  const group = await apiCall<{ id: string }>(cam.token, 'POST', '/conversations', {
    kind: 'group',
    title: 'Lab call',
    memberIds: [dana.id],
  });
  const c = await newPage(browser);
  const d = await newPage(browser);
  await logIn(c.page, cam);
  await logIn(d.page, dana);

  // A member starts it; the owner joins with the keyboard alone.
  await d.page.goto(`/#/call/${group.id}`);
  await d.page.getByRole('button', { name: 'Start call' }).click();
  await expect(d.page.getByTestId('call-status')).toHaveAttribute('data-phase', 'connected');
  // A member may not end it for everyone.
  await expect(d.page.getByRole('button', { name: 'End call for everyone' })).toHaveCount(0);
  await c.page.goto(`/#/call/${group.id}`);
  await c.page.getByRole('button', { name: 'Join call' }).focus();
  await c.page.keyboard.press('Enter');
  await expect(c.page.getByTestId('call-status')).toHaveAttribute('data-phase', 'connected');
  await expect(tileOf(c.page, dana.id)).toBeVisible();
  await expect(tileOf(d.page, cam.id)).toBeVisible();
  const camItem = c.page.getByTestId('conversation-item').filter({ hasText: 'Lab call' });
  await expect(camItem.getByTestId('live-call')).toBeVisible();

  c.page.once('dialog', (dialog) => void dialog.accept());
  await c.page.getByRole('button', { name: 'End call for everyone' }).focus();
  await c.page.keyboard.press('Enter');
  await expect(c.page.getByTestId('call-status')).toHaveText('The call has ended.');
  await expect(d.page.getByTestId('call-status')).toHaveText('The call has ended.');
  await expect(tileOf(d.page, cam.id)).toHaveCount(0);
  await expect(camItem.getByTestId('live-call')).toHaveCount(0);
  await expect(
    d.page
      .getByTestId('conversation-item')
      .filter({ hasText: 'Lab call' })
      .getByTestId('live-call'),
  ).toHaveCount(0);
  // Nothing live any more: starting again makes a new call.
  await expect(d.page.getByRole('button', { name: 'Start call' })).toBeVisible();
  await c.context.close();
  await d.context.close();
});

test('a key rotated while the browser was offline is fetched when it is back, and the call goes on', async ({
  browser,
}) => {
  // Three in a group call, one of whom (Cleo) stays online throughout: with only the offline
  // browser left, LiveKit could close the room while she is away (it drops a participant whose
  // connection is gone for long enough), and the call would rightly end.
  const ada = await createUser('Ada Offline');
  const ben = await createUser('Ben Leaving');
  const cleo = await createUser('Cleo Online');
  const group = await apiCall<{ id: string }>(ada.token, 'POST', '/conversations', {
    kind: 'group',
    title: 'Offline call',
    memberIds: [ben.id, cleo.id],
  });
  const conversationId = group.id;
  const [a, b, c] = [await newPage(browser), await newPage(browser), await newPage(browser)];
  await logIn(a.page, ada);
  await logIn(b.page, ben);
  await logIn(c.page, cleo);
  for (const page of [a.page, b.page, c.page]) {
    await page.goto(`/#/call/${conversationId}`);
    await page.getByRole('button', { name: /^(Start|Join) call$/ }).click();
    await expect(page.getByTestId('call-status')).toHaveAttribute('data-phase', 'connected');
  }
  await expect(tileOf(a.page, ben.id)).toBeVisible();
  const adaEncryption = a.page.getByTestId('call-encryption');
  const firstKeyIndex = Number(await adaEncryption.getAttribute('data-key-index'));
  const currentKeyIndex = async () =>
    String(
      (
        await apiCall<{ keyIndex: number }>(
          cleo.token,
          'GET',
          `/conversations/${conversationId}/call/key`,
        )
      ).keyIndex,
    );

  // Ada's network drops: her socket is gone, so the rotation's push cannot reach her.
  await a.context.setOffline(true);
  await expect(a.page.getByTestId('offline-banner')).toBeVisible();
  await b.page.getByRole('button', { name: 'Leave call' }).click();
  // Cleo, online, is pushed the rotated key; Ada, offline, still holds the old one.
  const holdsCurrentKey = async (page: Page) => {
    const shown = await page.getByTestId('call-encryption').getAttribute('data-key-index');
    return shown !== String(firstKeyIndex) && shown === (await currentKeyIndex());
  };
  await expect.poll(() => holdsCurrentKey(c.page)).toBe(true);
  await expect(adaEncryption).toHaveAttribute('data-key-index', String(firstKeyIndex));

  // Back online: the catch-up asks for the current key (the rotation she missed, and another if
  // LiveKit counted her own drop as a leave), and the call is still hers.
  await a.context.setOffline(false);
  await expect(a.page.getByTestId('offline-banner')).toHaveCount(0);
  await expect(a.page.getByTestId('call-status')).toHaveAttribute('data-phase', 'connected');
  await expect.poll(() => holdsCurrentKey(a.page)).toBe(true);
  await expect(tileOf(a.page, cleo.id)).toBeVisible();
  await expectVideoPlaying(a.page, cleo.id);
  for (const page of [a, b, c]) await page.context.close();
});
