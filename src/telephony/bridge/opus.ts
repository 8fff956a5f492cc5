// Opus at 48 kHz through opusscript (libopus compiled to WebAssembly: no native build). One
// encoder for what the phone says, one decoder per remote audio stream. libopus memory lives in
// the WebAssembly heap: close() every codec you create.
import { createRequire } from 'node:module';

// opusscript's JavaScript wrapper addresses its PCM buffers at twice the address it allocated
// (a 16-bit view indexed with a byte address), so every codec reads and writes memory owned by
// others in the shared WebAssembly heap: silent corruption, and "memory access out of bounds"
// crashes with several calls. We drive its native module (libopus + a small handler, where the
// PCM side takes one byte per 16-bit cell) ourselves, with correct addresses. Views of the heap
// are taken at each call: they are replaced when the heap grows.
interface NativeHandler {
  _encode(pcmCells: number, pcmBytes: number, opusOut: number, frameSize: number): number;
  _decode(opusIn: number, opusBytes: number, pcmCells: number): number;
  _encoder_ctl(ctl: number, arg: number): number;
}
interface NativeOpus {
  HEAPU8: Uint8Array;
  HEAPU16: Uint16Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  OpusScriptHandler: { new (rate: number, channels: number, application: number): NativeHandler; destroy_handler(h: NativeHandler): void };
}

let nativeModule: NativeOpus | null = null;
function native(): NativeOpus {
  nativeModule ??= (createRequire(import.meta.url)('opusscript/build/opusscript_native_wasm.js') as () => NativeOpus)();
  return nativeModule;
}

const APPLICATION_VOIP = 2048;
const SET_BITRATE = 4002;
/** The longest Opus frame (60 ms at 48 kHz, stereo) in PCM bytes. */
const MAX_PCM_BYTES = 2880 * 2 * 2;
const MAX_PACKET = 1276 * 3;

/** One libopus encoder or decoder with its own buffers in the WebAssembly heap. */
class NativeCodec {
  private handler: NativeHandler | null;
  readonly pcm: number;
  readonly opus: number;

  constructor(readonly channels: number) {
    const m = native();
    this.handler = new m.OpusScriptHandler(OPUS_RATE, channels, APPLICATION_VOIP);
    this.pcm = m._malloc(MAX_PCM_BYTES * 2); // one byte per 16-bit cell
    this.opus = m._malloc(MAX_PACKET);
  }

  get live(): NativeHandler {
    if (!this.handler) throw new Error('codec is closed');
    return this.handler;
  }

  close(): void {
    if (!this.handler) return;
    const m = native();
    m.OpusScriptHandler.destroy_handler(this.handler);
    m._free(this.pcm);
    m._free(this.opus);
    this.handler = null;
  }
}

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
  private readonly codec: NativeCodec;

  /** Mono voice (Opus signals the channel count in-band; a stereo decoder plays it on both). */
  constructor(readonly channels: 1 | 2 = 1, bitrate = 32000) {
    this.codec = new NativeCodec(channels);
    if (this.codec.live._encoder_ctl(SET_BITRATE, bitrate) < 0) throw new Error(`Opus refused bitrate ${bitrate}`);
  }

  /** One 20 ms frame (960 samples per channel, interleaved) → one Opus packet. */
  encode(pcm: Int16Array): Buffer {
    const handler = this.codec.live;
    const bytes = toBuffer(pcm);
    if (bytes.length > MAX_PCM_BYTES) throw new Error('PCM frame too long');
    const m = native();
    m.HEAPU16.set(bytes, this.codec.pcm >> 1);
    const len = handler._encode(this.codec.pcm, bytes.length, this.codec.opus, OPUS_FRAME);
    if (len < 0) throw new Error(`Opus encode error ${len}`);
    return Buffer.from(native().HEAPU8.subarray(this.codec.opus, this.codec.opus + len));
  }

  close(): void {
    this.codec.close();
  }
}

export class OpusDecoder {
  private readonly codec = new NativeCodec(1);


  /**
   * One packet → 20 ms of mono PCM. Other packet durations are cut or padded to 20 ms (WebRTC
   * senders use 20 ms). Throws on a corrupt packet.
   */
  decode(payload: Buffer): Int16Array {
    const handler = this.codec.live;
    if (payload.length === 0 || payload.length > MAX_PACKET) throw new Error('Opus packet size out of range');
    const m = native();
    m.HEAPU8.set(payload, this.codec.opus);
    const samples = handler._decode(this.codec.opus, payload.length, this.codec.pcm);
    if (samples < 0) throw new Error(`Opus decode error ${samples}`);
    const cells = native().HEAPU16.subarray(this.codec.pcm >> 1, (this.codec.pcm >> 1) + samples * 2);
    return toInt16(Buffer.from(Uint8Array.from(cells)), OPUS_FRAME);
  }

  close(): void {
    this.codec.close();
  }
}
