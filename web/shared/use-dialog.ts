// A modal dialog's keyboard behaviour, the same in every dialog: when it opens, focus goes to its
// first field (or its first button when it has no fields); Escape closes it.
import { useEffect, useRef } from 'preact/hooks';

export function useDialog<T extends HTMLElement>(onEscape: () => void) {
  const ref = useRef<T>(null);
  const escape = useRef(onEscape);
  escape.current = onEscape;
  useEffect(() => {
    const root = ref.current;
    const first = root?.querySelector<HTMLElement>('input:not([type="hidden"]):not([disabled]), select:not([disabled]), textarea:not([disabled])') ?? root?.querySelector<HTMLElement>('button');
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') escape.current();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  return ref;
}
