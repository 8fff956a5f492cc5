// The synthetic payloads of bench/sfu-send-path.bench.ts: byte i of packet n is (n + i) & 0xff
// after a 4-byte packet number, so the receiver can check every byte it decrypted.
export function makePayload(n: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  b.writeUInt32BE(n >>> 0, 0);
  for (let i = 4; i < length; i++) b[i] = (n + i) & 0xff;
  return b;
}

export function checkPayload(b: Buffer): boolean {
  if (b.length < 4) return false;
  const n = b.readUInt32BE(0);
  for (let i = 4; i < b.length; i++) if (b[i] !== ((n + i) & 0xff)) return false;
  return true;
}
