// Twilio-style paging: PageSize and Page, or an opaque PageToken that continues after the last
// row of the previous page (stable while rows are added).
import { invalidParameter } from '../errors.js';

export interface PageRequest {
  pageSize: number;
  page: number;
  pageToken?: string;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string | null;
}

export function encodePageToken(key: { at: string; sid: string }): string {
  return 'PA' + Buffer.from(JSON.stringify([key.at, key.sid])).toString('base64url');
}

export function decodePageToken(token: string | undefined): { at: string; sid: string } | null {
  if (!token) return null;
  try {
    if (!token.startsWith('PA')) throw new Error('prefix');
    const [at, sid] = JSON.parse(Buffer.from(token.slice(2), 'base64url').toString('utf8')) as unknown[];
    if (typeof at !== 'string' || typeof sid !== 'string') throw new Error('shape');
    return { at, sid };
  } catch {
    throw invalidParameter('PageToken', 'it is not a token this server issued');
  }
}
