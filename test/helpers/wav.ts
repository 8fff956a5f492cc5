// 16-bit mono PCM WAV files for Chromium's fake microphone (--use-file-for-fake-audio-capture).
import fs from 'node:fs';

export function writeWav(file: string, pcm: Int16Array, rate = 48000): void {
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28); // bytes per second
  header.writeUInt16LE(2, 32); // block align
  header.writeUInt16LE(16, 34); // bits per sample
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}

/** A voice-loud 220 Hz tone (the speaker) or digital silence, for dominant-speaker tests. */
export function writeVoiceWav(file: string, seconds: number, tone: boolean, rate = 48000): void {
  const pcm = new Int16Array(rate * seconds);
  if (tone) for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(12000 * Math.sin((2 * Math.PI * 220 * i) / rate));
  writeWav(file, pcm, rate);
}
