// The dashboard's "today" schedule: the day, and late in the evening the first hours after
// midnight too (a visit booked at 11:50 PM for 12:15 AM must not vanish from the list).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOOKAHEAD_MS, scheduleRange } from '../../web/staff/schedule-range.js';

test('daytime: midnight to midnight', () => {
  const now = new Date(2026, 10, 27, 10, 30);
  assert.deepEqual(scheduleRange(now), { from: new Date(2026, 10, 27).toISOString(), to: new Date(2026, 10, 28).toISOString() });
});

test('late evening: the schedule runs on past midnight', () => {
  const now = new Date(2026, 10, 27, 23, 50);
  const r = scheduleRange(now);
  assert.equal(r.from, new Date(2026, 10, 27).toISOString());
  assert.equal(r.to, new Date(now.getTime() + LOOKAHEAD_MS).toISOString());
  const bookedFor = new Date(2026, 10, 28, 0, 15); // the booking form's default at 11:50 PM
  assert.ok(bookedFor.toISOString() >= r.from && bookedFor.toISOString() < r.to);
});
