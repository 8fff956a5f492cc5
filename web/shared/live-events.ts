// The page's live connection (/api/events): reconnects with backoff, tells the page when the
// session has ended (close code 4001) so it can ask to sign in again.
export interface LiveEvent {
  type: string;
  [key: string]: any;
}

export function connectEvents(as: 'staff' | 'patient' | 'guest', onEvent: (e: LiveEvent) => void, onSessionEnded: () => void, onState?: (connected: boolean) => void): () => void {
  let ws: WebSocket | null = null;
  let stopped = false;
  let delay = 500;
  const open = () => {
    if (stopped) return;
    ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/events?as=${as}`);
    ws.onmessage = (m) => {
      try {
        const e = JSON.parse(String(m.data)) as LiveEvent;
        if (e.type === 'ready') {
          delay = 500;
          onState?.(true);
        }
        onEvent(e);
      } catch {
        /* ignore malformed */
      }
    };
    ws.onclose = (ev) => {
      onState?.(false);
      if (stopped) return;
      if (ev.code === 4001) return onSessionEnded();
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  open();
  return () => {
    stopped = true;
    ws?.close();
  };
}
