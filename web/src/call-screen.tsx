import type { Track } from 'livekit-client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Conversation } from './api';
import {
  type CallParticipant,
  type CallPhase,
  type CallSession,
  cameraTrack,
  microphoneTrack,
} from './call';
import { useStore } from './hooks';
import { store } from './store';
import { t } from './strings';
import { ErrorAlert, errorText } from './ui';

/** A LiveKit track played in an element of its own kind; detached when it goes. */
function TrackElement({
  track,
  kind,
  label,
}: {
  track: Track;
  kind: 'video' | 'audio';
  label?: string;
}) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const audioRef = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    const element = kind === 'video' ? videoRef.current : audioRef.current;
    if (!element) return;
    track.attach(element);
    return () => {
      track.detach(element);
    };
  }, [track, kind]);
  // Sound comes from the <audio> elements only: videos stay muted (a local preview would echo).
  if (kind === 'video') {
    return (
      <video
        ref={videoRef}
        autoplay
        playsInline
        muted
        aria-label={label}
        data-testid="call-video"
      />
    );
  }
  // biome-ignore lint/a11y/useMediaCaption: live call audio, spoken now: no caption track exists
  return <audio ref={audioRef} autoplay />;
}

function ParticipantTile({ person }: { person: CallParticipant }) {
  const camera = person.cameraOn ? cameraTrack(person.participant) : undefined;
  const microphone = person.local ? undefined : microphoneTrack(person.participant);
  return (
    <li
      class="call-participant"
      data-testid="call-participant"
      data-user-id={person.userId}
      data-microphone={person.microphoneOn ? 'on' : 'off'}
      data-camera={person.cameraOn ? 'on' : 'off'}
      data-encrypted={String(person.encrypted)}
    >
      {camera ? (
        <TrackElement track={camera} kind="video" label={t('videoOf', { name: person.name })} />
      ) : (
        <div class="call-no-video" aria-hidden="true">
          {person.name.slice(0, 1).toUpperCase()}
        </div>
      )}
      {microphone && <TrackElement track={microphone} kind="audio" />}
      <span class="call-name">
        {person.name}
        {person.local && ` (${t('you')})`}
      </span>
      <span class="call-media">
        {person.microphoneOn ? t('microphoneOn') : t('microphoneOff')} ·{' '}
        {person.cameraOn ? t('cameraOn') : t('cameraOff')}
      </span>
      {!person.local && !person.encrypted && person.participant.trackPublications.size > 0 && (
        <span class="error">{t('participantNotEncrypted')}</span>
      )}
    </li>
  );
}

function phaseText(session: CallSession | null, peopleIn: number): string {
  const phase: CallPhase | 'idle' = session?.phase ?? 'idle';
  switch (phase) {
    case 'joining':
      return t('callJoining');
    case 'connected':
      return t('callConnected');
    case 'reconnecting':
      return t('callReconnecting');
    case 'left':
      return t('callLeft');
    case 'ended':
      return t('callEnded');
    case 'failed':
      return t('callFailed', { detail: session?.error ?? '' });
    default:
      return peopleIn > 0 ? t('callPeopleIn', { count: peopleIn }) : t('callNobody');
  }
}

/**
 * A conversation's call: join (or start) it, see and hear who is in it, mute, leave, and, for
 * the conversation's owners and admins, end it for everyone. Media is end-to-end encrypted
 * with the call's key from the api (docs/calls.md); the key's slot shows, and moves on each
 * rotation. Leaving this screen leaves the call.
 */
export function CallScreen({ conversationId }: { conversationId: string }) {
  const current = useStore();
  const [conversation, setConversation] = useState<Conversation | null | 'missing'>(null);
  const [error, setError] = useState('');
  const joinRef = useRef<HTMLButtonElement>(null);
  const microphoneRef = useRef<HTMLButtonElement>(null);
  const session = current.call?.conversationId === conversationId ? current.call : null;
  const active = session?.active === true;
  const connected = session?.phase === 'connected';

  useEffect(() => {
    let cancelled = false;
    api<Conversation>('GET', `/conversations/${conversationId}`)
      .then((found) => {
        if (!cancelled) setConversation(found);
      })
      .catch(() => {
        if (!cancelled) setConversation('missing');
      });
    return () => {
      cancelled = true;
      if (store.call?.conversationId === conversationId) void store.call.leave();
    };
  }, [conversationId]);

  // Keyboard users land on the controls once in the call, and on the join button once out.
  useEffect(() => {
    if (connected) microphoneRef.current?.focus();
  }, [connected]);
  useEffect(() => {
    if (session && !active) joinRef.current?.focus();
  }, [session, active]);

  if (conversation === 'missing') {
    return (
      <section aria-labelledby="call-title">
        <h1 id="call-title">{t('notFound')}</h1>
        <a href="#/">{t('backToList')}</a>
      </section>
    );
  }
  if (!conversation) return <p class="hint">{t('loading')}</p>;

  const title = current.conversationTitle(conversation);
  const myRole = conversation.members.find((m) => m.userId === current.me?.id)?.role;
  const canEnd = myRole === 'owner' || myRole === 'admin';
  const live = current.liveCalls.get(conversationId);
  const people = session?.participants() ?? [];
  const local = people.find((person) => person.local);

  const run = (action: () => Promise<unknown>) => async () => {
    setError('');
    try {
      await action();
    } catch (caught) {
      setError(errorText(caught));
    }
  };

  return (
    <section class="call" aria-labelledby="call-title" data-testid="call-screen">
      <header class="conversation-header">
        <a class="back-to" href={`#/c/${conversationId}`}>
          <span aria-hidden="true">←</span> {t('backToConversation')}
        </a>
        <h1 id="call-title">{t('callTitle', { title })}</h1>
      </header>
      <p
        class="call-status"
        role="status"
        data-testid="call-status"
        data-phase={session?.phase ?? 'idle'}
      >
        {phaseText(session, live?.participantIds.length ?? 0)}
      </p>
      {session && session.keyIndex !== null && active && (
        <p
          class="call-encryption"
          data-testid="call-encryption"
          data-e2ee={String(session.encrypted)}
          data-key-index={session.keyIndex}
        >
          {session.encrypted
            ? t('callEncrypted', { index: session.keyIndex })
            : t('callNotEncrypted')}
        </p>
      )}
      {session?.deviceError && (
        <p class="error">{t('callDeviceError', { detail: session.deviceError })}</p>
      )}
      <div class="call-controls">
        {active ? (
          <>
            <button
              type="button"
              ref={microphoneRef}
              disabled={!connected}
              onClick={run(() => session.setMicrophone(!local?.microphoneOn))}
            >
              {local?.microphoneOn ? t('muteMicrophone') : t('unmuteMicrophone')}
            </button>
            <button
              type="button"
              disabled={!connected}
              onClick={run(() => session.setCamera(!local?.cameraOn))}
            >
              {local?.cameraOn ? t('turnCameraOff') : t('turnCameraOn')}
            </button>
            <button type="button" class="danger" onClick={run(() => session.leave())}>
              {t('leaveCall')}
            </button>
            {canEnd && (
              <button
                type="button"
                class="danger"
                onClick={run(async () => {
                  if (confirm(t('confirmEndCall'))) await session.end();
                })}
              >
                {t('endCall')}
              </button>
            )}
          </>
        ) : (
          <button type="button" ref={joinRef} onClick={run(() => store.joinCall(conversationId))}>
            {live ? t('joinCall') : t('startCall')}
          </button>
        )}
      </div>
      <ErrorAlert error={error} />
      {active && (
        <>
          <h2 id="call-participants-title">{t('callParticipants')}</h2>
          <ul class="call-grid" aria-labelledby="call-participants-title">
            {people.map((person) => (
              <ParticipantTile key={person.userId} person={person} />
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
