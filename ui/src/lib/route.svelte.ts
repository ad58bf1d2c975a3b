// Which screen is shown. One screen at a time; Escape goes back to the overview.

export type Route =
  | { screen: 'overview' }
  | { screen: 'details'; serial: string; certId: string | null }
  | { screen: 'activate'; serial: string }
  | { screen: 'pin'; serial: string }
  | { screen: 'unlock'; serial: string }
  | { screen: 'seal'; serial: string; certId: string }
  | { screen: 'renew'; serial: string }
  | { screen: 'settings' }
  | { screen: 'diagnostics' };

export const route = $state<{ current: Route }>({ current: { screen: 'overview' } });

export function go(next: Route): void {
  route.current = next;
}
