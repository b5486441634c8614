import {
  ConnectionState,
  createKeyMaterialFromBuffer,
  ExternalE2EEKeyProvider,
  isE2EESupported,
  type Participant,
  Room,
  RoomEvent,
  Track,
} from 'livekit-client';
// The Vite way to ship a worker: bundled as its own file under /assets, so the edge's
// Content-Security-Policy ('self', no blob: scripts) admits it.
import E2EEWorker from 'livekit-client/e2ee-worker?worker';
import { ApiError, api } from './api';
import { t } from './strings';

/** The api's view of a live call (GET /conversations/:id/call, and in the join answer). */
export interface CallInfo {
  id: string;
  conversationId: string;
  startedBy: string;
  startedAt: string;
  participants: { userId: string; joinedAt: string; muted: boolean }[];
}

interface JoinAnswer {
  call: CallInfo;
  livekit: { url: string; token: string };
  e2ee: CallKey;
}

export interface CallKey {
  key: string;
  keyIndex: number;
}

/** One person in the call as this browser sees them through LiveKit. */
export interface CallParticipant {
  userId: string;
  name: string;
  local: boolean;
  microphoneOn: boolean;
  cameraOn: boolean;
  /** Every track it publishes is end-to-end encrypted (as its publisher declared to LiveKit). */
  encrypted: boolean;
  participant: Participant;
}

export type CallPhase = 'joining' | 'connected' | 'reconnecting' | 'left' | 'ended' | 'failed';

/**
 * LiveKit's shared-key provider with the key's slot in the 16-slot ring: the api rotates the
 * call's key into the next slot whenever someone leaves, and frames carry the index they were
 * encrypted with, so a frame sent just before a rotation still decrypts with the previous slot.
 * ExternalE2EEKeyProvider.setKey always writes slot 0.
 */
class CallKeyProvider extends ExternalE2EEKeyProvider {
  async setKeyAt(key: ArrayBuffer, keyIndex: number): Promise<void> {
    // Random bytes, not a passphrase: HKDF, as LiveKit's provider does for an ArrayBuffer.
    this.onSetEncryptionKey(await createKeyMaterialFromBuffer(key), undefined, keyIndex);
  }
}

function keyBytes(base64: string): ArrayBuffer {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/**
 * The api hands out LiveKit's address as a ws(s):// URL, or as a path on the origin the client
 * reached it through (LiveKit's signalling proxied by the edge).
 */
export function liveKitAddress(url: string): string {
  if (!url.startsWith('/')) return url;
  const address = new URL(url, location.href);
  address.protocol = address.protocol === 'https:' ? 'wss:' : 'ws:';
  return address.href.replace(/\/$/, '');
}

/**
 * This browser in one conversation's call: the LiveKit room, end-to-end encrypted with the
 * key the api hands out, and every rotated key pushed over the socket applied as it comes.
 * Media never leaves the browser unencrypted: a browser that cannot encrypt does not join.
 */
export class CallSession {
  readonly conversationId: string;
  callId: string | null = null;
  phase: CallPhase = 'joining';
  /** The slot of the key this browser encrypts with now. */
  keyIndex: number | null = null;
  encrypted = false;
  error = '';
  /** Why a device could not be turned on (the call goes on without it). */
  deviceError = '';
  readonly room: Room;
  readonly #keyProvider = new CallKeyProvider();
  readonly #worker = new E2EEWorker();
  readonly #onChange: () => void;
  /** Keys pushed before the join answer was applied: they are newer, so they go after it. */
  #earlyKeys: (CallKey & { callId: string })[] = [];
  #joined = false;

  constructor(conversationId: string, onChange: () => void) {
    this.conversationId = conversationId;
    this.#onChange = onChange;
    this.room = new Room({
      adaptiveStream: true,
      dynacast: true,
      e2ee: { keyProvider: this.#keyProvider, worker: this.#worker },
    });
    const changed = () => this.#onChange();
    for (const event of [
      RoomEvent.ParticipantConnected,
      RoomEvent.ParticipantDisconnected,
      RoomEvent.TrackSubscribed,
      RoomEvent.TrackUnsubscribed,
      RoomEvent.TrackMuted,
      RoomEvent.TrackUnmuted,
      RoomEvent.LocalTrackPublished,
      RoomEvent.LocalTrackUnpublished,
      RoomEvent.ParticipantEncryptionStatusChanged,
    ] as const) {
      this.room.on(event, changed);
    }
    this.room.on(RoomEvent.ConnectionStateChanged, (state: ConnectionState) => {
      if (!this.active) return;
      if (state === ConnectionState.Reconnecting || state === ConnectionState.SignalReconnecting) {
        this.phase = 'reconnecting';
      } else if (state === ConnectionState.Connected) {
        this.phase = 'connected';
      }
      this.#onChange();
    });
    this.room.on(RoomEvent.Disconnected, () => {
      // Removed by the api (a leave on another device, an admin), or the room closed.
      if (this.phase !== 'ended' && this.phase !== 'failed') this.phase = 'left';
      this.#worker.terminate();
      this.#onChange();
    });
    this.room.on(RoomEvent.ParticipantEncryptionStatusChanged, () => {
      this.encrypted = this.room.isE2EEEnabled;
      this.#onChange();
    });
    this.room.on(RoomEvent.EncryptionError, () => {
      this.#onChange();
    });
  }

  /** Starts the conversation's call or joins the live one, then turns on camera and microphone. */
  async join(): Promise<void> {
    if (!isE2EESupported()) {
      this.#fail(t('e2eeUnsupported'));
      return;
    }
    let answer: JoinAnswer;
    try {
      answer = await api<JoinAnswer>('POST', `/conversations/${this.conversationId}/call`);
    } catch (error) {
      this.#fail(error instanceof ApiError ? error.message : String(error));
      return;
    }
    this.callId = answer.call.id;
    await this.#applyKey(answer.e2ee);
    this.#joined = true;
    for (const early of this.#earlyKeys.splice(0)) await this.applyPushedKey(early);
    try {
      await this.room.setE2EEEnabled(true);
      // Left (or the screen closed) while the join was on its way: not into the room after all.
      if (!this.active) return;
      await this.room.connect(liveKitAddress(answer.livekit.url), answer.livekit.token);
    } catch (error) {
      // A leave while connecting disconnects the room, which fails the connect: not an error.
      if (this.active) this.#fail(error instanceof Error ? error.message : String(error));
      return;
    }
    if (!this.active) {
      // Left while connecting: leave() could not yet disconnect what was not connected.
      await this.#disconnect();
      return;
    }
    this.phase = 'connected';
    this.encrypted = this.room.isE2EEEnabled;
    this.#onChange();
    try {
      await this.room.localParticipant.enableCameraAndMicrophone();
    } catch (error) {
      this.deviceError = error instanceof Error ? error.message : String(error);
    }
    this.#onChange();
  }

  /** A `call:key` push: the key rotated (someone left). Ignored for another call. */
  async applyPushedKey(pushed: CallKey & { callId: string }): Promise<void> {
    if (!this.#joined) {
      this.#earlyKeys.push(pushed);
      return;
    }
    if (pushed.callId !== this.callId) return;
    await this.#applyKey(pushed);
  }

  /** After a reconnect of the socket: a push may have been missed. */
  async refreshKey(): Promise<void> {
    if (!this.#joined || !this.active) return;
    try {
      await this.#applyKey(
        await api<CallKey>('GET', `/conversations/${this.conversationId}/call/key`),
      );
    } catch {
      // No live call any more: call:ended (or the room closing) says so.
    }
  }

  async #applyKey({ key, keyIndex }: CallKey): Promise<void> {
    await this.#keyProvider.setKeyAt(keyBytes(key), keyIndex);
    this.keyIndex = keyIndex;
    this.#onChange();
  }

  get active(): boolean {
    return this.phase === 'joining' || this.phase === 'connected' || this.phase === 'reconnecting';
  }

  participants(): CallParticipant[] {
    if (this.room.state === ConnectionState.Disconnected) return [];
    const everyone: Participant[] = [
      this.room.localParticipant,
      ...this.room.remoteParticipants.values(),
    ];
    return everyone.map((participant) => ({
      userId: participant.identity,
      name: participant.name || participant.identity,
      local: participant === this.room.localParticipant,
      microphoneOn: participant.isMicrophoneEnabled,
      cameraOn: participant.isCameraEnabled,
      encrypted: participant.isEncrypted,
      participant,
    }));
  }

  async setMicrophone(on: boolean): Promise<void> {
    await this.#device(() => this.room.localParticipant.setMicrophoneEnabled(on));
  }

  async setCamera(on: boolean): Promise<void> {
    await this.#device(() => this.room.localParticipant.setCameraEnabled(on));
  }

  async #device(change: () => Promise<unknown>): Promise<void> {
    this.deviceError = '';
    try {
      await change();
    } catch (error) {
      this.deviceError = error instanceof Error ? error.message : String(error);
    }
    this.#onChange();
  }

  /** Leaves on every device (the api tells LiveKit, and the key rotates for those who stay). */
  async leave(): Promise<void> {
    if (!this.active) return;
    this.phase = 'left';
    this.#onChange();
    try {
      if (this.callId) await api('POST', `/conversations/${this.conversationId}/call/leave`);
    } catch {
      // The call may have ended meanwhile; disconnecting below is what matters here.
    }
    await this.#disconnect();
  }

  /** Out of the room for good: the encryption worker goes with it. */
  async #disconnect(): Promise<void> {
    await this.room.disconnect();
    this.#worker.terminate();
    this.#onChange();
  }

  /** Ends the call for everyone (owners and admins of the conversation). */
  async end(): Promise<void> {
    await api('DELETE', `/conversations/${this.conversationId}/call`);
    this.ended();
  }

  /** The call is over (`call:ended`, or ended here). */
  ended(): void {
    this.phase = 'ended';
    void this.#disconnect();
  }

  #fail(error: string): void {
    this.phase = 'failed';
    this.error = error;
    void this.#disconnect();
  }
}

/** The camera track of a participant, if it publishes one (for a <video> element). */
export function cameraTrack(participant: Participant): Track | undefined {
  return participant.getTrackPublication(Track.Source.Camera)?.track;
}

/** The microphone track of a remote participant (played through an <audio> element). */
export function microphoneTrack(participant: Participant): Track | undefined {
  return participant.getTrackPublication(Track.Source.Microphone)?.track;
}
