// Plain RTP packets for the SRTP tests.
import type { SrtpSendContext } from '../../src/media/srtp/srtp.js';

/** A 12-byte RTP header (version 2, payload type 96, no extensions). */
export function rtpHeader(seq: number, timestamp: number, ssrc: number): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = 96;
  header.writeUInt16BE(seq, 2);
  header.writeUInt32BE(timestamp >>> 0, 4);
  header.writeUInt32BE(ssrc >>> 0, 8);
  return header;
}

/** Writes a plaintext packet into the context's buffer and protects it; returns a copy (protect works in place). */
export function protectPacket(ctx: SrtpSendContext, packet: Buffer, headerLength: number, roc: number): Buffer {
  packet.copy(ctx.packetBuffer(), ctx.packetOffset);
  return Buffer.from(ctx.protect(headerLength, packet.length - headerLength, packet.readUInt32BE(8), packet.readUInt16BE(2), roc));
}
