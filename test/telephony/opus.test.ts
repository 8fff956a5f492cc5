// Opus through libopus in WebAssembly: many codecs share one heap, so each must keep to its own
// memory (opusscript's wrapper did not: it addressed buffers at twice their address).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpusDecoder, OpusEncoder, OPUS_FRAME } from '../../src/telephony/bridge/opus.js';

function tone(freq: number, frame: number): Int16Array {
  const pcm = new Int16Array(OPUS_FRAME);
  for (let i = 0; i < OPUS_FRAME; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * freq * (frame * OPUS_FRAME + i)) / 48000));
  return pcm;
}

function zeroCrossings(pcm: Int16Array): number {
  let n = 0;
  for (let i = 1; i < pcm.length; i++) if (pcm[i - 1]! < 0 !== pcm[i]! < 0) n++;
  return n;
}

test('eight encoder/decoder pairs interleaved: each stream keeps its own tone', () => {
  const freqs = [300, 500, 700, 1000, 1300, 1700, 2000, 2500];
  const pairs = freqs.map(() => ({ enc: new OpusEncoder(), dec: new OpusDecoder() }));
  const last: Int16Array[] = [];
  for (let frame = 0; frame < 50; frame++) {
    pairs.forEach((p, i) => (last[i] = p.dec.decode(p.enc.encode(tone(freqs[i]!, frame)))));
  }
  freqs.forEach((f, i) => {
    const expected = (2 * f * OPUS_FRAME) / 48000; // zero crossings in 20 ms
    assert.ok(Math.abs(zeroCrossings(last[i]!) - expected) <= 2, `stream ${i} (${f} Hz): ${zeroCrossings(last[i]!)} crossings, expected ~${expected}`);
  });
  for (const p of pairs) {
    p.enc.close();
    p.dec.close();
  }
});

test('codecs opened and closed in any order, hundreds of times, never touch each other', () => {
  const keep = new OpusEncoder();
  const keepDec = new OpusDecoder();
  for (let round = 0; round < 300; round++) {
    const e = new OpusEncoder();
    const d = new OpusDecoder();
    d.decode(e.encode(tone(440, round)));
    if (round % 2) e.close();
    d.close();
    if (!(round % 2)) e.close();
  }
  const out = keepDec.decode(keep.encode(tone(1000, 0)));
  const out2 = keepDec.decode(keep.encode(tone(1000, 1)));
  assert.ok(Math.abs(zeroCrossings(out2) - 40) <= 2, `the long-lived pair still works (${zeroCrossings(out2)} crossings)`);
  assert.equal(out.length, OPUS_FRAME);
  assert.throws(() => keepDec.decode(Buffer.alloc(0)), /out of range/);
  keep.close();
  keepDec.close();
  assert.throws(() => keep.encode(tone(1000, 0)), /closed/);
});
