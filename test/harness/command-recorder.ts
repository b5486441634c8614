import { tracingChannel } from 'node:diagnostics_channel';
import type { CommandTraceContext } from 'ioredis';

/**
 * Every command this process writes to Redis, by name: to the server on `port`, or to any server
 * (a cluster's nodes) without one. ioredis traces the write path of each command through
 * node:diagnostics_channel (`ioredis:command`), so this counts what the client really sent,
 * pipelined or not, and other test files sharing the server (other processes) do not disturb it.
 */
export function recordCommands(port?: number) {
  const sent: string[] = [];
  const channel = tracingChannel<CommandTraceContext>('ioredis:command');
  const subscribers = {
    start: (context: CommandTraceContext) => {
      if (port === undefined || context.serverPort === port) sent.push(context.command);
    },
    end: () => {},
    asyncStart: () => {},
    asyncEnd: () => {},
    error: () => {},
  };
  channel.subscribe(subscribers);
  return {
    sent,
    count: (command: string) => sent.filter((name) => name === command).length,
    reset: () => {
      sent.length = 0;
    },
    stop: () => channel.unsubscribe(subscribers),
  };
}
