// The bridge's jitter buffer and concealment, on simulated time (no timers).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Concealer, JitterBuffer, type Playout } from '../../src/telephony/bridge/jitter-buffer.js';

const SSRC = 0x1234;

function packet(seq: number, ssrc = SSRC) {
  return { sequence: seq & 0xffff, timestamp: (seq * 960) >>> 0, ssrc, payload: Buffer.from([seq & 0xff, (seq >> 8) & 0xff]) };
}

/** What a playout was: the sequence number played, or the kind. */
function what(p: Playout): number | string {
  return p.kind === 'frame' ? p.sequence : p.kind;
}

describe('jitter buffer', () => {
  it('in-order packets: primes for the playout delay, then plays one per pull', () => {
    const jb = new JitterBuffer({ delayMs: 60 });
    const out: Array<number | string> = [];
    for (let t = 0; t < 20; t++) {
      const now = t * 20;
      if (t < 10) jb.push(packet(100 + t), now + 1);
      out.push(what(jb.pop(now + 10)));
    }
    // At the pull at 50 ms, 60 ms of audio (3 packets) is buffered: playout starts.
    assert.deepEqual(out.slice(0, 4), ['idle', 'idle', 100, 101]);
    assert.deepEqual(out.slice(2, 12), [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    assert.equal(out[12], 'underrun');
    assert.equal(jb.stats.played, 10);
    assert.equal(jb.stats.lost, 0);
  });

  it('reorders packets within the delay', () => {
    const jb = new JitterBuffer({ delayMs: 60 });
    const order = [0, 2, 1, 3, 5, 4, 6, 7, 9, 8, 10, 11];
    const out: Array<number | string> = [];
    for (let t = 0; t < 16; t++) {
      if (t < order.length) jb.push(packet(order[t]!), t * 20);
      out.push(what(jb.pop(t * 20 + 10)));
    }
    assert.deepEqual(out.filter((x) => typeof x === 'number'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.equal(jb.stats.lost, 0);
  });

  it('a missing packet is a loss at its slot; the stream goes on', () => {
    const jb = new JitterBuffer({ delayMs: 60 });
    const out: Array<number | string> = [];
    for (let t = 0; t < 14; t++) {
      if (t < 10 && t !== 4) jb.push(packet(t), t * 20);
      out.push(what(jb.pop(t * 20 + 10)));
    }
    assert.deepEqual(out.slice(2, 12), [0, 1, 2, 3, 'lost', 5, 6, 7, 8, 9]);
    assert.equal(jb.stats.lost, 1);
  });

  it('a packet arriving after its slot is late and not played', () => {
    const jb = new JitterBuffer({ delayMs: 40 });
    const out: Array<number | string> = [];
    for (let t = 0; t < 12; t++) {
      if (t < 8 && t !== 3) jb.push(packet(t), t * 20);
      if (t === 9) jb.push(packet(3), t * 20);
      out.push(what(jb.pop(t * 20 + 10)));
    }
    assert.ok(!out.includes(3) && out.includes('lost'));
    assert.equal(jb.stats.late, 1);
    jb.push(packet(6), 500);
    assert.equal(jb.stats.late, 2, 'a duplicate of a played packet is late too');
  });

  it('duplicates are dropped', () => {
    const jb = new JitterBuffer();
    jb.push(packet(1), 0);
    jb.push(packet(1), 1);
    assert.equal(jb.stats.duplicates, 1);
    assert.equal(jb.stats.depth, 1);
  });

  it('plays across the 16-bit sequence wrap', () => {
    const jb = new JitterBuffer({ delayMs: 60 });
    const seqs = [65533, 65534, 65535, 0, 1, 2];
    const out: Array<number | string> = [];
    for (let t = 0; t < 10; t++) {
      if (t < seqs.length) jb.push(packet(seqs[t]!), t * 20);
      out.push(what(jb.pop(t * 20 + 10)));
    }
    assert.deepEqual(out.filter((x) => typeof x === 'number'), seqs);
  });

  it('a new SSRC resets: the old stream is dropped, the new one primes and plays', () => {
    const jb = new JitterBuffer({ delayMs: 60 });
    for (let t = 0; t < 5; t++) {
      jb.push(packet(t), t * 20);
      jb.pop(t * 20 + 10);
    }
    jb.push(packet(9), 100); // still the old stream, buffered
    jb.push(packet(5000, 0x9999), 101);
    assert.equal(jb.stats.resets, 1);
    assert.equal(jb.stats.depth, 1);
    assert.equal(jb.playing, false);
    const out: Array<number | string> = [];
    for (let t = 6; t < 12; t++) {
      jb.push(packet(5000 + t - 5, 0x9999), t * 20);
      out.push(what(jb.pop(t * 20 + 10)));
    }
    assert.deepEqual(out.filter((x) => typeof x === 'number').slice(0, 3), [5000, 5001, 5002]);
  });

  it('a sequence jump (sender restarted with the same SSRC) resets too', () => {
    const jb = new JitterBuffer({ delayMs: 20 });
    jb.push(packet(10), 0);
    jb.push(packet(30000), 1);
    assert.equal(jb.stats.resets, 1);
    assert.equal(what(jb.pop(30)), 30000);
  });

  it('after a stall, a burst is cut back to the playout delay', () => {
    const jb = new JitterBuffer({ delayMs: 60, maxDelayMs: 140 });
    let seq = 0;
    for (let t = 0; t < 10; t++) {
      jb.push(packet(seq++), t * 20);
      jb.pop(t * 20 + 10);
    }
    // 300 ms without packets, then all of them at once.
    for (let t = 10; t < 25; t++) jb.pop(t * 20 + 10);
    for (let i = 0; i < 15; i++) jb.push(packet(seq++), 500);
    const next = jb.pop(510);
    assert.equal(next.kind, 'frame');
    assert.ok(jb.stats.dropped > 0, 'old packets dropped');
    assert.ok(jb.stats.depth <= 3, `depth ${jb.stats.depth} back at the delay`);
  });

  it('goes idle after a pause and primes again when packets come back', () => {
    const jb = new JitterBuffer({ delayMs: 60, idleAfterMs: 100 });
    for (let t = 0; t < 6; t++) {
      jb.push(packet(t), t * 20);
      jb.pop(t * 20 + 10);
    }
    const kinds: string[] = [];
    for (let t = 6; t < 20; t++) kinds.push(jb.pop(t * 20 + 10).kind);
    assert.ok(kinds.includes('underrun'));
    assert.equal(kinds.at(-1), 'idle');
    assert.equal(jb.playing, false);
    // Packets resume (sequence continues, as after DTX).
    const out: Array<number | string> = [];
    for (let t = 20; t < 28; t++) {
      jb.push(packet(t - 14), t * 20);
      out.push(what(jb.pop(t * 20 + 10)));
    }
    assert.deepEqual(out.slice(0, 4), ['idle', 'idle', 6, 7]);
  });

  for (const [label, period] of [['fast', 20 * 0.995], ['slow', 20 * 1.005]] as const) {
    it(`a sender clock 0.5% ${label} for 10 minutes: bounded delay, every pull answered, no idle`, () => {
      const jb = new JitterBuffer({ delayMs: 60 });
      const pulls = 10 * 60 * 50;
      let seq = 0;
      let nextSend = 0;
      const kinds = { frame: 0, lost: 0, underrun: 0, idle: 0 };
      let maxDepth = 0;
      for (let i = 0; i < pulls; i++) {
        const now = i * 20;
        // Arrivals up to now, with up to 15 ms of pseudo-random network jitter.
        while (nextSend <= now) {
          const jitter = ((seq * 7919) % 16) as number;
          jb.push(packet(seq++), nextSend + jitter);
          nextSend += period;
        }
        const k = jb.pop(now + 16).kind;
        kinds[k]++;
        maxDepth = Math.max(maxDepth, jb.stats.depth);
      }
      assert.ok(kinds.idle <= 4, `idle only while priming (${kinds.idle})`);
      assert.ok(maxDepth <= 8, `depth stayed bounded (max ${maxDepth})`);
      // Fast: the ~150 extra packets were dropped; slow: ~150 missing frames were concealed.
      const detail = JSON.stringify({ ...jb.stats, ...kinds });
      if (label === 'fast') assert.ok(jb.stats.dropped >= 140 && jb.stats.dropped <= 160 && kinds.underrun === 0, detail);
      else assert.ok(kinds.underrun + kinds.lost >= 140 && kinds.underrun + kinds.lost <= 160 && jb.stats.dropped === 0, detail);
      assert.equal(kinds.frame + kinds.lost + kinds.underrun + kinds.idle, pulls);
    });
  }
});

describe('concealment', () => {
  it('repeats the last frame, fading, then silence; fades back in', () => {
    const c = new Concealer(4, 0.5, 3);
    const good = Int16Array.of(1000, 1000, 1000, 1000);
    c.good(good.slice());
    const a = c.conceal();
    assert.equal(a[0], 1000);
    assert.ok(a[3]! < 1000 && a[3]! > 500, `ramp towards half: ${a[3]}`);
    const b = c.conceal();
    assert.ok(b[0]! <= 500 && b[3]! > 0);
    const last = c.conceal();
    assert.ok(last[3]! < 200, 'fades to nothing at the last concealed frame');
    assert.deepEqual(c.conceal(), new Int16Array(4));
    assert.equal(c.concealed, 4);
    const back = c.good(good.slice());
    assert.equal(back[0], 0, 'fades in from silence');
    assert.ok(back[3]! > 700);
    assert.deepEqual(c.good(good.slice()), good, 'then passes through');
  });

  it('before any good frame, concealment is silence', () => {
    assert.deepEqual(new Concealer(3).conceal(), new Int16Array(3));
  });
});
