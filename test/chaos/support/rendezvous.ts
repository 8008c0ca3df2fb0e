/**
 * A meeting point for `parties` concurrent scenarios that share one fault (one Keycloak restart
 * for both modes): `arrive()` resolves once all have arrived.
 */
export function rendezvous(parties: number): () => Promise<void> {
  let arrived = 0;
  let release: () => void = () => undefined;
  const all = new Promise<void>((resolve) => {
    release = resolve;
  });
  return () => {
    arrived += 1;
    if (arrived >= parties) release();
    return all;
  };
}

/** Runs `action` once, however many callers ask; each gets its result. */
export function once<T>(action: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= action());
}
