/** The REST API under /api/v1, reached through the edge on the page's own origin. */

export interface Me {
  id: string;
  username: string;
  email: string;
  displayName: string;
  bio: string;
  role: 'admin' | 'teacher' | 'student';
}
export interface Profile {
  id: string;
  username: string;
  displayName: string;
  bio: string;
  role: string;
  active: boolean;
}
export interface Member {
  userId: string;
  role: 'owner' | 'admin' | 'member';
}
export interface Message {
  id: string;
  conversationId: string;
  senderId: string;
  seq: number;
  body: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
}
export interface Conversation {
  id: string;
  kind: 'direct' | 'group';
  title: string | null;
  createdBy: string;
  members: Member[];
}
export interface ConversationListItem extends Conversation {
  lastMessage: Message | null;
  unreadCount: number;
}
export interface Receipt {
  userId: string;
  lastReadMessageId: string | null;
  lastReadSeq: number;
}
export interface Session {
  id: string;
  createdAt: string;
  lastSeenAt: string | null;
  userAgent: string | null;
  current: boolean;
}
export interface Poll {
  id: string;
  question: string;
  closed: boolean;
  options: { id: string; text: string; votes: number }[];
  totalVotes: number;
  myVote: string | null;
}
export interface Notification {
  id: string;
  conversationId: string;
  unreadCount: number;
  readAt: string | null;
}
export interface SearchResult {
  conversationId: string;
  message: Message;
  headline: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

const tokenKey = 'quad.token';

export function storedToken(): string | null {
  return localStorage.getItem(tokenKey);
}

export function storeToken(token: string | null): void {
  if (token === null) localStorage.removeItem(tokenKey);
  else localStorage.setItem(tokenKey, token);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const token = storedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const problem = (parsed ?? {}) as { code?: string; title?: string; detail?: string };
    const retryAfter = Number(response.headers.get('Retry-After'));
    throw new ApiError(
      response.status,
      problem.code ?? 'unknown',
      problem.detail ?? problem.title ?? response.statusText,
      Number.isFinite(retryAfter) ? retryAfter : undefined,
    );
  }
  return parsed as T;
}
