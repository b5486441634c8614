/**
 * Every string the client shows, in one table, so an institution can translate Quad by
 * copying this object. `{name}` placeholders are filled by t().
 */
export const strings = {
  appName: 'Quad',
  loading: 'Loading…',
  skipToContent: 'Skip to content',
  // log in
  loginTitle: 'Log in to Quad',
  username: 'Username',
  password: 'Password',
  logIn: 'Log in',
  logOut: 'Log out',
  loginFailed: 'Wrong username or password.',
  rateLimited: 'Too many attempts; try again in {seconds} s.',
  // navigation
  mainNavigation: 'Main',
  conversations: 'Conversations',
  profile: 'Profile',
  sessions: 'Sessions',
  notifications: 'Notifications',
  search: 'Search',
  admin: 'Admin',
  // connection
  offline: 'You are offline. Messages you send will go out when the connection is back.',
  reconnecting: 'Reconnecting…',
  // conversation list
  noConversations: 'No conversations yet.',
  newDirect: 'New direct conversation',
  newGroup: 'New group',
  userIdOfOther: 'User id of the other person',
  groupTitle: 'Group title',
  memberIds: 'Member user ids (comma-separated)',
  create: 'Create',
  unread: '{count} unread',
  online: 'online',
  offlineStatus: 'offline',
  noMessagesYet: 'No messages yet',
  deletedMessage: 'Message deleted',
  directWith: '{name}',
  liveCall: 'Call in progress',
  // conversation view
  notFound: 'Conversation not found.',
  backToList: 'Back to conversations',
  history: 'Messages',
  loadOlder: 'Load older messages',
  messageLabel: 'Message',
  send: 'Send',
  sending: 'Sending…',
  edited: 'edited',
  edit: 'Edit',
  save: 'Save',
  cancel: 'Cancel',
  delete: 'Delete',
  editMessage: 'Edit message',
  seenBy: 'Seen by {names}',
  typingOne: '{name} is typing…',
  typingMany: '{names} are typing…',
  members: 'Members',
  role_owner: 'owner',
  role_admin: 'admin',
  role_member: 'member',
  leave: 'Leave group',
  deleteForMe: 'Delete for me',
  confirmDeleteForMe: 'Delete this conversation from your list?',
  you: 'You',
  call: 'Call',
  // polls
  polls: 'Polls',
  newPoll: 'New poll',
  pollQuestion: 'Question',
  pollOptions: 'Options (one per line)',
  vote: 'Vote',
  votes: '{count} votes',
  closed: 'closed',
  // call (placeholder until calls land)
  callTitle: 'Call',
  callUnavailable: 'Calls are not available in this version of the client yet.',
  // search
  searchLabel: 'Search my conversations',
  searchButton: 'Search',
  noResults: 'No results.',
  // profile
  displayName: 'Display name',
  bio: 'About me',
  saved: 'Saved.',
  yourId: 'Your user id',
  // sessions
  thisDevice: 'this device',
  revoke: 'Revoke',
  lastSeen: 'Last seen {when}',
  // notifications
  noNotifications: 'No notifications.',
  newMessagesIn: '{count} new messages in {title}',
  markAllRead: 'Mark all read',
  // admin
  adminUsers: 'Create a user',
  email: 'Email',
  role: 'Role',
  roleStudent: 'Student',
  roleTeacher: 'Teacher',
  roleAdmin: 'Admin',
  userCreated: 'User {username} created.',
  apiKeys: 'API keys',
  keyName: 'Key name',
  createKey: 'Create key',
  keyShownOnce: 'Copy this key now; it is not shown again: {key}',
  webhooks: 'Webhooks',
  // errors
  somethingWrong: 'Something went wrong: {detail}',
} as const;

export type StringKey = keyof typeof strings;

export function t(key: StringKey, values: Record<string, string | number> = {}): string {
  return strings[key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}
