/** Time source injected everywhere time matters, so tests can move it without sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that follows real time plus an adjustable offset (tests jump ahead with advance()). */
export class OffsetClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
