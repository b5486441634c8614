import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  api,
  type Conversation,
  type Message,
  type Notification,
  type Poll,
  type SearchResult,
  type Session,
} from './api';
import { useOnline, useRoute, useStore } from './hooks';
import { store } from './store';
import { t } from './strings';
import { ErrorAlert, errorText } from './ui';

export function App() {
  const [restoring, setRestoring] = useState(true);
  const current = useStore();
  useEffect(() => {
    void store.restore().finally(() => setRestoring(false));
  }, []);
  if (restoring) return <p class="centered">{t('loading')}</p>;
  return current.me ? <Shell /> : <Login />;
}

function Login() {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError('');
    try {
      await store.login(String(form.get('username')), String(form.get('password')));
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 429) {
        setError(t('rateLimited', { seconds: caught.retryAfterSeconds ?? 60 }));
      } else if (caught instanceof ApiError && caught.status === 401) {
        setError(t('loginFailed'));
      } else {
        setError(errorText(caught));
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <h1>{t('loginTitle')}</h1>
      <form onSubmit={submit}>
        <label>
          {t('username')}
          <input name="username" autocomplete="username" required />
        </label>
        <label>
          {t('password')}
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <ErrorAlert error={error} />
        <button type="submit" disabled={busy}>
          {t('logIn')}
        </button>
      </form>
    </main>
  );
}

function Shell() {
  const current = useStore();
  const route = useRoute();
  const online = useOnline();
  const [screen, id] = route;
  const me = current.me;
  if (!me) return null;
  let content: JSX.Element;
  switch (screen) {
    case 'c':
      content = id ? <ConversationView key={id} conversationId={id} /> : <Empty />;
      break;
    case 'call':
      content = <LazyCallScreen key={id} conversationId={id ?? ''} />;
      break;
    case 'profile':
      content = <ProfileScreen />;
      break;
    case 'sessions':
      content = <SessionsScreen />;
      break;
    case 'notifications':
      content = <NotificationsScreen />;
      break;
    case 'search':
      content = <SearchScreen />;
      break;
    case 'admin':
      content = me.role === 'admin' ? <AdminScreen /> : <Empty />;
      break;
    default:
      content = <Empty />;
  }
  const disconnected = !online || !current.connected;
  return (
    <div class={`shell ${screen ? 'showing-conversation' : ''}`}>
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        {t('skipToContent')}
      </button>
      <header class="top">
        <a class="brand" href="#/">
          {t('appName')}
        </a>
        <nav aria-label={t('mainNavigation')}>
          <a href="#/search">{t('search')}</a>
          <a href="#/notifications">{t('notifications')}</a>
          <a href="#/profile">{t('profile')}</a>
          <a href="#/sessions">{t('sessions')}</a>
          {me.role === 'admin' && <a href="#/admin">{t('admin')}</a>}
          <button type="button" class="link" onClick={() => void store.logout()}>
            {t('logOut')}
          </button>
        </nav>
      </header>
      {disconnected && (
        <div class="banner" role="status" data-testid="offline-banner">
          {online ? t('reconnecting') : t('offline')}
        </div>
      )}
      <div class="columns">
        <ConversationList activeId={screen === 'c' ? id : undefined} />
        <main id="main" tabIndex={-1} class="content">
          {content}
        </main>
      </div>
    </div>
  );
}

type CallScreenComponent = typeof import('./call-screen').CallScreen;

/** The call screen and LiveKit's client load when a call screen is first opened. */
function LazyCallScreen({ conversationId }: { conversationId: string }) {
  const [Screen, setScreen] = useState<CallScreenComponent | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    import('./call-screen')
      .then((module) => setScreen(() => module.CallScreen))
      .catch((caught: unknown) => setError(errorText(caught)));
  }, []);
  if (error) return <ErrorAlert error={error} />;
  return Screen ? <Screen conversationId={conversationId} /> : <p class="hint">{t('loading')}</p>;
}

function Empty() {
  return <p class="hint">{t('conversations')}</p>;
}

function PresenceDot({ userId }: { userId: string }) {
  const online = store.presence.get(userId) === true;
  return (
    <span
      class={`dot ${online ? 'online' : 'offline'}`}
      data-testid="presence-dot"
      data-online={String(online)}
      role="img"
      aria-label={online ? t('online') : t('offlineStatus')}
    />
  );
}

function ConversationList({ activeId }: { activeId: string | undefined }) {
  const current = useStore();
  const items = [...current.conversations.values()].sort((a, b) =>
    (b.lastMessage?.createdAt ?? '').localeCompare(a.lastMessage?.createdAt ?? ''),
  );
  return (
    <aside class="sidebar" aria-label={t('conversations')}>
      <h2>{t('conversations')}</h2>
      {items.length === 0 && <p class="hint">{t('noConversations')}</p>}
      <ul class="conversations">
        {items.map((item) => {
          const other =
            item.kind === 'direct'
              ? item.members.find((member) => member.userId !== current.me?.id)
              : undefined;
          const preview = item.lastMessage
            ? (item.lastMessage.body ?? t('deletedMessage'))
            : t('noMessagesYet');
          return (
            <li key={item.id}>
              <a
                href={`#/c/${item.id}`}
                aria-current={item.id === activeId ? 'page' : undefined}
                data-testid="conversation-item"
              >
                <span class="title">
                  {other && <PresenceDot userId={other.userId} />}
                  {current.conversationTitle(item)}
                </span>
                <span class="preview">{preview}</span>
                {current.liveCalls.has(item.id) && (
                  <span class="live-call" data-testid="live-call">
                    {t('liveCall')}
                  </span>
                )}
                {item.unreadCount > 0 && (
                  <span class="badge" data-testid="unread-badge">
                    <span aria-hidden="true">{item.unreadCount}</span>
                    <span class="sr-only">{t('unread', { count: item.unreadCount })}</span>
                  </span>
                )}
              </a>
            </li>
          );
        })}
      </ul>
      <NewConversation />
    </aside>
  );
}

/** A folded form that creates something: its fields, then the create button. */
function CreateForm({
  summary,
  onSubmit,
  children,
}: {
  summary: string;
  onSubmit: (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => void;
  children: ComponentChildren;
}) {
  return (
    <details>
      <summary>{summary}</summary>
      <form onSubmit={onSubmit}>
        {children}
        <button type="submit">{t('create')}</button>
      </form>
    </details>
  );
}

function NewConversation() {
  const [error, setError] = useState('');
  const create =
    (kind: 'direct' | 'group') => async (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
      event.preventDefault();
      const form = new FormData(event.currentTarget);
      setError('');
      try {
        const body =
          kind === 'direct'
            ? { kind, userId: String(form.get('userId')).trim() }
            : {
                kind,
                title: String(form.get('title')),
                memberIds: String(form.get('memberIds'))
                  .split(',')
                  .map((id) => id.trim())
                  .filter(Boolean),
              };
        const id = await store.createConversation(body);
        location.hash = `#/c/${id}`;
      } catch (caught) {
        setError(errorText(caught));
      }
    };
  return (
    <div class="new-conversation">
      <CreateForm summary={t('newDirect')} onSubmit={create('direct')}>
        <label>
          {t('userIdOfOther')}
          <input name="userId" required />
        </label>
      </CreateForm>
      <CreateForm summary={t('newGroup')} onSubmit={create('group')}>
        <label>
          {t('groupTitle')}
          <input name="title" required />
        </label>
        <label>
          {t('memberIds')}
          <input name="memberIds" />
        </label>
      </CreateForm>
      <ErrorAlert error={error} />
    </div>
  );
}

function ConversationView({ conversationId }: { conversationId: string }) {
  const current = useStore();
  const [conversation, setConversation] = useState<Conversation | null | 'missing'>(null);
  const [draft, setDraft] = useState('');
  const listRef = useRef<HTMLOListElement>(null);
  const stickToBottom = useRef(true);

  useEffect(() => {
    let cancelled = false;
    api<Conversation>('GET', `/conversations/${conversationId}`)
      .then(async (found) => {
        if (cancelled) return;
        setConversation(found);
        await store.openConversation(conversationId);
      })
      .catch(() => {
        if (!cancelled) setConversation('missing');
      });
    return () => {
      cancelled = true;
      store.closeConversation();
    };
  }, [conversationId]);

  const messages = current.messagesOf(conversationId);
  const pending = current.pending.filter((p) => p.conversationId === conversationId);

  useEffect(() => {
    const list = listRef.current;
    if (list && stickToBottom.current) list.scrollTop = list.scrollHeight;
  });

  if (conversation === 'missing') {
    return (
      <section aria-labelledby="conversation-title">
        <h1 id="conversation-title">{t('notFound')}</h1>
        <a href="#/">{t('backToList')}</a>
      </section>
    );
  }
  if (!conversation) return <p class="hint">{t('loading')}</p>;

  const title = current.conversationTitle(conversation);
  const me = current.me;
  const receipts = current.receipts.get(conversationId);
  const myLastMessage = [...messages].reverse().find((m) => m.senderId === me?.id);
  const seenBy = myLastMessage
    ? [...(receipts?.values() ?? [])]
        .filter((r) => r.userId !== me?.id && r.lastReadSeq >= myLastMessage.seq)
        .map((r) => current.displayName(r.userId))
    : [];
  const typists = current.typingOf(conversationId).map((id) => current.displayName(id));
  const myRole = conversation.members.find((m) => m.userId === me?.id)?.role;
  const canManage = conversation.kind === 'group' && (myRole === 'owner' || myRole === 'admin');
  const reloadConversation = () =>
    api<Conversation>('GET', `/conversations/${conversationId}`).then(setConversation);

  const onScroll = async (event: JSX.TargetedEvent<HTMLOListElement>) => {
    const list = event.currentTarget;
    stickToBottom.current = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    if (list.scrollTop === 0 && current.olderCursor.get(conversationId)) {
      const before = list.scrollHeight;
      await store.loadOlder(conversationId);
      list.scrollTop = list.scrollHeight - before;
    }
  };

  const submit = (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const body = draft.trim();
    if (!body) return;
    stickToBottom.current = true;
    store.send(conversationId, body);
    setDraft('');
  };

  return (
    <section class="conversation" aria-labelledby="conversation-title">
      <header class="conversation-header">
        <a class="back" href="#/">
          <span aria-hidden="true">←</span>
          <span class="sr-only">{t('backToList')}</span>
        </a>
        <h1 id="conversation-title">{title}</h1>
        <a class="button" href={`#/call/${conversationId}`}>
          {current.liveCalls.has(conversationId) ? t('joinCall') : t('call')}
        </a>
        <details class="members">
          <summary>{t('members')}</summary>
          <ul>
            {conversation.members.map((member) => (
              <li key={member.userId}>
                <PresenceDot userId={member.userId} /> {current.displayName(member.userId)} (
                {t(`role_${member.role}`)})
                {canManage && member.userId !== me?.id && member.role !== 'owner' && (
                  <button
                    type="button"
                    class="link"
                    onClick={() =>
                      void api(
                        'DELETE',
                        `/conversations/${conversationId}/members/${member.userId}`,
                      ).then(reloadConversation)
                    }
                  >
                    {t('remove', { name: current.displayName(member.userId) })}
                  </button>
                )}
              </li>
            ))}
          </ul>
          {canManage && (
            <form
              onSubmit={(event) => {
                event.preventDefault();
                const userId = String(new FormData(event.currentTarget).get('userId')).trim();
                void api('POST', `/conversations/${conversationId}/members`, {
                  userId,
                  role: 'member',
                }).then(reloadConversation);
              }}
            >
              <label>
                {t('addMember')}
                <input name="userId" placeholder={t('userId')} required />
              </label>
              <button type="submit">{t('add')}</button>
            </form>
          )}
          {conversation.kind === 'group' && myRole && (
            <button
              type="button"
              onClick={() =>
                void store.leave(conversationId).then(() => {
                  location.hash = '#/';
                })
              }
            >
              {t('leave')}
            </button>
          )}
          <button
            type="button"
            onClick={() => {
              if (confirm(t('confirmDeleteForMe'))) {
                void store.deleteForMe(conversationId).then(() => {
                  location.hash = '#/';
                });
              }
            }}
          >
            {t('deleteForMe')}
          </button>
        </details>
      </header>
      {current.olderCursor.get(conversationId) && (
        <button type="button" class="link" onClick={() => void store.loadOlder(conversationId)}>
          {t('loadOlder')}
        </button>
      )}
      <ol
        class="messages"
        ref={listRef}
        onScroll={onScroll}
        aria-label={t('history')}
        aria-live="polite"
        data-testid="messages"
      >
        {messages.map((message) => (
          <MessageItem key={message.id} message={message} mine={message.senderId === me?.id} />
        ))}
        {pending.map((p) => (
          <li key={p.idempotencyKey} class="message mine pending" data-testid="message">
            <span class="body">{p.body}</span>
            <span class="meta">
              {p.failed ? (
                <button type="button" class="link" onClick={() => store.retry(p)}>
                  {t('send')}
                </button>
              ) : (
                t('sending')
              )}
            </span>
          </li>
        ))}
      </ol>
      <p class="status-line" aria-live="polite">
        {seenBy.length > 0 && (
          <span data-testid="seen-by">{t('seenBy', { names: seenBy.join(', ') })}</span>
        )}{' '}
        {typists.length === 1 && (
          <span data-testid="typing">{t('typingOne', { name: typists[0] ?? '' })}</span>
        )}
        {typists.length > 1 && (
          <span data-testid="typing">{t('typingMany', { names: typists.join(', ') })}</span>
        )}
      </p>
      <form class="composer" onSubmit={submit}>
        <label class="sr-only" for="composer-input">
          {t('messageLabel')}
        </label>
        <input
          id="composer-input"
          value={draft}
          maxLength={4000}
          autocomplete="off"
          onInput={(event) => {
            setDraft(event.currentTarget.value);
            store.typingInput(conversationId);
          }}
        />
        <button type="submit">{t('send')}</button>
      </form>
      <Polls conversationId={conversationId} />
    </section>
  );
}

function MessageItem({ message, mine }: { message: Message; mine: boolean }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(message.body ?? '');
  const deleted = message.body === null;
  return (
    <li class={`message ${mine ? 'mine' : ''}`} data-testid="message" data-message-id={message.id}>
      {!mine && <span class="sender">{store.displayName(message.senderId)}</span>}
      {editing ? (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void store.edit(message, text.trim()).then(() => setEditing(false));
          }}
        >
          <label class="sr-only" for={`edit-${message.id}`}>
            {t('editMessage')}
          </label>
          <input
            id={`edit-${message.id}`}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
          <button type="submit">{t('save')}</button>
          <button type="button" onClick={() => setEditing(false)}>
            {t('cancel')}
          </button>
        </form>
      ) : (
        <span class={`body ${deleted ? 'deleted' : ''}`}>
          {deleted ? t('deletedMessage') : message.body}
        </span>
      )}
      <span class="meta">
        <time dateTime={message.createdAt}>
          {new Date(message.createdAt).toLocaleTimeString([], {
            hour: '2-digit',
            minute: '2-digit',
          })}
        </time>
        {message.editedAt && !deleted && ` · ${t('edited')}`}
        {mine && !deleted && !editing && (
          <>
            {' '}
            <button
              type="button"
              class="link"
              onClick={() => {
                setText(message.body ?? '');
                setEditing(true);
              }}
            >
              {t('edit')}
            </button>{' '}
            <button type="button" class="link" onClick={() => void store.remove(message)}>
              {t('delete')}
            </button>
          </>
        )}
      </span>
    </li>
  );
}

function Polls({ conversationId }: { conversationId: string }) {
  const [polls, setPolls] = useState<Poll[]>([]);
  const [error, setError] = useState('');
  const reload = () =>
    api<{ polls: Poll[] }>('GET', `/conversations/${conversationId}/polls`)
      .then((answer) => setPolls(answer.polls))
      .catch((caught: unknown) => setError(errorText(caught)));
  useEffect(() => {
    void reload();
    // No socket event carries votes: results refresh while the conversation is open.
    const timer = setInterval(() => void reload(), 5_000);
    return () => clearInterval(timer);
  }, [conversationId]);
  const create = async (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    try {
      await api('POST', `/conversations/${conversationId}/polls`, {
        question: String(form.get('question')),
        options: String(form.get('options'))
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean),
      });
      formElement.reset();
      await reload();
    } catch (caught) {
      setError(errorText(caught));
    }
  };
  return (
    <section class="polls" aria-labelledby="polls-title">
      <h2 id="polls-title">{t('polls')}</h2>
      {polls.map((poll) => (
        <fieldset key={poll.id} data-testid="poll">
          <legend>
            {poll.question} {poll.closed && `(${t('closed')})`}
          </legend>
          {poll.options.map((option) => (
            <button
              key={option.id}
              type="button"
              aria-pressed={poll.myVote === option.id}
              disabled={poll.closed}
              onClick={() =>
                void api('PUT', `/conversations/${conversationId}/polls/${poll.id}/vote`, {
                  optionId: option.id,
                }).then(reload)
              }
            >
              {option.text}: {t('votes', { count: option.votes })}
            </button>
          ))}
        </fieldset>
      ))}
      <CreateForm summary={t('newPoll')} onSubmit={create}>
        <label>
          {t('pollQuestion')}
          <input name="question" required />
        </label>
        <label>
          {t('pollOptions')}
          <textarea name="options" rows={3} required />
        </label>
      </CreateForm>
      <ErrorAlert error={error} />
    </section>
  );
}

function ProfileScreen() {
  const current = useStore();
  const [status, setStatus] = useState('');
  const me = current.me;
  if (!me) return null;
  const save = async (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      current.me = await api('PATCH', '/me', {
        displayName: String(form.get('displayName')),
        bio: String(form.get('bio')),
      });
      setStatus(t('saved'));
      current.changed();
    } catch (caught) {
      setStatus(errorText(caught));
    }
  };
  return (
    <section aria-labelledby="profile-title">
      <h1 id="profile-title">{t('profile')}</h1>
      <p>
        {t('yourId')}: <code data-testid="my-id">{me.id}</code>
      </p>
      <form onSubmit={save}>
        <label>
          {t('displayName')}
          <input name="displayName" defaultValue={me.displayName} required />
        </label>
        <label>
          {t('bio')}
          <textarea name="bio" defaultValue={me.bio} rows={3} />
        </label>
        <button type="submit">{t('save')}</button>
      </form>
      {status && <p role="status">{status}</p>}
    </section>
  );
}

function SessionsScreen() {
  const [sessions, setSessions] = useState<Session[]>([]);
  const reload = () =>
    api<{ sessions: Session[] }>('GET', '/auth/sessions').then((a) => setSessions(a.sessions));
  useEffect(() => {
    void reload();
  }, []);
  return (
    <section aria-labelledby="sessions-title">
      <h1 id="sessions-title">{t('sessions')}</h1>
      <ul class="plain">
        {sessions.map((session) => (
          <li key={session.id} data-testid="session">
            {session.userAgent ?? '—'} {session.current && <strong>({t('thisDevice')})</strong>}{' '}
            {!session.current && (
              <button
                type="button"
                onClick={() => void api('DELETE', `/auth/sessions/${session.id}`).then(reload)}
              >
                {t('revoke')}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function NotificationsScreen() {
  const current = useStore();
  const [items, setItems] = useState<Notification[]>([]);
  const reload = () =>
    api<{ notifications: Notification[] }>('GET', '/notifications').then((a) =>
      setItems(a.notifications),
    );
  useEffect(() => {
    void reload();
  }, []);
  return (
    <section aria-labelledby="notifications-title">
      <h1 id="notifications-title">{t('notifications')}</h1>
      <button
        type="button"
        onClick={() => void api('POST', '/notifications/read-all').then(reload)}
      >
        {t('markAllRead')}
      </button>
      {items.length === 0 && <p>{t('noNotifications')}</p>}
      <ul class="plain">
        {items.map((item) => {
          const conversation = current.conversations.get(item.conversationId);
          return (
            <li key={item.id} class={item.readAt ? '' : 'unread'}>
              <a href={`#/c/${item.conversationId}`}>
                {t('newMessagesIn', {
                  count: item.unreadCount,
                  title: conversation ? current.conversationTitle(conversation) : '…',
                })}
              </a>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function SearchScreen() {
  const current = useStore();
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const [error, setError] = useState('');
  const search = async (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const q = String(new FormData(event.currentTarget).get('q'));
    try {
      const answer = await api<{ results: SearchResult[] }>(
        'GET',
        `/search?${new URLSearchParams({ q })}`,
      );
      setResults(answer.results);
    } catch (caught) {
      setError(errorText(caught));
    }
  };
  return (
    <section aria-labelledby="search-title">
      <h1 id="search-title">{t('search')}</h1>
      <form onSubmit={search}>
        <label>
          {t('searchLabel')}
          <input name="q" type="search" required />
        </label>
        <button type="submit">{t('searchButton')}</button>
      </form>
      <ErrorAlert error={error} />
      {results?.length === 0 && <p>{t('noResults')}</p>}
      <ul class="plain">
        {results?.map((result) => {
          const conversation = current.conversations.get(result.conversationId);
          return (
            <li key={result.message.id} data-testid="search-result">
              <a href={`#/c/${result.conversationId}`}>
                {conversation ? current.conversationTitle(conversation) : '…'}
              </a>
              {/* The API escapes the text and marks matches with <mark> only. */}
              <p dangerouslySetInnerHTML={{ __html: result.headline }} />
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function AdminScreen() {
  const [status, setStatus] = useState('');
  const [keyStatus, setKeyStatus] = useState('');
  const [deactivateStatus, setDeactivateStatus] = useState('');
  const deactivate = async (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const userId = String(new FormData(event.currentTarget).get('userId')).trim();
    try {
      await api('POST', `/admin/users/${userId}/deactivate`);
      setDeactivateStatus(t('userDeactivated'));
    } catch (caught) {
      setDeactivateStatus(errorText(caught));
    }
  };
  const createUser = async (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    try {
      const username = String(form.get('username'));
      await api('POST', '/admin/users', {
        username,
        email: String(form.get('email')),
        displayName: String(form.get('displayName')),
        role: String(form.get('role')),
        password: String(form.get('password')),
      });
      formElement.reset();
      setStatus(t('userCreated', { username }));
    } catch (caught) {
      setStatus(errorText(caught));
    }
  };
  const createKey = async (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    try {
      const answer = await api<{ key: string }>('POST', '/admin/api-keys', {
        name: String(form.get('name')),
      });
      setKeyStatus(t('keyShownOnce', { key: answer.key }));
    } catch (caught) {
      setKeyStatus(errorText(caught));
    }
  };
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">{t('admin')}</h1>
      <h2>{t('adminUsers')}</h2>
      <form onSubmit={createUser}>
        <label>
          {t('username')}
          <input name="username" required />
        </label>
        <label>
          {t('email')}
          <input name="email" type="email" required />
        </label>
        <label>
          {t('displayName')}
          <input name="displayName" required />
        </label>
        <label>
          {t('role')}
          <select name="role">
            <option value="student">{t('roleStudent')}</option>
            <option value="teacher">{t('roleTeacher')}</option>
            <option value="admin">{t('roleAdmin')}</option>
          </select>
        </label>
        <label>
          {t('password')}
          <input name="password" type="password" autocomplete="new-password" required />
        </label>
        <button type="submit">{t('create')}</button>
      </form>
      {status && <p role="status">{status}</p>}
      <h2>{t('apiKeys')}</h2>
      <form onSubmit={createKey}>
        <label>
          {t('keyName')}
          <input name="name" required />
        </label>
        <button type="submit">{t('createKey')}</button>
      </form>
      {keyStatus && <p role="status">{keyStatus}</p>}
      <ApiKeyList refreshKey={keyStatus} />
      <h2>{t('deactivateUser')}</h2>
      <form onSubmit={deactivate}>
        <label>
          {t('userId')}
          <input name="userId" required />
        </label>
        <button type="submit">{t('deactivate')}</button>
      </form>
      {deactivateStatus && <p role="status">{deactivateStatus}</p>}
      <Webhooks />
    </section>
  );
}

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  revokedAt: string | null;
}

function ApiKeyList({ refreshKey }: { refreshKey: string }) {
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const reload = () =>
    api<{ apiKeys: ApiKey[] }>('GET', '/admin/api-keys').then((a) => setKeys(a.apiKeys));
  useEffect(() => {
    void reload();
  }, [refreshKey]);
  return (
    <ul class="plain">
      {keys.map((key) => (
        <li key={key.id} data-testid="api-key">
          {key.name} <code>{key.prefix}…</code>{' '}
          {key.revokedAt ? (
            `(${t('revoked')})`
          ) : (
            <button
              type="button"
              aria-label={t('revokeKey', { name: key.name })}
              onClick={() => void api('DELETE', `/admin/api-keys/${key.id}`).then(reload)}
            >
              {t('revoke')}
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

interface Webhook {
  id: string;
  url: string;
  events: string[];
  active: boolean;
}
interface Delivery {
  id: string;
  eventType: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
}

const webhookEventTypes = [
  'message.created',
  'message.updated',
  'message.deleted',
  'receipt.advanced',
  'member.added',
  'member.removed',
];

function Webhooks() {
  const [hooks, setHooks] = useState<Webhook[]>([]);
  const [status, setStatus] = useState('');
  const reload = () =>
    api<{ webhooks: Webhook[] }>('GET', '/admin/webhooks').then((a) => setHooks(a.webhooks));
  useEffect(() => {
    void reload();
  }, []);
  const create = async (event: JSX.TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    try {
      const created = await api<{ secret: string }>('POST', '/admin/webhooks', {
        url: String(form.get('url')),
        events: form.getAll('events').map(String),
      });
      formElement.reset();
      setStatus(t('webhookSecret', { secret: created.secret }));
      await reload();
    } catch (caught) {
      setStatus(errorText(caught));
    }
  };
  return (
    <>
      <h2>{t('webhooks')}</h2>
      <ul class="plain">
        {hooks.map((hook) => (
          <li key={hook.id} data-testid="webhook">
            <code>{hook.url}</code> ({hook.active ? t('active') : t('paused')}){' '}
            {hook.events.join(', ')}{' '}
            <button
              type="button"
              onClick={() =>
                void api('PATCH', `/admin/webhooks/${hook.id}`, { active: !hook.active }).then(
                  reload,
                )
              }
            >
              {hook.active ? t('pause') : t('resume')}
            </button>{' '}
            <button
              type="button"
              onClick={() => void api('DELETE', `/admin/webhooks/${hook.id}`).then(reload)}
            >
              {t('delete')}
            </button>
            <DeadLetters webhookId={hook.id} />
          </li>
        ))}
      </ul>
      <form onSubmit={create}>
        <label>
          {t('webhookUrl')}
          <input name="url" type="url" required />
        </label>
        <fieldset>
          <legend>{t('webhookEvents')}</legend>
          {webhookEventTypes.map((type) => (
            <label key={type} class="inline">
              <input type="checkbox" name="events" value={type} defaultChecked /> {type}
            </label>
          ))}
        </fieldset>
        <button type="submit">{t('createWebhook')}</button>
      </form>
      {status && <p role="status">{status}</p>}
    </>
  );
}

function DeadLetters({ webhookId }: { webhookId: string }) {
  const [dead, setDead] = useState<Delivery[]>([]);
  const reload = () =>
    api<{ deliveries: Delivery[] }>(
      'GET',
      `/admin/webhooks/${webhookId}/deliveries?status=dead`,
    ).then((a) => setDead(a.deliveries));
  useEffect(() => {
    void reload();
  }, [webhookId]);
  return (
    <details>
      <summary>
        {t('deadLetters')} ({dead.length})
      </summary>
      {dead.length === 0 && <p>{t('noDeadLetters')}</p>}
      <ul class="plain">
        {dead.map((delivery) => (
          <li key={delivery.id}>
            {delivery.eventType} · {delivery.attempts} · {delivery.lastStatusCode ?? '—'}{' '}
            {delivery.lastError ?? ''}{' '}
            <button
              type="button"
              onClick={() =>
                void api(
                  'POST',
                  `/admin/webhooks/${webhookId}/deliveries/${delivery.id}/retry`,
                ).then(reload)
              }
            >
              {t('retry')}
            </button>
          </li>
        ))}
      </ul>
    </details>
  );
}
