import { AccessToken, RoomServiceClient, WebhookReceiver } from 'livekit-server-sdk';
import { policy } from '../policy/policy.js';

/**
 * LiveKit as Quad uses it: join tokens, the server API (rooms and participants) and the webhook
 * signature check. Built once by a composition root from config.livekit (LIVEKIT_URL,
 * LIVEKIT_PUBLIC_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET) and handed down.
 */
export interface LiveKit {
  /**
   * What clients connect to: a ws(s):// URL, or a path on the api's own origin (LiveKit's
   * signalling proxied by the edge; the client resolves it against the page's origin).
   */
  url: string;
  rooms: RoomServiceClient;
  webhooks: WebhookReceiver;
  /** A join token for `room` only, valid policy.calls.tokenTtlSeconds. */
  joinToken(grant: {
    room: string;
    identity: string;
    name: string;
    canPublish: boolean;
  }): Promise<string>;
}

export function createLiveKit(settings: {
  /** Where the api reaches LiveKit's server API. */
  url: string;
  /** What clients are handed; the server URL when not given. */
  publicUrl?: string;
  apiKey: string;
  apiSecret: string;
}): LiveKit {
  const { url, apiKey, apiSecret } = settings;
  return {
    url: settings.publicUrl ?? url,
    rooms: new RoomServiceClient(url.replace(/^ws/, 'http'), apiKey, apiSecret, {
      requestTimeout: policy.calls.livekitRequestTimeoutMs / 1_000,
    }),
    webhooks: new WebhookReceiver(apiKey, apiSecret),
    async joinToken({ room, identity, name, canPublish }) {
      const token = new AccessToken(apiKey, apiSecret, {
        identity,
        name,
        ttl: policy.calls.tokenTtlSeconds,
      });
      token.addGrant({
        room,
        roomJoin: true,
        canSubscribe: true,
        canPublish,
        canPublishData: canPublish,
        // The client cannot rename itself or change its metadata: identity and name are ours.
        canUpdateOwnMetadata: false,
      });
      return token.toJwt();
    },
  };
}

/** The LiveKit room of a call: one room per call, never reused. */
export const roomOfCall = (callId: string) => `quad-call-${callId}`;
const ROOM = /^quad-call-([0-9a-f-]{36})$/;
export function callOfRoom(room: string | undefined): string | undefined {
  return room === undefined ? undefined : ROOM.exec(room)?.[1];
}
