/**
 * Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3) into milliseconds from `nowMs`.
 *
 * It comes in two forms: delay-seconds (`"120"`) or an HTTP-date
 * (`"Wed, 21 Oct 2015 07:28:00 GMT"`). A date in the past means "now" (0). Anything else is
 * ignored (`undefined`): a garbled header must not stall retries or make them hammer.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  nowMs: number,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;

  if (/^\d+$/.test(trimmed)) {
    const seconds = Number(trimmed);
    return Number.isSafeInteger(seconds) ? seconds * 1000 : undefined;
  }

  // Date.parse accepts far more than HTTP-dates (e.g. "1"), so ask for a weekday-led form
  // or at least a letter-bearing date before trusting it.
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
