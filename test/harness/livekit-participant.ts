import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';

/**
 * A real LiveKit participant without a browser (@livekit/rtc-node, whose linux-x64 native
 * library ships in the npm package): connects with a join token and, if asked, publishes a
 * synthetic audio track (a 440 Hz tone in 10 ms frames, paced by the source's own queue).
 * Given the call's media key, it encrypts what it publishes end to end (LiveKit's frame
 * encryption, AES-GCM, the key as shared key), as Quad's clients do.
 *
 * What rtc-node 1.1.0 (the newest) cannot do: send with another key index than the first.
 * The shared key of its options goes to slot 0 and is what it sends with; moving the sender to
 * another slot (FrameCryptor.setKeyIndex) fails in the library itself ("cannot encode field
 * livekit.proto.FrameCryptorSetKeyIndexRequest.track_sid: required field not set"), and its
 * key provider is private. So these participants encrypt with the key they joined with and do
 * not follow rotations; rotations are tested through the api and the sockets.
 */
export interface TestParticipant {
  room: Room;
  /** Resolves when LiveKit disconnects this participant (or it leaves). */
  disconnected: Promise<void>;
  leave(): Promise<void>;
}

/** A call's media key as the api hands it over (join answer, `call:key`). */
export interface MediaKey {
  key: string;
  keyIndex: number;
}

const SAMPLE_RATE = 48_000;
const FRAME_SAMPLES = SAMPLE_RATE / 100;

export async function joinLiveKit(
  url: string,
  token: string,
  options: { publishAudio?: boolean; e2ee?: MediaKey } = {},
): Promise<TestParticipant> {
  const room = new Room();
  let connected = true;
  const disconnected = new Promise<void>((resolve) =>
    room.once(RoomEvent.Disconnected, () => {
      connected = false;
      resolve();
    }),
  );
  const { e2ee } = options;
  await room.connect(url, token, {
    autoSubscribe: false,
    dynacast: false,
    ...(e2ee
      ? { encryption: { keyProviderOptions: { sharedKey: Buffer.from(e2ee.key, 'base64') } } }
      : {}),
  });
  if (options.publishAudio) {
    const source = new AudioSource(SAMPLE_RATE, 1);
    const track = LocalAudioTrack.createAudioTrack('synthetic-tone', source);
    await room.localParticipant?.publishTrack(
      track,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
    );
    const samples = new Int16Array(FRAME_SAMPLES);
    for (let index = 0; index < FRAME_SAMPLES; index++) {
      samples[index] = Math.round(3_000 * Math.sin((2 * Math.PI * 440 * index) / SAMPLE_RATE));
    }
    void (async () => {
      while (connected) {
        await source.captureFrame(new AudioFrame(samples, SAMPLE_RATE, 1, FRAME_SAMPLES));
      }
    })().catch(() => {
      // The room closed under the capture: the participant is gone.
    });
  }
  return {
    room,
    disconnected,
    async leave() {
      if (connected) await room.disconnect();
      connected = false;
    },
  };
}
