import { io, type Socket } from 'socket.io-client';
import {
  ApiError,
  api,
  type ConversationListItem,
  type Me,
  type Message,
  type Profile,
  type Receipt,
  storedToken,
  storeToken,
} from './api';
import type { CallKey, CallSession } from './call';

/** A message typed here and not yet acknowledged by the gateway. */
export interface PendingMessage {
  idempotencyKey: string;
  conversationId: string;
  body: string;
  failed: boolean;
}

/** A conversation's call in progress, as the conversation list shows it. */
export interface LiveCall {
  callId: string;
  participantIds: string[];
}

type Ack<T> = ({ ok: true } & T) | { ok: false; error: { code: string; retryAfterMs?: number } };

const sendAckTimeoutMs = 10_000;
const typingResendMs = 3_000;
const typingShownMs = 7_000;
const syncPageLimit = 20;

/**
 * The client's state and its one Socket.IO connection. Messages are kept by id, so whatever
 * arrives twice (live and in a catch-up, or an ack and its own broadcast) is shown once; sends
 * carry an idempotency key and are repeated with the same key after a reconnect until acked,
 * so the server stores each once.
 */
export class Store {
  me: Me | null = null;
  conversations = new Map<string, ConversationListItem>();
  messages = new Map<string, Map<string, Message>>();
  /** Cursor of the next older page; null once the oldest page is loaded. */
  olderCursor = new Map<string, string | null>();
  pending: PendingMessage[] = [];
  receipts = new Map<string, Map<string, Receipt>>();
  typing = new Map<string, Map<string, ReturnType<typeof setTimeout>>>();
  presence = new Map<string, boolean>();
  profiles = new Map<string, Profile>();
  connected = false;
  /** Live calls of my conversations, by conversation id (GET /calls/live, then `call:*`). */
  liveCalls = new Map<string, LiveCall>();
  /** The call this tab is in (one at a time). */
  call: CallSession | null = null;
  /** What this tab shows; its new messages are read at once. */
  openConversationId: string | null = null;
  #socket: Socket | null = null;
  #listeners = new Set<() => void>();
  #profileRequests = new Set<string>();
  #lastTypingSent = 0;
  #catchingUp: Promise<void> | null = null;

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  changed(): void {
    for (const listener of this.#listeners) listener();
  }

  get socketId(): string | undefined {
    return this.#socket?.id;
  }

  async restore(): Promise<boolean> {
    if (!storedToken()) return false;
    try {
      this.me = await api<Me>('GET', '/me');
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) storeToken(null);
      return false;
    }
    this.connect();
    return true;
  }

  async login(username: string, password: string): Promise<void> {
    const answer = await api<{ token: string; user: Me }>('POST', '/auth/login', {
      username,
      password,
    });
    storeToken(answer.token);
    this.me = await api<Me>('GET', '/me');
    this.connect();
    this.changed();
  }

  async logout(): Promise<void> {
    // While the session still counts: the api tells LiveKit and the key rotates for the others.
    await this.call?.leave();
    try {
      await api('POST', '/auth/logout');
    } catch {
      // Logged out locally whatever the server says: the token is forgotten below.
    }
    this.reset();
  }

  /** Forgets everything of this account (after a logout or a revoked session). */
  reset(): void {
    this.#socket?.disconnect();
    this.#socket = null;
    storeToken(null);
    this.me = null;
    this.conversations.clear();
    this.messages.clear();
    this.olderCursor.clear();
    this.pending = [];
    this.receipts.clear();
    this.presence.clear();
    this.liveCalls.clear();
    void this.call?.leave();
    this.call = null;
    this.connected = false;
    this.changed();
  }

  connect(): void {
    // batch: a burst into a room arrives as message:batch frames (each element a message:new).
    const socket = io({ auth: { token: storedToken(), batch: true }, transports: ['websocket'] });
    this.#socket = socket;
    socket.on('connect', () => {
      this.connected = true;
      this.changed();
      void this.catchUp();
    });
    socket.on('disconnect', () => {
      this.connected = false;
      this.changed();
    });
    socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
      if (error.data?.code === 'invalid_credentials') this.reset();
    });
    socket.on('quad:disconnecting', (notice: { code: string }) => {
      if (notice.code === 'session_revoked') this.reset();
    });
    // The gateway lost its Redis subscription for a while: catch up as after a reconnect.
    socket.on('quad:resync', () => void this.catchUp());
    socket.on('message:new', ({ message }: { message: Message }) => this.#receive(message, true));
    socket.on('message:batch', ({ events }: { events: Array<{ message: Message }> }) => {
      for (const { message } of events) this.#receive(message, true);
    });
    socket.on('message:updated', ({ message }: { message: Message }) =>
      this.#receive(message, false),
    );
    socket.on(
      'receipt:updated',
      ({ conversationId, receipt }: { conversationId: string; receipt: Receipt }) => {
        this.#receiptsOf(conversationId).set(receipt.userId, receipt);
        this.changed();
      },
    );
    socket.on(
      'unread:updated',
      ({ conversationId, unreadCount }: { conversationId: string; unreadCount: number }) => {
        const conversation = this.conversations.get(conversationId);
        if (conversation) conversation.unreadCount = unreadCount;
        this.changed();
      },
    );
    socket.on('presence:changed', ({ userId, online }: { userId: string; online: boolean }) => {
      this.presence.set(userId, online);
      this.changed();
    });
    socket.on(
      'typing',
      ({
        conversationId,
        userId,
        typing,
      }: {
        conversationId: string;
        userId: string;
        typing: boolean;
      }) => this.#setTyping(conversationId, userId, typing),
    );
    socket.on('conversation:members', () => void this.catchUp());
    socket.on('call:started', ({ conversationId, callId }: CallEvent) => {
      if (this.liveCalls.get(conversationId)?.callId !== callId) {
        this.liveCalls.set(conversationId, { callId, participantIds: [] });
      }
      this.changed();
    });
    socket.on('call:participant-joined', ({ conversationId, callId, userId }: CallEvent) => {
      const live = this.#liveCall(conversationId, callId);
      if (userId && !live.participantIds.includes(userId)) live.participantIds.push(userId);
      this.changed();
    });
    socket.on('call:participant-left', ({ conversationId, callId, userId }: CallEvent) => {
      const live = this.#liveCall(conversationId, callId);
      live.participantIds = live.participantIds.filter((id) => id !== userId);
      this.changed();
    });
    socket.on('call:ended', ({ conversationId, callId }: CallEvent) => {
      if (this.liveCalls.get(conversationId)?.callId === callId) {
        this.liveCalls.delete(conversationId);
      }
      if (this.call?.callId === callId) this.call.ended();
      this.changed();
    });
    // The call's key rotated (someone left): only to this user's own devices.
    socket.on('call:key', (pushed: CallKey & { callId: string }) => {
      void this.call?.applyPushedKey(pushed);
    });
    // The browser knows before the socket's heartbeat does: drop the connection at once (the
    // banner shows, sends wait) and reconnect, then catch up, as soon as the network is back.
    addEventListener('offline', () => socket.disconnect());
    addEventListener('online', () => {
      if (this.#socket === socket) socket.connect();
    });
  }

  /**
   * After a (re)connect or a resync notice: re-read the list (unread counts, previews), join
   * every room, fetch what was missed with `sync`, then resend what is still unacknowledged.
   */
  catchUp(): Promise<void> {
    this.#catchingUp ??= this.#doCatchUp().finally(() => {
      this.#catchingUp = null;
    });
    return this.#catchingUp;
  }

  async #doCatchUp(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    try {
      await this.refreshConversations();
      const ids = [...this.conversations.keys()];
      for (let start = 0; start < ids.length; start += 100) {
        await socket.emitWithAck('conversation:join', {
          conversationIds: ids.slice(start, start + 100),
        });
      }
      if (this.openConversationId) {
        await socket.emitWithAck('conversation:view', {
          conversationId: this.openConversationId,
        });
      }
      await this.#syncLoaded(socket);
      await this.refreshLiveCalls();
      await this.call?.refreshKey();
      for (const pending of this.pending) void this.#trySend(pending);
      await this.#queryPresence(socket);
      if (this.openConversationId) {
        await this.loadReceipts(this.openConversationId);
        this.markRead(this.openConversationId);
      }
    } catch {
      // A disconnect in the middle: the next connect catches up again.
    }
    this.changed();
  }

  async #syncLoaded(socket: Socket): Promise<void> {
    let wanted = [...this.messages.keys()].filter((id) => this.conversations.has(id));
    while (wanted.length > 0) {
      const answer: Ack<{
        conversations: { conversationId: string; messages?: Message[]; complete?: boolean }[];
      }> = await socket.emitWithAck('sync', {
        conversations: wanted.slice(0, syncPageLimit).map((conversationId) => ({
          conversationId,
          lastMessageId: this.#newestBeforeGap(conversationId)?.id ?? null,
        })),
      });
      if (!answer.ok) return;
      const incomplete: string[] = [];
      for (const result of answer.conversations) {
        for (const message of result.messages ?? []) this.#receive(message, true);
        if (result.messages && result.complete === false) incomplete.push(result.conversationId);
      }
      wanted = [...incomplete, ...wanted.slice(syncPageLimit)];
    }
  }

  async #queryPresence(socket: Socket): Promise<void> {
    const userIds = new Set<string>();
    for (const conversation of this.conversations.values()) {
      for (const member of conversation.members) {
        if (member.userId !== this.me?.id) userIds.add(member.userId);
      }
    }
    const ids = [...userIds].slice(0, 500);
    if (ids.length === 0) return;
    const answer: Ack<{ presence: Record<string, { online: boolean }> }> = await socket.emitWithAck(
      'presence:query',
      { userIds: ids },
    );
    if (!answer.ok) return;
    for (const [userId, state] of Object.entries(answer.presence)) {
      this.presence.set(userId, state.online);
    }
  }

  async refreshConversations(): Promise<void> {
    const answer = await api<{ conversations: ConversationListItem[] }>('GET', '/conversations');
    this.conversations = new Map(answer.conversations.map((item) => [item.id, item]));
    for (const conversation of answer.conversations) {
      for (const member of conversation.members) this.profile(member.userId);
    }
    this.changed();
  }

  async refreshLiveCalls(): Promise<void> {
    let answer: { calls: { id: string; conversationId: string; participantIds: string[] }[] };
    try {
      answer = await api('GET', '/calls/live');
    } catch (error) {
      // Calls are off on this server (no LiveKit configured): no call is ever live.
      if (error instanceof ApiError && error.status === 404) return;
      throw error;
    }
    this.liveCalls = new Map(
      answer.calls.map((call) => [
        call.conversationId,
        { callId: call.id, participantIds: call.participantIds },
      ]),
    );
    this.changed();
  }

  #liveCall(conversationId: string, callId: string): LiveCall {
    let live = this.liveCalls.get(conversationId);
    if (live?.callId !== callId) {
      live = { callId, participantIds: [] };
      this.liveCalls.set(conversationId, live);
    }
    return live;
  }

  /** Joins (or starts) a conversation's call in this tab, leaving any other first. */
  async joinCall(conversationId: string): Promise<CallSession> {
    if (this.call?.active && this.call.conversationId === conversationId) return this.call;
    await this.call?.leave();
    // LiveKit's client is most of a call's weight: loaded with the first call, not the page.
    const { CallSession } = await import('./call');
    const session = new CallSession(conversationId, () => this.changed());
    this.call = session;
    this.changed();
    await session.join();
    return session;
  }

  /** A profile for display, fetched once; undefined until it arrives. */
  profile(userId: string): Profile | undefined {
    const known = this.profiles.get(userId);
    if (known || this.#profileRequests.has(userId)) return known;
    this.#profileRequests.add(userId);
    api<Profile>('GET', `/users/${userId}`)
      .then((profile) => {
        this.profiles.set(userId, profile);
        this.changed();
      })
      .catch(() => this.#profileRequests.delete(userId));
    return undefined;
  }

  displayName(userId: string): string {
    return this.profile(userId)?.displayName ?? '…';
  }

  conversationTitle(conversation: {
    kind: string;
    title: string | null;
    members: { userId: string }[];
  }): string {
    if (conversation.kind === 'group') return conversation.title ?? '';
    const other = conversation.members.find((member) => member.userId !== this.me?.id);
    return other ? this.displayName(other.userId) : '';
  }

  /** Messages of a conversation, oldest first. */
  messagesOf(conversationId: string): Message[] {
    return [...(this.messages.get(conversationId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  /**
   * Where a catch-up starts: the newest message before the first hole in `seq` (which has no
   * gaps on the server). Live messages can arrive after a stretch this client missed (its
   * gateway's Redis subscription was down, and the resync notice comes once it is back), and
   * catching up from the newest of those would skip the stretch.
   */
  #newestBeforeGap(conversationId: string): Message | undefined {
    let last: Message | undefined;
    for (const message of this.messagesOf(conversationId)) {
      if (last && message.seq !== last.seq + 1) break;
      last = message;
    }
    return last;
  }

  #newest(conversationId: string): Message | undefined {
    let newest: Message | undefined;
    for (const message of this.messages.get(conversationId)?.values() ?? []) {
      if (!newest || message.seq > newest.seq) newest = message;
    }
    return newest;
  }

  async openConversation(conversationId: string): Promise<void> {
    this.openConversationId = conversationId;
    if (!this.messages.has(conversationId)) await this.loadOlder(conversationId);
    await this.loadReceipts(conversationId);
    if (this.#socket?.connected) {
      await this.#socket.emitWithAck('conversation:view', { conversationId });
    }
    this.markRead(conversationId);
    this.changed();
  }

  closeConversation(): void {
    this.openConversationId = null;
    if (this.#socket?.connected) {
      void this.#socket.emitWithAck('conversation:view', { conversationId: null });
    }
  }

  async loadOlder(conversationId: string): Promise<void> {
    const cursor = this.olderCursor.get(conversationId);
    if (cursor === null) return;
    const query = new URLSearchParams({ limit: '30' });
    if (cursor) query.set('cursor', cursor);
    const page = await api<{ messages: Message[]; nextCursor?: string }>(
      'GET',
      `/conversations/${conversationId}/messages?${query}`,
    );
    const known = this.messages.get(conversationId) ?? new Map<string, Message>();
    for (const message of page.messages) known.set(message.id, message);
    this.messages.set(conversationId, known);
    this.olderCursor.set(conversationId, page.nextCursor ?? null);
    this.changed();
  }

  async loadReceipts(conversationId: string): Promise<void> {
    const answer = await api<{ receipts: Receipt[] }>(
      'GET',
      `/conversations/${conversationId}/receipts`,
    );
    this.receipts.set(conversationId, new Map(answer.receipts.map((r) => [r.userId, r])));
    this.changed();
  }

  #receiptsOf(conversationId: string): Map<string, Receipt> {
    let receipts = this.receipts.get(conversationId);
    if (!receipts) {
      receipts = new Map();
      this.receipts.set(conversationId, receipts);
    }
    return receipts;
  }

  markRead(conversationId: string): void {
    const newest = this.#newest(conversationId);
    const conversation = this.conversations.get(conversationId);
    if (!newest || !this.me) return;
    const mine = this.receipts.get(conversationId)?.get(this.me.id);
    if (mine && mine.lastReadSeq >= newest.seq && conversation?.unreadCount === 0) return;
    if (conversation) conversation.unreadCount = 0;
    const payload = { conversationId, upToMessageId: newest.id };
    if (this.#socket?.connected) void this.#socket.emitWithAck('message:read', payload);
    else void api('POST', `/conversations/${conversationId}/read`, payload).catch(() => {});
    this.changed();
  }

  #receive(message: Message, isNew: boolean): void {
    let known = this.messages.get(message.conversationId);
    const conversation = this.conversations.get(message.conversationId);
    const seenBefore = known?.has(message.id) ?? false;
    if (!known && conversation && this.openConversationId === message.conversationId) {
      // Open, its first page on its way: keep what arrives meanwhile (the page, asked for before
      // this message existed, would not bring it, and our own send's optimistic copy goes below).
      known = new Map<string, Message>();
      this.messages.set(message.conversationId, known);
    } else if (!known && conversation) {
      // Not loaded yet: only the preview and the badge change; history loads when opened.
      known = undefined;
    } else if (!known) {
      void this.refreshConversations();
      return;
    }
    known?.set(message.id, message);
    if (message.senderId === this.me?.id) {
      // Our own send's broadcast can beat its ack: it replaces the optimistic copy.
      const index = this.pending.findIndex(
        (p) => p.conversationId === message.conversationId && p.body === message.body,
      );
      if (index >= 0 && isNew && !seenBefore) this.pending.splice(index, 1);
    }
    if (
      conversation &&
      (!conversation.lastMessage || conversation.lastMessage.seq <= message.seq)
    ) {
      conversation.lastMessage = message;
    }
    if (isNew && !seenBefore && conversation && message.senderId !== this.me?.id) {
      const lastRead = this.receipts.get(message.conversationId)?.get(this.me?.id ?? '');
      if (
        this.openConversationId === message.conversationId &&
        document.visibilityState === 'visible'
      ) {
        this.markRead(message.conversationId);
      } else if (!lastRead || lastRead.lastReadSeq < message.seq) {
        conversation.unreadCount += 1;
      }
      this.#setTyping(message.conversationId, message.senderId, false);
    }
    this.changed();
  }

  send(conversationId: string, body: string): void {
    const pending: PendingMessage = {
      idempotencyKey: crypto.randomUUID(),
      conversationId,
      body,
      failed: false,
    };
    this.pending.push(pending);
    this.#lastTypingSent = 0;
    if (this.#socket?.connected) {
      void this.#socket.emitWithAck('typing:stop', { conversationId }).catch(() => {});
    }
    this.changed();
    void this.#trySend(pending);
  }

  retry(pending: PendingMessage): void {
    pending.failed = false;
    this.changed();
    void this.#trySend(pending);
  }

  async #trySend(pending: PendingMessage): Promise<void> {
    const socket = this.#socket;
    // Offline: it stays pending and goes out, with the same key, after the next connect.
    if (!socket?.connected) return;
    let answer: Ack<{ message: Message }>;
    try {
      answer = await socket.timeout(sendAckTimeoutMs).emitWithAck('message:send', {
        conversationId: pending.conversationId,
        body: pending.body,
        idempotencyKey: pending.idempotencyKey,
      });
    } catch {
      // No ack in time: the same key again, if still connected (a reconnect resends anyway).
      if (this.pending.includes(pending) && socket.connected) void this.#trySend(pending);
      return;
    }
    if (answer.ok) {
      this.pending = this.pending.filter((p) => p !== pending);
      this.#receive(answer.message, true);
      return;
    }
    if (answer.error.code === 'rate_limited' || answer.error.code === 'unavailable') {
      setTimeout(() => void this.#trySend(pending), answer.error.retryAfterMs ?? 1_000);
      return;
    }
    pending.failed = true;
    this.changed();
  }

  async edit(message: Message, body: string): Promise<void> {
    const updated = await api<Message>(
      'PATCH',
      `/conversations/${message.conversationId}/messages/${message.id}`,
      { body },
    );
    this.#receive(updated, false);
  }

  async remove(message: Message): Promise<void> {
    await api('DELETE', `/conversations/${message.conversationId}/messages/${message.id}`);
    this.#receive({ ...message, body: null, deletedAt: new Date().toISOString() }, false);
  }

  typingInput(conversationId: string): void {
    const now = Date.now();
    if (!this.#socket?.connected || now - this.#lastTypingSent < typingResendMs) return;
    this.#lastTypingSent = now;
    void this.#socket.emitWithAck('typing:start', { conversationId }).catch(() => {});
  }

  typingOf(conversationId: string): string[] {
    return [...(this.typing.get(conversationId)?.keys() ?? [])];
  }

  #setTyping(conversationId: string, userId: string, typing: boolean): void {
    if (userId === this.me?.id) return;
    let typists = this.typing.get(conversationId);
    if (!typists) {
      typists = new Map();
      this.typing.set(conversationId, typists);
    }
    const timer = typists.get(userId);
    if (timer) clearTimeout(timer);
    if (typing) {
      typists.set(
        userId,
        setTimeout(() => this.#setTyping(conversationId, userId, false), typingShownMs),
      );
    } else {
      typists.delete(userId);
    }
    this.changed();
  }

  async deleteForMe(conversationId: string): Promise<void> {
    await api('DELETE', `/conversations/${conversationId}`);
    this.messages.delete(conversationId);
    this.olderCursor.delete(conversationId);
    this.conversations.delete(conversationId);
    this.changed();
  }

  async leave(conversationId: string): Promise<void> {
    await api('POST', `/conversations/${conversationId}/leave`);
    this.conversations.delete(conversationId);
    this.changed();
  }

  async createConversation(body: unknown): Promise<string> {
    const created = await api<{ id: string }>('POST', '/conversations', body);
    await this.refreshConversations();
    await this.#socket?.emitWithAck('conversation:join', { conversationIds: [created.id] });
    return created.id;
  }
}

interface CallEvent {
  conversationId: string;
  callId: string;
  userId?: string;
}

export const store = new Store();
