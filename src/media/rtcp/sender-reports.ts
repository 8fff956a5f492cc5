// RTCP sender reports for the streams we forward (RFC 3550 §6.4.1), all of one transport's
// streams in one compound packet with one SDES CNAME chunk each (§6.5.1). werift ran a loop
// per sender (a promise timer, packet objects and an SRTCP packet per sender every 0.5–1.5 s);
// one compound per transport costs one timer, one SRTCP protect and one send.

/** One stream's sender information, as of the moment the report is sent. */
export interface SenderInfo {
  ssrc: number;
  /** Wall clock now (ms since the Unix epoch): the report's NTP timestamp. */
  wallMs: number;
  /** The RTP timestamp that corresponds to `wallMs` on the stream's clock. */
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
  cname: string | undefined;
}

const PT_SR = 200;
const PT_SDES = 202;
const SDES_CNAME = 1;
const SR_BYTES = 28;
/** Most SDES chunks in one packet (a 5-bit count); there is one SR per stream, so it caps those too. */
export const MAX_REPORTED_STREAMS = 31;
/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** The 64-bit NTP timestamp of a wall-clock time: [seconds, fraction]. */
export function ntpTime(wallMs: number): [number, number] {
  const seconds = Math.floor(wallMs / 1000);
  const fraction = Math.floor(((wallMs - seconds * 1000) / 1000) * 0x1_0000_0000);
  return [(seconds + NTP_UNIX_OFFSET_S) >>> 0, Math.min(0xffffffff, fraction) >>> 0];
}

/**
 * The compound packet (one SR per stream, then one SDES) as plain RTCP, to be SRTCP-protected;
 * null for no streams. At most MAX_REPORTED_STREAMS are reported.
 */
export function senderReportCompound(streams: SenderInfo[]): Buffer | null {
  if (streams.length === 0) return null;
  const list = streams.slice(0, MAX_REPORTED_STREAMS);
  const named = list.filter((s) => s.cname !== undefined && s.cname.length > 0 && Buffer.byteLength(s.cname) <= 255);
  let sdesBytes = 0;
  for (const s of named) sdesBytes += chunkBytes(s.cname!);
  const out = Buffer.alloc(list.length * SR_BYTES + (named.length > 0 ? 4 + sdesBytes : 0));
  let o = 0;
  for (const s of list) {
    const [seconds, fraction] = ntpTime(s.wallMs);
    out[o] = 0x80; // V=2, no padding, no report blocks
    out[o + 1] = PT_SR;
    out.writeUInt16BE(SR_BYTES / 4 - 1, o + 2);
    out.writeUInt32BE(s.ssrc >>> 0, o + 4);
    out.writeUInt32BE(seconds, o + 8);
    out.writeUInt32BE(fraction, o + 12);
    out.writeUInt32BE(s.rtpTimestamp >>> 0, o + 16);
    out.writeUInt32BE(s.packetCount >>> 0, o + 20);
    out.writeUInt32BE(s.octetCount >>> 0, o + 24);
    o += SR_BYTES;
  }
  if (named.length > 0) {
    out[o] = 0x80 | named.length;
    out[o + 1] = PT_SDES;
    out.writeUInt16BE((4 + sdesBytes) / 4 - 1, o + 2);
    o += 4;
    for (const s of named) {
      const start = o;
      out.writeUInt32BE(s.ssrc >>> 0, o);
      out[o + 4] = SDES_CNAME;
      out[o + 5] = out.write(s.cname!, o + 6, 'utf8');
      // The zero byte that ends the item list, and the padding: Buffer.alloc zeroed them.
      o = start + chunkBytes(s.cname!);
    }
  }
  return out;
}

/** SSRC, CNAME item, at least one zero byte to end the list, padded to 32 bits. */
function chunkBytes(cname: string): number {
  return (4 + 2 + Buffer.byteLength(cname) + 1 + 3) & ~3;
}
