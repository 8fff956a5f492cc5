// Mixing for the phone bridge: the decoded 20 ms frames of every other participant are summed;
// a sum that would clip is bent smoothly under full scale instead (a memoryless soft knee above
// -2 dBFS), so one loud speaker or several at once never wrap or square off.

const FULL_SCALE = 32767;
/** Below this the mix is the exact sum. */
const KNEE = 0.8 * FULL_SCALE;

/** Soft-limits one summed sample into the 16-bit range. */
export function softClip(v: number): number {
  const a = Math.abs(v);
  if (a <= KNEE) return Math.round(v);
  const room = FULL_SCALE - KNEE;
  const bent = KNEE + room * Math.tanh((a - KNEE) / room);
  return Math.round(v < 0 ? -bent : bent);
}

/**
 * Sums equal-length frames sample by sample with clipping protection. No frames gives silence
 * of `length` samples.
 */
export function mixFrames(frames: readonly Int16Array[], length: number, out: Int16Array = new Int16Array(length)): Int16Array {
  if (frames.length === 0) {
    out.fill(0);
    return out;
  }
  if (frames.length === 1) {
    out.set(frames[0]!.subarray(0, length));
    return out;
  }
  for (let i = 0; i < length; i++) {
    let sum = 0;
    for (const f of frames) sum += f[i] ?? 0;
    out[i] = softClip(sum);
  }
  return out;
}

/** RMS of a frame relative to full scale (0..1). */
export function rms(frame: Int16Array): number {
  if (frame.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < frame.length; i++) sum += frame[i]! * frame[i]!;
  return Math.sqrt(sum / frame.length) / FULL_SCALE;
}

/** dBFS of an RMS level (0..1); -Infinity for silence is reported as -127. */
export function dbfs(level: number): number {
  return level <= 0 ? -127 : Math.max(-127, 20 * Math.log10(level));
}

/** A smoothed level meter (RMS, exponential over about `windowFrames` frames). */
export class LevelMeter {
  private power = 0;
  constructor(private readonly windowFrames = 25) {}

  add(frame: Int16Array): void {
    const r = rms(frame);
    this.power += (r * r - this.power) / this.windowFrames;
  }

  /** RMS level (0..1). */
  get level(): number {
    return Math.sqrt(Math.max(0, this.power));
  }

  get dbfs(): number {
    return dbfs(this.level);
  }
}
