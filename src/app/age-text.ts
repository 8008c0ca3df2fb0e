/** A duration for people: `850 ms`, `42 s`, `3 min 12 s`, `2 h 5 min`, `3 d 4 h`. Pure. */
export function ageText(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${sign}${Math.round(abs)} ms`;
  const seconds = Math.floor(abs / 1_000);
  if (seconds < 60) return `${sign}${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${sign}${minutes} min${seconds % 60 === 0 ? '' : ` ${seconds % 60} s`}`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${sign}${hours} h${minutes % 60 === 0 ? '' : ` ${minutes % 60} min`}`;
  const days = Math.floor(hours / 24);
  return `${sign}${days} d${hours % 24 === 0 ? '' : ` ${hours % 24} h`}`;
}

/** An epoch-ms time as ISO 8601 (UTC), or `never` when there is none. Pure. */
export function timeText(at: number | undefined): string {
  return at === undefined ? 'never' : new Date(at).toISOString();
}
