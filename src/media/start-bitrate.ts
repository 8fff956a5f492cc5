// The bitrate a publisher's browser starts its video at, said in the server's SDP. Chromium starts
// at 300 kbit/s unless the remote description says otherwise (`x-google-start-bitrate`, kbit/s,
// in the video codec's fmtp), and at that rate it encodes a 1280x720 camera at 640x360 and climbs
// back to 720p only after 10–30 s. Twilio's two-party recommendation (720p, no simulcast) needs
// the full picture from the start; the bandwidth estimate still backs off within a second or two
// on a link that cannot carry it.

/**
 * Starts the video codecs (VP8, VP9, H.264, AV1; not RTX or RED) of the sections in which the
 * client sends (ours `recvonly` or `sendrecv`) at `kbps`; sections that only carry video to the
 * client are left alone.
 */
export function withStartBitrate(sdp: string, kbps: number): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const sections = sdp.split(new RegExp(`(?=${eol}m=)`));
  return sections.map((s) => (/^(\r?\n)?m=video /.test(s) && /\r?\na=(recvonly|sendrecv)\r?(\n|$)/.test(s) ? section(s, eol, kbps) : s)).join('');
}

function section(sdp: string, eol: string, kbps: number): string {
  const lines = sdp.split(eol);
  const media = new Set<string>();
  for (const line of lines) {
    const m = /^a=rtpmap:(\d+) (VP8|VP9|H264|AV1)\/90000/i.exec(line);
    if (m) media.add(m[1]!);
  }
  const withFmtp = new Set<string>();
  const out = lines.map((line) => {
    const m = /^a=fmtp:(\d+) (.*)$/.exec(line);
    if (!m || !media.has(m[1]!)) return line;
    withFmtp.add(m[1]!);
    if (/x-google-start-bitrate=/.test(m[2]!)) return line;
    return `a=fmtp:${m[1]} ${m[2]};x-google-start-bitrate=${kbps}`;
  });
  // Codecs without an fmtp line get one right after their rtpmap.
  const result: string[] = [];
  for (const line of out) {
    result.push(line);
    const m = /^a=rtpmap:(\d+) /.exec(line);
    if (m && media.has(m[1]!) && !withFmtp.has(m[1]!)) result.push(`a=fmtp:${m[1]} x-google-start-bitrate=${kbps}`);
  }
  return result.join(eol);
}
