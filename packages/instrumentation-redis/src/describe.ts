/** A short description of an error for a log line (never a key or a value: Redis errors name neither). */
export function describe(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message;
  return (typeof m === 'string' ? m : String(err)).replace(/\s+/g, ' ').slice(0, 200);
}
