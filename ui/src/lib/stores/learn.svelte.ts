// The Learn panel's store: the catalogue, the open lab and the step shown, the live checker's
// results (learn.ts reduces its events), hints revealed, and reset. Progress itself is kept by the
// core (it survives restarts); this store only shows it.
import { labList, labReset, labResetPreview, labShow, labStart, labStep, labWatch } from '../commands';
import type { LabCatalogue } from '../bindings/LabCatalogue';
import type { LabView } from '../bindings/LabView';
import type { Lang } from '../bindings/Lang';
import type { ResetPlan } from '../bindings/ResetPlan';
import type { ResetReport } from '../bindings/ResetReport';
import type { StepView } from '../bindings/StepView';
import { toApiError, type ApiError, type StreamHandle } from '../ipc';
import { applyEvent, initialLive, type Live } from './learn';

class Learn {
  catalogue = $state<LabCatalogue | null>(null);
  error = $state<ApiError | null>(null);
  /** The open lab's overview (`null`: the catalogue is shown). */
  lab = $state<LabView | null>(null);
  /** The step shown (the live one unless the learner looks at another). */
  step = $state<StepView | null>(null);
  live = $state<Live>(initialLive());
  /** How many of the shown step's hints are revealed. */
  hints = $state(0);
  solution = $state(false);
  busy = $state<'' | 'start' | 'reset'>('');
  /** What a reset would remove, while the learner confirms it. */
  resetPlan = $state<ResetPlan | null>(null);
  lastReset = $state<ResetReport | null>(null);
  private watch: StreamHandle | null = null;
  private lang: Lang = 'en';

  async loadCatalogue(lang: Lang) {
    this.lang = lang;
    try {
      this.catalogue = await labList(lang);
      this.error = null;
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  /** Opens a lab: its overview, and the step to work on (watched live once started). */
  async open(id: string, lang: Lang) {
    this.lang = lang;
    await this.stopWatch();
    this.live = initialLive();
    this.lastReset = null;
    try {
      this.lab = await labShow(id, lang);
      this.error = null;
      await this.showStep(this.currentIndex());
      if (this.lab.current_step !== null && !this.lab.completed) await this.startWatch();
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  /** Stops the checker while the panel is not shown (progress stays). */
  async suspend() {
    await this.stopWatch();
  }

  /** Shows the panel again: the open lab as it is now (steps may have passed meanwhile, e.g.
   * through `gantry lab check`), watched live again; else the catalogue. */
  async resume(lang: Lang) {
    if (this.lab) await this.open(this.lab.id, lang);
    else await this.loadCatalogue(lang);
  }

  /** Back to the catalogue (the checker stops; progress stays). */
  async close() {
    await this.stopWatch();
    this.lab = null;
    this.step = null;
    this.live = initialLive();
    await this.loadCatalogue(this.lang);
  }

  /** The step to show: the one being worked on, the last once done, the first before starting. */
  currentIndex(): number {
    const lab = this.lab;
    if (!lab || lab.current_step === null) return 0;
    return Math.min(lab.current_step, lab.steps.length - 1);
  }

  async showStep(index: number) {
    if (!this.lab) return;
    try {
      this.step = await labStep(this.lab.id, index, this.lang);
      this.hints = 0;
      this.solution = false;
      this.error = null;
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  /** Shows the texts in another language (results already carry both). */
  async relabel(lang: Lang) {
    if (lang === this.lang) return;
    this.lang = lang;
    if (!this.lab) return this.loadCatalogue(lang);
    try {
      this.lab = await labShow(this.lab.id, lang);
      if (this.step) this.step = await labStep(this.lab.id, this.step.index, lang);
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  async start() {
    if (!this.lab) return;
    this.busy = 'start';
    try {
      this.lab = await labStart(this.lab.id, this.lang);
      await this.showStep(this.currentIndex());
      await this.startWatch();
    } catch (e) {
      this.error = toApiError(e);
    } finally {
      this.busy = '';
    }
  }

  /** Asks what a reset would remove; the panel shows it for confirmation. */
  async previewReset() {
    if (!this.lab) return;
    try {
      this.resetPlan = await labResetPreview(this.lab.id);
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  async reset() {
    if (!this.lab) return;
    this.resetPlan = null;
    this.busy = 'reset';
    await this.stopWatch();
    try {
      const outcome = await labReset(this.lab.id, this.lang);
      this.lab = outcome.lab;
      this.lastReset = outcome.report;
      this.live = initialLive();
      await this.showStep(0);
      await this.startWatch();
    } catch (e) {
      this.error = toApiError(e);
    } finally {
      this.busy = '';
    }
  }

  private async startWatch() {
    if (!this.lab) return;
    const id = this.lab.id;
    await this.stopWatch();
    this.live = initialLive();
    const handle = await labWatch(id, {
      items: (events) => {
        for (const event of events) {
          const before = this.live.step;
          this.live = applyEvent(this.live, event);
          if (event.kind === 'step_passed' || event.kind === 'lab_completed') void this.refreshOverview(id);
          // Follow the checker to its next step when the learner was looking at the live one.
          if (event.kind === 'step_started' && this.step && (before === null || this.step.index === before)) {
            void this.showStep(event.step);
          }
        }
      },
      error: (e) => (this.error = e),
    });
    // Another lab (or a second start) may have begun meanwhile: only the newest watch stays.
    if (this.watch || this.lab?.id !== id) await handle.cancel();
    else this.watch = handle;
  }

  private async refreshOverview(id: string) {
    if (this.lab?.id !== id) return;
    try {
      this.lab = await labShow(id, this.lang);
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  private async stopWatch() {
    const w = this.watch;
    this.watch = null;
    await w?.cancel();
  }
}

export const learn = new Learn();
