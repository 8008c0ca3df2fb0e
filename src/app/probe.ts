import { describeError } from '../errors.js';

/** What a command found out, or why it could not. */
export type Probe<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** Runs `read`; a failure becomes the probe's error, worded as the relay words errors. */
export async function probe<T>(read: () => Promise<T> | T): Promise<Probe<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (error) {
    return { ok: false, error: describeError(error) };
  }
}
