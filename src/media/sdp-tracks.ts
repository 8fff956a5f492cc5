// Reads what a client's offer says about the media it sends: per m-section its mid, kind,
// direction, the track id in a=msid, and its SSRCs (simulcast layers from a=ssrc-group:SIM,
// retransmission SSRCs from a=ssrc-group:FID). twilio-video signals simulcast with SSRCs
// (it munges an SSRC SIM group into Chrome's offer), so SSRCs are how we route packets.

export type MediaKind = 'audio' | 'video' | 'application';

export interface OfferedSection {
  mid: string;
  kind: MediaKind;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
  /** The sender's track id (the text after the last space of the first a=msid). */
  trackId: string | null;
  /** Primary SSRCs, lowest simulcast layer first (one entry without simulcast). */
  layerSsrcs: number[];
  /** RTX SSRC → primary SSRC. */
  rtxOf: Map<number, number>;
  /** Header extension URI → id. */
  extensions: Map<string, number>;
  port: number;
}

export class SdpError extends Error {}

const MAX_SDP_BYTES = 128 * 1024;

export function parseOfferedSections(sdp: unknown): OfferedSection[] {
  if (typeof sdp !== 'string' || sdp.length === 0) throw new SdpError('SDP is missing');
  if (sdp.length > MAX_SDP_BYTES) throw new SdpError('SDP is too large');
  if (!sdp.startsWith('v=0')) throw new SdpError('SDP does not start with v=0');
  const parts = sdp.split(/\r?\nm=/);
  const sections: OfferedSection[] = [];
  for (const raw of parts.slice(1)) {
    const lines = ('m=' + raw).split(/\r?\n/);
    const m = /^m=(audio|video|application) (\d+) /.exec(lines[0] ?? '');
    if (!m) continue;
    const section: OfferedSection = {
      mid: '',
      kind: m[1] as MediaKind,
      direction: 'sendrecv',
      trackId: null,
      layerSsrcs: [],
      rtxOf: new Map(),
      extensions: new Map(),
      port: Number(m[2]),
    };
    const allSsrcs: number[] = [];
    let sim: number[] | null = null;
    const fid: [number, number][] = [];
    for (const line of lines) {
      if (line.startsWith('a=mid:')) section.mid = line.slice(6).trim();
      else if (/^a=(sendrecv|sendonly|recvonly|inactive)$/.test(line)) section.direction = line.slice(2) as OfferedSection['direction'];
      else if (line.startsWith('a=msid:') && section.trackId === null) {
        const value = line.slice(7).trim();
        section.trackId = value.slice(value.lastIndexOf(' ') + 1) || null;
      } else if (line.startsWith('a=ssrc:')) {
        const ssrc = Number(/^a=ssrc:(\d+)/.exec(line)?.[1]);
        if (Number.isInteger(ssrc) && !allSsrcs.includes(ssrc)) allSsrcs.push(ssrc);
        const msid = / msid:\S+ (\S+)/.exec(line);
        if (msid && section.trackId === null) section.trackId = msid[1]!;
      } else if (line.startsWith('a=ssrc-group:SIM ')) {
        sim = line.slice(17).trim().split(/\s+/).map(Number);
      } else if (line.startsWith('a=ssrc-group:FID ')) {
        const [a, b] = line.slice(17).trim().split(/\s+/).map(Number);
        if (Number.isInteger(a) && Number.isInteger(b)) fid.push([a!, b!]);
      } else if (line.startsWith('a=extmap:')) {
        const e = /^a=extmap:(\d+)(?:\/\w+)? (\S+)/.exec(line);
        if (e) section.extensions.set(e[2]!, Number(e[1]));
      }
    }
    for (const [primary, rtx] of fid) section.rtxOf.set(rtx, primary);
    if (sim && sim.every((s) => Number.isInteger(s))) section.layerSsrcs = sim;
    else section.layerSsrcs = allSsrcs.filter((s) => !section.rtxOf.has(s)).slice(0, 1);
    sections.push(section);
  }
  if (sections.length === 0) throw new SdpError('SDP has no media sections');
  return sections;
}

/** Sections in which the client sends media to us. */
export function sendingSections(sections: OfferedSection[]): OfferedSection[] {
  return sections.filter((s) => s.kind !== 'application' && s.port !== 0 && (s.direction === 'sendrecv' || s.direction === 'sendonly'));
}
