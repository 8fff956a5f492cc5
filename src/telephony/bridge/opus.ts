// Opus at 48 kHz through opusscript (libopus compiled to WebAssembly: no native build). One
// encoder for what the phone says, one decoder per remote audio stream. libopus memory lives in
// the WebAssembly heap: close() every codec you create.
import OpusScript from 'opusscript';

export const OPUS_RATE = 48000;
/** 20 ms at 48 kHz. */
export const OPUS_FRAME = 960;

function toBuffer(pcm: Int16Array): Buffer {
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

function toInt16(buf: Buffer, samples: number): Int16Array {
  const out = new Int16Array(samples);
  const n = Math.min(samples, buf.length >> 1);
  for (let i = 0; i < n; i++) out[i] = buf.readInt16LE(i * 2);
  return out;
}

export class OpusEncoder {
  private codec: OpusScript | null;

  /** Mono voice (Opus signals the channel count in-band; a stereo decoder plays it on both). */
  constructor(readonly channels: 1 | 2 = 1, bitrate = 32000) {
    this.codec = new OpusScript(OPUS_RATE, channels, OpusScript.Application.VOIP);
    this.codec.setBitrate(bitrate);
  }

  /** One 20 ms frame (960 samples per channel, interleaved) → one Opus packet. */
  encode(pcm: Int16Array): Buffer {
    if (!this.codec) throw new Error('encoder is closed');
    return this.codec.encode(toBuffer(pcm), OPUS_FRAME);
  }

  close(): void {
    this.codec?.delete();
    this.codec = null;
  }
}

export class OpusDecoder {
  private codec: OpusScript | null;

  /** Decodes to mono (libopus downmixes a stereo stream). */
  constructor() {
    this.codec = new OpusScript(OPUS_RATE, 1, OpusScript.Application.VOIP);
  }

  /**
   * One packet → 20 ms of mono PCM. Other packet durations are cut or padded to 20 ms (WebRTC
   * senders use 20 ms). Throws on a corrupt packet.
   */
  decode(payload: Buffer): Int16Array {
    if (!this.codec) throw new Error('decoder is closed');
    return toInt16(this.codec.decode(payload), OPUS_FRAME);
  }

  close(): void {
    this.codec?.delete();
    this.codec = null;
  }
}
