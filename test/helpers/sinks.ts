import type { RowSink } from '../../src/lib/logs/ingestion';

/** Keeps what a tick ships, per stream: the tick's output as the Logs Ingestion API would receive it. */
export function memorySink(): RowSink & { rows: Record<string, Array<Record<string, unknown>>> } {
  const rows: Record<string, Array<Record<string, unknown>>> = {};
  return {
    rows,
    ship: async (stream, batch) => {
      (rows[stream] ??= []).push(...(batch as Array<Record<string, unknown>>));
      return { stream, sent: batch.length, failed: 0, failures: [] };
    },
  };
}
