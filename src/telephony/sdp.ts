// The SDP of a telephone call (RFC 4566, offer/answer RFC 3264): one audio stream, G.711
// (PCMU 0, PCMA 8) and RFC 4733 telephone-events. We offer; the trunk answers; a re-INVITE from
// the far end offers again and we answer with the same port and codec when we can.

export type G711 = 'PCMU' | 'PCMA';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface AudioCodec {
  name: G711;
  payloadType: number;
}

export interface RemoteMedia {
  /** Where the far end wants our RTP. */
  address: string;
  port: number;
  /** The codec we send and expect (the first G.711 format in the far end's list). */
  codec: AudioCodec;
  /** Every G.711 format the far end listed, in its order. */
  codecs: AudioCodec[];
  /** Payload type of telephone-event in the far end's SDP; null if it has none. */
  telephoneEvent: number | null;
  direction: Direction;
  ptime: number | null;
}

export interface LocalSdpOptions {
  address: string;
  port: number;
  sessionId: string;
  version: number;
  /** Payload types to list, in preference order (offer: all; answer: the chosen ones). */
  codecs: AudioCodec[];
  telephoneEvent: number | null;
  direction?: Direction;
}

export const OFFER_CODECS: AudioCodec[] = [
  { name: 'PCMU', payloadType: 0 },
  { name: 'PCMA', payloadType: 8 },
];
export const TELEPHONE_EVENT_PT = 101;

export function buildSdp(o: LocalSdpOptions): string {
  const ip = o.address.includes(':') ? 'IP6' : 'IP4';
  const pts = [...o.codecs.map((c) => c.payloadType), ...(o.telephoneEvent !== null ? [o.telephoneEvent] : [])];
  const lines = [
    'v=0',
    `o=televisit ${o.sessionId} ${o.version} IN ${ip} ${o.address}`,
    's=Televisit',
    `c=IN ${ip} ${o.address}`,
    't=0 0',
    `m=audio ${o.port} RTP/AVP ${pts.join(' ')}`,
    ...o.codecs.map((c) => `a=rtpmap:${c.payloadType} ${c.name}/8000`),
    ...(o.telephoneEvent !== null ? [`a=rtpmap:${o.telephoneEvent} telephone-event/8000`, `a=fmtp:${o.telephoneEvent} 0-16`] : []),
    'a=ptime:20',
    `a=${o.direction ?? 'sendrecv'}`,
  ];
  return lines.join('\r\n') + '\r\n';
}

export class SdpError extends Error {}

interface ParsedMedia {
  port: number;
  proto: string;
  formats: number[];
  connection: string | null;
  rtpmap: Map<number, string>;
  direction: Direction | null;
  ptime: number | null;
}

/** Reads the first audio stream of a session description; throws SdpError if unusable. */
export function parseRemoteSdp(sdp: string): RemoteMedia {
  let sessionConn: string | null = null;
  let sessionDir: Direction | null = null;
  const media: ParsedMedia[] = [];
  let current: ParsedMedia | null = null;
  let kind = '';
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const type = line[0];
    const value = line.slice(2);
    if (type === 'm') {
      const m = /^(\w+) (\d{1,5})(?:\/\d+)? (\S+)((?: \d{1,3})*)\s*$/.exec(value);
      if (!m) throw new SdpError('bad m= line');
      kind = m[1]!;
      current = {
        port: Number(m[2]),
        proto: m[3]!,
        formats: m[4]!.trim().split(/\s+/).filter(Boolean).map(Number),
        connection: null,
        rtpmap: new Map(),
        direction: null,
        ptime: null,
      };
      if (kind === 'audio') media.push(current);
      continue;
    }
    if (type === 'c') {
      const m = /^IN IP[46] ([0-9A-Fa-f:.]+)/.exec(value);
      if (!m) throw new SdpError('bad c= line');
      if (current) current.connection = m[1]!;
      else sessionConn = m[1]!;
      continue;
    }
    if (type === 'a') {
      const dir = /^(sendrecv|sendonly|recvonly|inactive)$/.exec(value)?.[1] as Direction | undefined;
      if (dir) {
        if (current) current.direction = dir;
        else sessionDir = dir;
        continue;
      }
      if (!current) continue;
      const rtpmap = /^rtpmap:(\d{1,3}) ([^/\s]+)\/(\d+)/.exec(value);
      if (rtpmap) current.rtpmap.set(Number(rtpmap[1]), `${rtpmap[2]!.toUpperCase()}/${rtpmap[3]}`);
      const ptime = /^ptime:(\d+)/.exec(value);
      if (ptime) current.ptime = Number(ptime[1]);
    }
  }
  const audio = media[0];
  if (!audio) throw new SdpError('no audio stream');
  if (audio.port === 0) throw new SdpError('audio stream rejected (port 0)');
  if (!/^RTP\/AVP$/i.test(audio.proto)) throw new SdpError(`unsupported media protocol ${audio.proto}`);
  const address = audio.connection ?? sessionConn;
  if (!address) throw new SdpError('no connection address');
  const codecs: AudioCodec[] = [];
  let telephoneEvent: number | null = null;
  for (const pt of audio.formats) {
    const map = audio.rtpmap.get(pt);
    const name = map ? map.split('/')[0] : pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : null;
    if ((name === 'PCMU' || name === 'PCMA') && (!map || map.endsWith('/8000'))) codecs.push({ name, payloadType: pt });
    if (telephoneEvent === null && name === 'TELEPHONE-EVENT' && map!.endsWith('/8000')) telephoneEvent = pt;
  }
  const codec = codecs[0];
  if (!codec) throw new SdpError('no common codec (PCMU or PCMA)');
  return { address, port: audio.port, codec, codecs, telephoneEvent, direction: audio.direction ?? sessionDir ?? 'sendrecv', ptime: audio.ptime };
}

/** The direction we answer with (RFC 3264 section 6.1). */
export function answerDirection(offered: Direction): Direction {
  return offered === 'sendonly' ? 'recvonly' : offered === 'recvonly' ? 'sendonly' : offered;
}
