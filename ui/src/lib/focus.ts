// Moves the keyboard focus to the first field (or button) of a newly shown element,
// so that each dialog can be answered without the mouse.
export function focusFirst(node: HTMLElement): void {
  requestAnimationFrame(() => {
    // In order of preference: a field to fill, the main (or safe) answer, any button.
    for (const css of ['input:not([disabled])', 'button.primary:not([disabled])', 'button:not([disabled])']) {
      const target = node.querySelector<HTMLElement>(css);
      if (target) {
        target.focus();
        return;
      }
    }
  });
}
