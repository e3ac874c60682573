// Where the user is: the panel, the container open in the detail view, the Run dialog.
export type Panel = 'dashboard' | 'containers' | 'compose' | 'images' | 'volumes' | 'networks' | 'events' | 'map' | 'dockerfile' | 'learn' | 'workshops' | 'swarm' | 'settings';

/** The panels in the sidebar's order; Ctrl+1…9 and Ctrl+0 open the first ten (see ../panelKeys),
 * Ctrl+, opens Settings. */
export const PANELS: readonly Panel[] = ['dashboard', 'containers', 'compose', 'images', 'volumes', 'networks', 'events', 'map', 'dockerfile', 'learn', 'workshops', 'swarm', 'settings'];

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
