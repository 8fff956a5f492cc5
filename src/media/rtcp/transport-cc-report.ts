// Reading transport-cc feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1) from
// our subscribers. Every forwarded packet comes back in one of these, so werift's parser was a
// large share of the server's garbage: it splits every chunk into a string of bits and makes an
// object per packet status and per delta. Here werift only reads the two SSRCs (it routes the
// message by the media SSRC) and keeps the rest as bytes; PeerTransport reads those bytes once,
// into reusable arrays, for the downlink estimator.
import { TransportWideCC } from 'werift';

const STATUS_NOT_RECEIVED = 0;
const STATUS_SMALL_DELTA = 1;
const STATUS_LARGE_DELTA = 2;
/** Bytes before the chunks: sender SSRC, media SSRC, base sequence number, status count, reference time, feedback count. */
const FIXED_BYTES = 16;
const DELTA_UNIT_MS = 0.25;

/** The packets one feedback message reports, in order: no object per packet. */
export class TwccReport {
  length = 0;
  /** Transport-wide sequence numbers. */
  seq = new Uint16Array(1024);
  /** Arrival on the receiver's clock (ms); NaN when reported not received. */
  arrivalMs = new Float64Array(1024);
  private status = new Uint8Array(1024);

  /**
   * Reads the feedback's FCI (from the sender SSRC on). Packets whose status says "received"
   * but whose delta is missing (a cut-short message) are left out, as are status 3 packets.
   * Returns false for a message too short to hold its fixed fields.
   */
  read(fci: Buffer): boolean {
    this.length = 0;
    if (fci.length < FIXED_BYTES) return false;
    const base = fci.readUInt16BE(8);
    const count = fci.readUInt16BE(10);
    if (count > this.status.length) this.grow(count);
    // 24 bits of reference time in units of 64 ms (read unsigned, as werift did: only differences matter).
    let arrival = fci.readUIntBE(12, 3) * 64;
    // Chunks: every packet's status.
    const status = this.status;
    let n = 0;
    let at = FIXED_BYTES;
    while (n < count && at + 2 <= fci.length) {
      const chunk = fci.readUInt16BE(at);
      at += 2;
      if ((chunk & 0x8000) === 0) {
        const symbol = (chunk >> 13) & 0x3;
        const run = Math.min(chunk & 0x1fff, count - n);
        status.fill(symbol, n, n + run);
        n += run;
      } else if ((chunk & 0x4000) === 0) {
        for (let i = 13; i >= 0 && n < count; i--) status[n++] = (chunk >> i) & 0x1;
      } else {
        for (let i = 12; i >= 0 && n < count; i -= 2) status[n++] = (chunk >> i) & 0x3;
      }
    }
    // Deltas, in the same order, for the packets received.
    let out = 0;
    for (let i = 0; i < n; i++) {
      const s = status[i]!;
      if (s === STATUS_SMALL_DELTA || s === STATUS_LARGE_DELTA) {
        const size = s === STATUS_SMALL_DELTA ? 1 : 2;
        if (at + size > fci.length) break;
        arrival += (size === 1 ? fci[at]! : fci.readInt16BE(at)) * DELTA_UNIT_MS;
        at += size;
      } else if (s !== STATUS_NOT_RECEIVED) {
        continue; // status 3: no delta, nothing to report
      }
      this.seq[out] = (base + i) & 0xffff;
      this.arrivalMs[out++] = s === STATUS_NOT_RECEIVED ? NaN : arrival;
    }
    this.length = out;
    return true;
  }

  private grow(count: number): void {
    this.status = new Uint8Array(count);
    this.seq = new Uint16Array(count);
    this.arrivalMs = new Float64Array(count);
  }
}

/** What werift's RTCP parser now returns for a transport-cc message. */
export interface RawTransportCc {
  count: number;
  senderSsrc: number;
  mediaSourceSsrc: number;
  /** The message from the sender SSRC on, for TwccReport.read. */
  fci: Buffer;
  /** Empty: werift's own send-side estimator (which we do not feed) finds nothing to do. */
  packetResults: never[];
}

let installed = false;

/**
 * Makes werift keep transport-cc messages as bytes (process-wide: every werift peer in this
 * process reads them through TwccReport; werift's own consumer, its send-side estimator, is
 * not used by Televisit).
 */
export function keepTransportCcRaw(): void {
  if (installed) return;
  installed = true;
  const cls = TransportWideCC as unknown as { count: number; deSerialize: (data: Buffer, header: unknown) => RawTransportCc };
  cls.deSerialize = (data: Buffer, header: unknown) => {
    if (data.length < 8) throw new RangeError('transport-cc feedback too short');
    return { count: cls.count, header, senderSsrc: data.readUInt32BE(0), mediaSourceSsrc: data.readUInt32BE(4), fci: data, packetResults: [] } as RawTransportCc;
  };
}
