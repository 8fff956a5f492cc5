// 8 kHz ⇄ 48 kHz for the phone bridge: polyphase FIR filters (Kaiser-windowed sinc, 240 taps at
// 48 kHz, cutoff 3.7 kHz, about 80 dB stopband from about 4.3 kHz). The ratio is exactly 6, so a
// 20 ms frame is always 160 ⇄ 960 samples: no fractional phase, nothing accumulates, no drift.
// Each direction keeps its filter history between frames, so consecutive frames join seamlessly.

export const PHONE_RATE = 8000;
export const ROOM_RATE = 48000;
export const FACTOR = ROOM_RATE / PHONE_RATE;

const TAPS_PER_PHASE = 40;
const CUTOFF_HZ = 3700;
const KAISER_BETA = 8;

/** Zeroth-order modified Bessel function of the first kind (series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

/** A linear-phase low-pass FIR at `rate` with unit DC gain. */
export function lowPass(taps: number, cutoffHz: number, rate: number, beta = KAISER_BETA): Float64Array {
  const h = new Float64Array(taps);
  const fc = cutoffHz / rate;
  const mid = (taps - 1) / 2;
  const i0b = besselI0(beta);
  let sum = 0;
  for (let n = 0; n < taps; n++) {
    const t = n - mid;
    const sinc = t === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * t) / (Math.PI * t);
    const r = (2 * n) / (taps - 1) - 1;
    const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0b;
    h[n] = sinc * w;
    sum += h[n]!;
  }
  for (let n = 0; n < taps; n++) h[n]! /= sum;
  return h;
}

function clamp16(v: number): number {
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/** Upsampling by an integer factor: zero-stuffing and the low-pass, done per output phase. */
export class Interpolator {
  /** phases[p][k] = factor · h[p + k·factor]. */
  private readonly phases: Float64Array[];
  /** The last TAPS_PER_PHASE input samples, newest last. */
  private readonly history: Float64Array;

  constructor(
    readonly factor = FACTOR,
    cutoffHz = CUTOFF_HZ,
    highRate = ROOM_RATE,
    private readonly tapsPerPhase = TAPS_PER_PHASE,
  ) {
    const h = lowPass(factor * tapsPerPhase, cutoffHz, highRate);
    this.phases = [];
    for (let p = 0; p < factor; p++) {
      const phase = new Float64Array(tapsPerPhase);
      for (let k = 0; k < tapsPerPhase; k++) phase[k] = factor * h[p + k * factor]!;
      this.phases.push(phase);
    }
    this.history = new Float64Array(tapsPerPhase);
  }

  /** `input.length` low-rate samples in, `input.length · factor` high-rate samples out. */
  process(input: Int16Array, out: Int16Array = new Int16Array(input.length * this.factor)): Int16Array {
    const k = this.tapsPerPhase;
    const hist = this.history;
    // A work buffer: history then this input, so x[i] for i < 0 comes from the previous frame.
    const x = new Float64Array(k + input.length);
    x.set(hist, 0);
    for (let i = 0; i < input.length; i++) x[k + i] = input[i]!;
    for (let n = 0; n < input.length; n++) {
      const newest = k + n;
      for (let p = 0; p < this.factor; p++) {
        const phase = this.phases[p]!;
        let acc = 0;
        for (let j = 0; j < k; j++) acc += phase[j]! * x[newest - j]!;
        out[n * this.factor + p] = clamp16(acc);
      }
    }
    hist.set(x.subarray(input.length, input.length + k));
    return out;
  }

  reset(): void {
    this.history.fill(0);
  }
}

/** Downsampling by an integer factor: the low-pass evaluated only at the kept samples. */
export class Decimator {
  private readonly h: Float64Array;
  /** The last taps-1 input samples, newest last. */
  private readonly history: Float64Array;

  constructor(
    readonly factor = FACTOR,
    cutoffHz = CUTOFF_HZ,
    highRate = ROOM_RATE,
    taps = FACTOR * TAPS_PER_PHASE,
  ) {
    this.h = lowPass(taps, cutoffHz, highRate);
    this.history = new Float64Array(taps - 1);
  }

  /** `input.length` (a multiple of the factor) high-rate samples in, `input.length / factor` out. */
  process(input: Int16Array, out?: Int16Array): Int16Array {
    if (input.length % this.factor !== 0) throw new Error(`input length ${input.length} is not a multiple of ${this.factor}`);
    return this.processFloat(Float64Array.from(input), out);
  }

  /** As process(), from floating-point samples on the 16-bit scale (the mixer's sum, before clipping). */
  processFloat(input: Float64Array | Float32Array, out: Int16Array = new Int16Array(input.length / this.factor)): Int16Array {
    const taps = this.h.length;
    const past = taps - 1;
    const x = new Float64Array(past + input.length);
    x.set(this.history, 0);
    x.set(input, past);
    const count = input.length / this.factor;
    for (let m = 0; m < count; m++) {
      const newest = past + (m + 1) * this.factor - 1;
      let acc = 0;
      for (let j = 0; j < taps; j++) acc += this.h[j]! * x[newest - j]!;
      out[m] = clamp16(acc);
    }
    this.history.set(x.subarray(input.length, input.length + past));
    return out;
  }

  reset(): void {
    this.history.fill(0);
  }
}
