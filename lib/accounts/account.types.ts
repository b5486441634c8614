/** Roles, from most to least privileged. Admins manage accounts and API keys; teachers and
 *  students differ in what later capabilities (conversations, polls) let them do. */
export const roles = ['admin', 'teacher', 'student'] as const;
export type Role = (typeof roles)[number];

/**
 * An account as the rest of Quad sees it (never the password hash). Plain JSON (dates as ISO
 * strings) because it is also the cached copy in Redis (`user-profile` namespace).
 */
export interface UserAccount {
  id: string;
  username: string;
  email: string;
  displayName: string;
  bio: string;
  role: Role;
  createdAt: string;
  updatedAt: string;
  /** Set once an admin deactivates the account; it can no longer log in or act. */
  deactivatedAt: string | null;
}

/** What a valid session token proves; the cached copy in Redis (`session` namespace). */
export interface SessionIdentity {
  sessionId: string;
  userId: string;
  role: Role;
  /** Epoch milliseconds: checked on every request, so a cached copy can never outlive it. */
  expiresAt: number;
}

/** What a valid API key proves; the cached copy in Redis (`api-key` namespace). */
export interface ApiKeyIdentity {
  apiKeyId: string;
  /** The account the key acts as. */
  userId: string;
  role: Role;
}

/** A session as its owner sees it in "your sessions" (never the token or its hash). */
export interface SessionSummary {
  id: string;
  createdAt: string;
  expiresAt: string;
  lastSeenAt: string;
  userAgent: string | null;
  ip: string | null;
}

/** An API key as admins see it in a list (never the key or its hash). */
export interface ApiKeySummary {
  id: string;
  name: string;
  /** The key's first characters, to tell keys apart. */
  prefix: string;
  userId: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}
