// The span of "today's schedule" on the staff dashboard.

/** The schedule also shows visits this soon after midnight: one booked at 11:50 PM for 12:15 AM stays in view. */
export const LOOKAHEAD_MS = 3 * 3600_000;

/** Today's schedule: from midnight to the end of the day, or to LOOKAHEAD_MS from now if that is later. */
export function scheduleRange(now = new Date()): { from: string; to: string } {
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const endOfDay = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  const end = new Date(Math.max(endOfDay.getTime(), now.getTime() + LOOKAHEAD_MS));
  return { from: start.toISOString(), to: end.toISOString() };
}
