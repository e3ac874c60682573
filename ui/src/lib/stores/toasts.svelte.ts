// Short confirmations and errors in the corner (at most three, each for four seconds).
export interface Toast {
  id: number;
  text: string;
  kind: 'ok' | 'error';
}

class Toasts {
  items = $state<Toast[]>([]);
  private seq = 0;

  show(text: string, kind: Toast['kind'] = 'ok') {
    const id = ++this.seq;
    this.items = [...this.items.slice(-2), { id, text, kind }];
    setTimeout(() => this.dismiss(id), 4000);
  }

  dismiss(id: number) {
    this.items = this.items.filter((t) => t.id !== id);
  }
}

export const toasts = new Toasts();
