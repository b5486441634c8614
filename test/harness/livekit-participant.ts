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
 */
export interface TestParticipant {
  room: Room;
  /** Resolves when LiveKit disconnects this participant (or it leaves). */
  disconnected: Promise<void>;
  leave(): Promise<void>;
}

const SAMPLE_RATE = 48_000;
const FRAME_SAMPLES = SAMPLE_RATE / 100;

export async function joinLiveKit(
  url: string,
  token: string,
  options: { publishAudio?: boolean } = {},
): Promise<TestParticipant> {
  const room = new Room();
  let connected = true;
  const disconnected = new Promise<void>((resolve) =>
    room.once(RoomEvent.Disconnected, () => {
      connected = false;
      resolve();
    }),
  );
  await room.connect(url, token, { autoSubscribe: false, dynacast: false });
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
