// A synthetic camera for the SFU benchmark: a Y4M file Chromium plays as its fake camera
// (--use-file-for-fake-video-capture). Chromium's built-in fake camera draws a flat, almost
// static pattern that VP8 compresses to ~0.7 Mbit/s at 1280x720, far below what a real webcam
// produces. This clip is a smooth texture drifting across the frame plus fresh per-frame noise
// (like sensor noise in a dim room), so the encoder runs at its bitrate cap, as with a real camera.
import fs from 'node:fs';

/** Writes a looping clip (width × height, `frames` frames at `fps`) and returns its size in bytes. */
export function writeNoisyCameraY4m(file: string, width = 1280, height = 720, fps = 24, frames = 48): number {
  const ySize = width * height;
  const cSize = (width / 2) * (height / 2);
  // A smooth texture twice the frame size, to drift across.
  const tw = width * 2;
  const th = height * 2;
  const texture = new Uint8Array(tw * th);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = 128 + 50 * Math.sin(x / 37) * Math.cos(y / 23) + 40 * Math.sin((x + y) / 91) + 20 * Math.sin(x / 7 + y / 11);
      texture[y * tw + x] = Math.max(16, Math.min(235, Math.round(v)));
    }
  }
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
    const frame = Buffer.alloc(ySize + 2 * cSize);
    for (let f = 0; f < frames; f++) {
      const dx = Math.round((f * 7) % width);
      const dy = Math.round((Math.sin((f / frames) * 2 * Math.PI) + 1) * (height / 4));
      for (let y = 0; y < height; y++) {
        const row = (y + dy) * tw + dx;
        const out = y * width;
        for (let x = 0; x < width; x++) {
          const noise = (rand() & 31) - 16;
          const v = texture[row + x]! + noise;
          frame[out + x] = v < 16 ? 16 : v > 235 ? 235 : v;
        }
      }
      for (let i = 0; i < cSize; i++) {
        frame[ySize + i] = 128 + ((rand() & 7) - 4) + ((f * 2) % 16) - 8;
        frame[ySize + cSize + i] = 128 + ((rand() & 7) - 4);
      }
      fs.writeSync(fd, 'FRAME\n');
      fs.writeSync(fd, frame);
    }
  } finally {
    fs.closeSync(fd);
  }
  return fs.statSync(file).size;
}
