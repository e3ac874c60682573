// Where the user is: the panel, the container open in the detail view, the Run dialog.
export type Panel = 'dashboard' | 'containers' | 'images' | 'volumes' | 'networks' | 'events' | 'map' | 'dockerfile' | 'learn' | 'settings';

/** The panels in the sidebar's order; Ctrl+1…9 then Ctrl+0 follow it (see `panelKey`). */
export const PANELS: readonly Panel[] = ['dashboard', 'containers', 'images', 'volumes', 'networks', 'events', 'map', 'dockerfile', 'learn', 'settings'];

/** The digit key that opens the panel at `index` in PANELS: 1…9, then 0 for the tenth. */
export function panelKey(index: number): number {
  return (index + 1) % 10;
}

/** The panel a digit key opens (the inverse of `panelKey`), if any. */
export function panelForKey(digit: number): Panel | undefined {
  return PANELS[(digit + 9) % 10];
}

class Nav {
  panel = $state<Panel>('dashboard');
  /** Container open in the detail view. */
  detailId = $state<string | null>(null);
  runDialog = $state<{ open: boolean; image: string }>({ open: false, image: '' });

  go(panel: Panel) {
    this.panel = panel;
    if (panel !== 'containers') this.detailId = null;
  }

  openContainer(id: string) {
    this.panel = 'containers';
    this.detailId = id;
  }

  /** Opens the Run dialog, with `image` filled in. */
  openRun(image = '') {
    this.runDialog = { open: true, image };
  }

  closeRun() {
    this.runDialog = { open: false, image: '' };
  }
}

export const nav = new Nav();
