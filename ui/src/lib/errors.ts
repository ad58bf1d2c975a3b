// How the window treats an error from core.

/** Whether asking again later may help: the network, the service busy or failing. */
export function transient(error: unknown): boolean {
  if (!error || typeof error !== 'object' || !('code' in error)) return false;
  const e = error as { code: unknown; status?: unknown };
  if (e.code === 'network' || e.code === 'service_response') return true;
  return e.code === 'service' && typeof e.status === 'number' && (e.status >= 500 || e.status === 429);
}
