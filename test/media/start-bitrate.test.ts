// The start bitrate written into the server's SDP for each video codec (and nothing else).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStartBitrate } from '../../src/media/start-bitrate.js';

const SDP = [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99', 'a=recvonly', 'a=rtpmap:96 VP8/90000', 'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96',
  'a=rtpmap:98 H264/90000', 'a=fmtp:98 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f', 'a=rtpmap:99 rtx/90000', 'a=fmtp:99 apt=98',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97', 'a=sendonly', 'a=rtpmap:96 VP8/90000', 'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96',
  '',
].join('\r\n');

test('each video codec the client sends starts at the given bitrate; audio, RTX, video to the client and line endings are untouched', () => {
  const out = withStartBitrate(SDP, 2000);
  const lines = out.split('\r\n');
  assert.ok(!out.includes('\n\n') && out.split('\n').every((l) => l === '' || l.endsWith('\r') || l === lines.at(-1)), 'CRLF kept');
  assert.equal(lines[lines.indexOf('a=rtpmap:96 VP8/90000') + 1], 'a=fmtp:96 x-google-start-bitrate=2000', 'VP8 gets an fmtp line');
  assert.ok(lines.includes('a=fmtp:98 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f;x-google-start-bitrate=2000'), 'H.264 keeps its parameters');
  assert.ok(lines.includes('a=fmtp:97 apt=96') && lines.includes('a=fmtp:99 apt=98'), 'RTX untouched');
  assert.ok(lines.includes('a=fmtp:111 minptime=10;useinbandfec=1'), 'audio untouched');
  assert.equal(withStartBitrate(out, 2000), out, 'applying it twice changes nothing');
  assert.equal(out.split('x-google-start-bitrate').length - 1, 2, 'not in the section that only sends to the client');
});
