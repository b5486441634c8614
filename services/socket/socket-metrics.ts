import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The gateway's own metrics (presence has its own in lib/realtime). */
export function socketMetrics(registry: Registry) {
  return {
    connections: new Gauge({
      name: 'socket_connections',
      help: 'Socket.IO connections currently open on this instance',
      registers: [registry],
    }),
    handshakes: new Counter({
      name: 'socket_handshakes_total',
      help: 'Connection attempts by outcome (accepted, or the refusal code)',
      labelNames: ['result'],
      registers: [registry],
    }),
    disconnects: new Counter({
      name: 'socket_disconnects_total',
      help: 'Connections closed, by the server-side reason (session_revoked, rate_limited) or the transport reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    slowConsumerDisconnects: new Counter({
      name: 'socket_slow_consumer_disconnects_total',
      help: 'Connections cut because more than policy.realtime.maxQueuedFrames frames waited for them (a client that stopped reading); it reconnects and catches up',
      registers: [registry],
    }),
    eventsReceived: new Counter({
      name: 'socket_events_received_total',
      help: 'Client events by event name and result (ok, or the ack error code)',
      labelNames: ['event', 'result'],
      registers: [registry],
    }),
    eventsSent: new Counter({
      name: 'socket_events_sent_total',
      help: 'Server events this instance wrote to its sockets, by event (one per broadcast, not per recipient)',
      labelNames: ['event'],
      registers: [registry],
    }),
    handlerSeconds: new Histogram({
      name: 'socket_event_handler_seconds',
      help: 'Time from receiving a client event to its ack',
      labelNames: ['event'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    deliverySeconds: new Histogram({
      name: 'socket_broadcast_delivery_seconds',
      help: 'Time from an event being published (by any service) to this instance writing it to its sockets',
      labelNames: ['event'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'socket_message_batch_size',
      help: 'message:new events of one room coalesced into one message:batch frame (for connections that asked for batches), per batch',
      buckets: [2, 5, 10, 20, 50, 100, 200, 500],
      registers: [registry],
    }),
    broadcastErrors: new Counter({
      name: 'socket_broadcast_errors_total',
      help: 'Broadcasts that could not be published to Redis (dropped; clients catch up later)',
      registers: [registry],
    }),
    catchUps: new Counter({
      name: 'socket_catch_ups_total',
      help: 'Reconnect catch-ups answered, per conversation asked',
      registers: [registry],
    }),
    catchUpMessages: new Counter({
      name: 'socket_catch_up_messages_total',
      help: 'Messages returned by reconnect catch-ups',
      registers: [registry],
    }),
  };
}

export type SocketMetrics = ReturnType<typeof socketMetrics>;
