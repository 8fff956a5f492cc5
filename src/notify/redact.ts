// Message bodies carry patient links whose path is a secret. Anything written to logs passes
// through redactLinks first.

const URL_IN_TEXT = /https?:\/\/[^\s<>"']+/gi;
/** A first path segment kept in the clear: a lowercase word like `v`, `join`, `visit`, `waiting-room`. */
const WORD_SEGMENT = /^[a-z][a-z-]{0,23}$/;

/**
 * Replaces the path of every http(s) URL after its first segment with `…`, and drops its query
 * and fragment: `https://clinic.example/v/Xy12…?t=9` → `https://clinic.example/v/…`. A first
 * segment that is not a plain lowercase word may itself be the token, so it goes too.
 */
export function redactLinks(body: string): string {
  return body.replace(URL_IN_TEXT, (match) => {
    // Sentence punctuation right after a link is not part of it.
    const trail = /[.,;:!?)\]]+$/.exec(match)?.[0] ?? '';
    const url = trail ? match.slice(0, -trail.length) : match;
    const schemeEnd = url.indexOf('//') + 2;
    const restAt = url.slice(schemeEnd).search(/[/?#]/);
    if (restAt < 0) return match; // origin only
    const origin = url.slice(0, schemeEnd + restAt);
    const rest = url.slice(schemeEnd + restAt);
    if (rest === '/') return match;
    const first = rest.startsWith('/') ? (rest.slice(1).split(/[/?#]/)[0] ?? '') : '';
    const keep = WORD_SEGMENT.test(first);
    if (keep && rest === `/${first}`) return match;
    return `${origin}/${keep ? `${first}/` : ''}…${trail}`;
  });
}
