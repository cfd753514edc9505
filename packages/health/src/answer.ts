// A framework-neutral HTTP answer, written by each adapter in its own way.
import type { ServerResponse } from 'node:http';

export interface Answer {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

/** A JSON answer that no cache keeps. */
export function json(status: number, value: unknown, headers: Record<string, string | string[]> = {}): Answer {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(value),
  };
}

/** Writes an answer on a node:http response (also Express's). A HEAD request gets the headers only. */
export function writeAnswer(res: ServerResponse, answer: Answer, head: boolean): void {
  if (res.headersSent || res.writableEnded || res.destroyed) return;
  res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) });
  res.end(head ? undefined : answer.body);
}
