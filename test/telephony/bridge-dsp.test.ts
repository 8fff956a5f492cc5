// The phone bridge's signal processing, pure: G.711 tables, the 8 kHz ⇄ 48 kHz resamplers,
// the mixer and the Opus wrapper.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  alawDecodeSample,
  alawEncodeSample,
  codecForPayloadType,
  g711Decode,
  g711Encode,
  ulawDecodeSample,
  ulawEncodeSample,
} from '../../src/telephony/bridge/g711.js';
import { Decimator, Interpolator } from '../../src/telephony/bridge/resampler.js';
import { LevelMeter, mixFrames, rms, softClip } from '../../src/telephony/bridge/mixer.js';
import { OpusDecoder, OpusEncoder } from '../../src/telephony/bridge/opus.js';
import { db, rmsOf, sine, toneAmplitude, zeroCrossingFrequency } from './fixtures/audio.js';

describe('G.711', () => {
  it('μ-law decodes the reference values', () => {
    assert.equal(ulawDecodeSample(0xff), 0);
    assert.equal(ulawDecodeSample(0x7f), 0);
    assert.equal(ulawDecodeSample(0x80), 32124);
    assert.equal(ulawDecodeSample(0x00), -32124);
    assert.equal(ulawDecodeSample(0xf0), 120);
    assert.equal(ulawDecodeSample(0x70), -120);
    assert.equal(ulawDecodeSample(0xfe), 8);
    assert.equal(ulawDecodeSample(0xef), 132);
  });

  it('μ-law encodes the reference values', () => {
    assert.equal(ulawEncodeSample(0), 0xff);
    assert.equal(ulawEncodeSample(32767), 0x80);
    assert.equal(ulawEncodeSample(-32768), 0x00);
    assert.equal(ulawEncodeSample(120), 0xf0);
    assert.equal(ulawEncodeSample(-120), 0x70);
    assert.equal(ulawEncodeSample(8), 0xfe);
  });

  it('A-law decodes the reference values', () => {
    assert.equal(alawDecodeSample(0xd5), 8);
    assert.equal(alawDecodeSample(0x55), -8);
    assert.equal(alawDecodeSample(0xaa), 32256);
    assert.equal(alawDecodeSample(0x2a), -32256);
    assert.equal(alawDecodeSample(0x80), 5504);
    assert.equal(alawDecodeSample(0x00), -5504);
  });

  it('A-law encodes the reference values', () => {
    assert.equal(alawEncodeSample(0), 0xd5);
    assert.equal(alawEncodeSample(-1), 0x55);
    assert.equal(alawEncodeSample(32767), 0xaa);
    assert.equal(alawEncodeSample(-32768), 0x2a);
    assert.equal(alawEncodeSample(5504), 0x80);
  });

  it('every code word survives decode → encode (μ-law negative zero becomes positive zero)', () => {
    for (let b = 0; b < 256; b++) {
      assert.equal(alawEncodeSample(alawDecodeSample(b)), b, `A-law 0x${b.toString(16)}`);
      assert.equal(ulawEncodeSample(ulawDecodeSample(b)), b === 0x7f ? 0xff : b, `μ-law 0x${b.toString(16)}`);
    }
  });

  it('encodes monotonically and keeps a tone at over 35 dB SNR', () => {
    for (const codec of ['PCMU', 'PCMA'] as const) {
      let prev = -Infinity;
      for (let s = -32768; s <= 32767; s += 7) {
        const v = g711Decode(codec, g711Encode(codec, Int16Array.of(s)))[0]!;
        assert.ok(v >= prev, `${codec} monotonic at ${s}`);
        prev = v;
      }
      const tone = sine(8000, 1000, 8000, 10000);
      const back = g711Decode(codec, g711Encode(codec, tone));
      const noise = rmsOf(back.map((v, i) => v - tone[i]!));
      assert.ok(db(rmsOf(tone) / noise) > 35, `${codec} SNR ${db(rmsOf(tone) / noise).toFixed(1)} dB`);
    }
  });

  it('maps the static payload types', () => {
    assert.equal(codecForPayloadType(0), 'PCMU');
    assert.equal(codecForPayloadType(8), 'PCMA');
    assert.equal(codecForPayloadType(101), null);
  });
});

/** Runs a signal through a resampler in 20 ms frames. */
function run(r: { process(x: Int16Array): Int16Array }, signal: Int16Array, frame: number): Int16Array {
  const outs: Int16Array[] = [];
  for (let i = 0; i + frame <= signal.length; i += frame) outs.push(r.process(signal.subarray(i, i + frame)));
  const out = new Int16Array(outs.reduce((n, o) => n + o.length, 0));
  let at = 0;
  for (const o of outs) {
    out.set(o, at);
    at += o.length;
  }
  return out;
}

describe('resampler', () => {
  it('8 → 48 kHz: a 1 kHz tone keeps its frequency and level, images are gone', () => {
    const input = sine(8000, 1000, 8000, 10000); // 1 s
    const out = run(new Interpolator(), input, 160);
    assert.equal(out.length, 48000);
    const steady = out.subarray(4800); // past the filter's start
    assert.ok(Math.abs(zeroCrossingFrequency(steady, 48000) - 1000) < 1, `frequency ${zeroCrossingFrequency(steady, 48000)}`);
    const amp = toneAmplitude(steady, 1000, 48000);
    assert.ok(Math.abs(db(amp / 10000)) < 1, `level ${db(amp / 10000).toFixed(2)} dB`);
    // Zero-stuffing leaves images at 8k±1k, 16k±1k...: the low-pass must remove them.
    for (const image of [7000, 9000, 15000, 17000]) {
      const a = toneAmplitude(steady, image, 48000);
      assert.ok(db(a / 10000) < -60, `image at ${image} Hz: ${db(a / 10000).toFixed(1)} dB`);
    }
  });

  it('48 → 8 kHz: a 1 kHz tone keeps its frequency and level; 6 kHz does not alias to 2 kHz', () => {
    const out = run(new Decimator(), sine(48000, 1000, 48000, 10000), 960);
    assert.equal(out.length, 8000);
    const steady = out.subarray(800);
    assert.ok(Math.abs(zeroCrossingFrequency(steady, 8000) - 1000) < 1);
    assert.ok(Math.abs(db(toneAmplitude(steady, 1000, 8000) / 10000)) < 1);
    const aliased = run(new Decimator(), sine(48000, 6000, 48000, 10000), 960).subarray(800);
    assert.ok(db(rmsOf(aliased) / (10000 / Math.SQRT2)) < -60, `6 kHz leaks ${db(rmsOf(aliased) / (10000 / Math.SQRT2)).toFixed(1)} dB`);
    // Voice band edges pass within 1 dB.
    for (const f of [300, 3000, 3400]) {
      const o = run(new Decimator(), sine(48000, f, 48000, 10000), 960).subarray(800);
      assert.ok(Math.abs(db(toneAmplitude(o, f, 8000) / 10000)) < 1, `${f} Hz: ${db(toneAmplitude(o, f, 8000) / 10000).toFixed(2)} dB`);
    }
  });

  it('8 → 48 → 8 kHz round trip: 440 Hz within 1 dB, delay of a few ms', () => {
    const input = sine(8000, 440, 8000, 12000);
    const back = run(new Decimator(), run(new Interpolator(), input, 160), 960);
    const steady = back.subarray(800);
    assert.ok(Math.abs(db(toneAmplitude(steady, 440, 8000) / 12000)) < 1);
    assert.ok(Math.abs(zeroCrossingFrequency(steady, 8000) - 440) < 1);
  });

  it('10 minutes of frames: exact sample counts, the tone still in phase at the end (no drift)', () => {
    const up = new Interpolator();
    const down = new Decimator();
    const frames = 10 * 60 * 50;
    let upSamples = 0;
    let downSamples = 0;
    let lastUp: Int16Array | null = null;
    let lastDown: Int16Array | null = null;
    const f = 500; // 500 Hz: a whole number of cycles per 20 ms frame at both rates
    const frame8 = sine(160, f, 8000, 10000);
    const frame48 = sine(960, f, 48000, 10000);
    for (let i = 0; i < frames; i++) {
      lastUp = up.process(frame8);
      lastDown = down.process(frame48);
      upSamples += lastUp.length;
      downSamples += lastDown.length;
    }
    assert.equal(upSamples, frames * 960);
    assert.equal(downSamples, frames * 160);
    // The filters delay by (240 - 1) / 2 samples at 48 kHz; the output is the input, delayed.
    const delay = 119.5;
    const expectUp = Array.from({ length: 960 }, (_, m) => 10000 * Math.sin((2 * Math.PI * f * (m - delay)) / 48000));
    const errUp = rmsOf(lastUp!.map((v, i) => v - expectUp[i]!));
    assert.ok(errUp < 100, `upsampled tone off by ${errUp.toFixed(1)} RMS`);
    const expectDown = Array.from({ length: 160 }, (_, m) => 10000 * Math.sin((2 * Math.PI * f * (6 * m + 5 - delay)) / 48000));
    const errDown = rmsOf(lastDown!.map((v, i) => v - expectDown[i]!));
    assert.ok(errDown < 100, `downsampled tone off by ${errDown.toFixed(1)} RMS`);
  });

  it('rejects a frame that is not a whole number of output samples', () => {
    assert.throws(() => new Decimator().process(new Int16Array(100)), /multiple of 6/);
  });
});

describe('mixer', () => {
  it('no one talking is silence; one talker passes unchanged', () => {
    assert.deepEqual(mixFrames([], 960), new Int16Array(960));
    const a = sine(960, 440, 48000, 20000);
    assert.deepEqual(mixFrames([a], 960), a);
  });

  it('quiet talkers are summed exactly', () => {
    const a = sine(960, 440, 48000, 8000);
    const b = sine(960, 1000, 48000, 8000);
    const m = mixFrames([a, b], 960);
    for (let i = 0; i < 960; i++) assert.equal(m[i], a[i]! + b[i]!);
  });

  it('loud talkers are bent under full scale, never wrapped or flattened', () => {
    const a = sine(960, 440, 48000, 30000);
    const b = sine(960, 440, 48000, 30000, 0);
    const c = sine(960, 440, 48000, 30000, 0);
    const m = mixFrames([a, b, c], 960);
    for (let i = 0; i < 960; i++) {
      assert.ok(m[i]! <= 32767 && m[i]! >= -32768);
      assert.equal(Math.sign(m[i]!), Math.sign(a[i]!), 'no wrap-around');
    }
    // Monotonic: a louder sum is never quieter after clipping.
    let prev = -Infinity;
    for (let v = 0; v < 200000; v += 37) {
      const y = softClip(v);
      assert.ok(y >= prev && y <= 32767);
      prev = y;
    }
    assert.equal(softClip(-1e9), -32767);
    assert.equal(softClip(1000), 1000);
  });

  it('level meter: RMS of a full-scale sine is -3 dBFS', () => {
    const meter = new LevelMeter(5);
    const a = sine(960, 1000, 48000, 32767);
    for (let i = 0; i < 100; i++) meter.add(a);
    assert.ok(Math.abs(meter.dbfs + 3.01) < 0.1, `${meter.dbfs}`);
    assert.equal(rms(new Int16Array(10)), 0);
  });
});

describe('Opus', () => {
  it('a 1 kHz tone survives encode → decode at 48 kHz, 20 ms frames', () => {
    const enc = new OpusEncoder();
    const dec = new OpusDecoder();
    try {
      const outs: Int16Array[] = [];
      for (let f = 0; f < 50; f++) outs.push(dec.decode(enc.encode(sine(960, 1000, 48000, 10000, f * 960))));
      const tail = new Int16Array(960 * 25);
      for (let i = 0; i < 25; i++) tail.set(outs[25 + i]!, i * 960);
      assert.ok(Math.abs(zeroCrossingFrequency(tail, 48000) - 1000) < 2);
      assert.ok(Math.abs(db(toneAmplitude(tail, 1000, 48000) / 10000)) < 1);
      assert.throws(() => dec.decode(Buffer.from([0xff, 0xff, 0xff])));
    } finally {
      enc.close();
      dec.close();
    }
  });
});
