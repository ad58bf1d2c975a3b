// Moves the keyboard focus to the first field (or button) of a newly shown element,
// so that each dialog can be answered without the mouse.
export function focusFirst(node: HTMLElement): void {
  requestAnimationFrame(() => {
    const target = node.querySelector<HTMLElement>(
      'input:not([disabled]), button.primary:not([disabled]), button:not([disabled])',
    );
    target?.focus();
  });
}
