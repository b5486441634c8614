-- Up Migration

-- The trace of the write that produced an outbox row: its W3C trace-context fields
-- (traceparent, tracestate) as a JSON object, NULL when the write was not traced. The worker's
-- relay continues that trace when it hands the row over, and BullMQ carries it on into the
-- jobs it causes, so one trace shows a send from the HTTP request to its delivery job. A column
-- rather than a field of the payload: the payload is what integrations receive, and a trace id
-- is not theirs to see.
ALTER TABLE outbox ADD COLUMN trace_context jsonb;

-- Down Migration
ALTER TABLE outbox DROP COLUMN trace_context;
