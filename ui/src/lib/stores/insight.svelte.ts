// See inside: one image looked into (its layers, each layer's file tree, its packages and their
// known vulnerabilities), one Dockerfile with its advice and fixes, and the live picture. Reading
// an image streams progress and can be cancelled.
import type { DockerfileReview } from '../bindings/DockerfileReview';
import type { FixPreview } from '../bindings/FixPreview';
import type { ImageContents } from '../bindings/ImageContents';
import type { LayerReport } from '../bindings/LayerReport';
import type { TopologyUpdate } from '../bindings/TopologyUpdate';
import type { TreeNode } from '../bindings/TreeNode';
import type { VulnerabilityReport } from '../bindings/VulnerabilityReport';
import { dockerfileFixApply, dockerfileFixPreview, dockerfileLint, downloadSave, imageContents, imageLayerTree, imageLayers, imageSbom, imageVulns, topologyWatch } from '../commands';
import { locale } from '../i18n/index.svelte';
import { toApiError, type ApiError, type StreamHandle } from '../ipc';
import { sbomFileName } from '../insight/contents';
import { openChanged } from '../insight/layers';

/** A read of an image: how far it got, what it found, or why it failed. */
export interface Reading<T> {
  bytes: number;
  total: number;
  running: boolean;
  result: T | null;
  error: ApiError | null;
}

function idle<T>(): Reading<T> {
  return { bytes: 0, total: 0, running: false, result: null, error: null };
}

class ImageInside {
  /** The image looked into (name or ID), or null when none is open. */
  reference = $state<string | null>(null);
  tab = $state<'layers' | 'contents'>('layers');
  layers = $state.raw<Reading<LayerReport>>(idle());
  contents = $state.raw<Reading<ImageContents>>(idle());
  /** The layer whose tree is shown. */
  layer = $state<number | null>(null);
  tree = $state.raw<TreeNode | null>(null);
  treeError = $state<ApiError | null>(null);
  /** Folders open in the tree. */
  open = $state.raw<Set<string>>(new Set());
  vulns = $state.raw<VulnerabilityReport | null>(null);
  vulnsError = $state<ApiError | null>(null);
  scanning = $state(false);
  private handle: StreamHandle | null = null;

  /** Opens `reference` and starts reading its layers. */
  async openImage(reference: string) {
    await this.cancel();
    this.reference = reference;
    this.tab = 'layers';
    this.layers = idle();
    this.contents = idle();
    this.layer = null;
    this.tree = null;
    this.vulns = null;
    this.vulnsError = null;
    await this.readLayers();
  }

  async close() {
    await this.cancel();
    this.reference = null;
  }

  /** Stops the read in progress (the engine's export stops too). */
  async cancel() {
    const h = this.handle;
    this.handle = null;
    await h?.cancel();
    if (this.layers.running) this.layers = { ...this.layers, running: false };
    if (this.contents.running) this.contents = { ...this.contents, running: false };
  }

  async readLayers() {
    const reference = this.reference;
    if (!reference) return;
    await this.cancel();
    this.layers = { ...idle(), running: true };
    try {
      this.handle = await imageLayers(reference, {
        items: (items) => {
          for (const item of items) {
            if (item.kind === 'reading') this.layers = { ...this.layers, bytes: item.bytes, total: item.total };
            else {
              this.layers = { ...this.layers, running: false, result: item.report };
              const worst = [...item.report.layers].sort((a, b) => b.wasted_bytes - a.wasted_bytes || b.size_bytes - a.size_bytes)[0];
              if (worst) void this.selectLayer(worst.index);
            }
          }
        },
        error: (e) => (this.layers = { ...this.layers, running: false, error: e }),
        end: () => {
          this.handle = null;
          if (this.layers.running) this.layers = { ...this.layers, running: false };
        },
      });
    } catch (e) {
      this.layers = { ...idle(), error: toApiError(e) };
    }
  }

  async selectLayer(index: number) {
    if (!this.reference) return;
    this.layer = index;
    this.tree = null;
    this.treeError = null;
    try {
      const tree = await imageLayerTree(this.reference, index);
      if (this.layer !== index) return;
      this.tree = tree;
      this.open = openChanged(tree, 40);
    } catch (e) {
      this.treeError = toApiError(e);
    }
  }

  toggle(path: string) {
    const next = new Set(this.open);
    if (next.has(path)) next.delete(path);
    else next.add(path);
    this.open = next;
  }

  async readContents() {
    const reference = this.reference;
    if (!reference) return;
    this.tab = 'contents';
    if (this.contents.result || this.contents.running) return;
    await this.cancel();
    this.contents = { ...idle(), running: true };
    try {
      this.handle = await imageContents(reference, {
        items: (items) => {
          for (const item of items) {
            if (item.kind === 'reading') this.contents = { ...this.contents, bytes: item.bytes, total: item.total };
            else this.contents = { ...this.contents, running: false, result: item.contents };
          }
        },
        error: (e) => (this.contents = { ...this.contents, running: false, error: e }),
        end: () => {
          this.handle = null;
          if (this.contents.running) this.contents = { ...this.contents, running: false };
        },
      });
    } catch (e) {
      this.contents = { ...idle(), error: toApiError(e) };
    }
  }

  /** Saves the CycloneDX document in the download folder; returns where. */
  async exportSbom(): Promise<string> {
    const reference = this.reference ?? '';
    const text = await imageSbom(reference);
    return downloadSave(sbomFileName(reference), text);
  }

  async scan(database: string) {
    if (!this.reference) return;
    this.scanning = true;
    this.vulnsError = null;
    try {
      this.vulns = await imageVulns(this.reference, database.trim());
    } catch (e) {
      this.vulns = null;
      this.vulnsError = toApiError(e);
    } finally {
      this.scanning = false;
    }
  }
}

export const imageInside = new ImageInside();

class DockerfileAdvice {
  /** What the user typed: a Dockerfile or its folder. */
  path = $state('');
  review = $state.raw<DockerfileReview | null>(null);
  error = $state<ApiError | null>(null);
  busy = $state(false);
  /** The fix shown before it is written: its diff, and which findings it is for. */
  preview = $state.raw<{ findings: number[]; result: FixPreview } | null>(null);
  previewError = $state<ApiError | null>(null);

  async open(path: string) {
    this.path = path;
    await this.read();
  }

  async read() {
    this.busy = true;
    this.error = null;
    this.preview = null;
    try {
      this.review = await dockerfileLint(this.path.trim(), locale.lang);
    } catch (e) {
      this.review = null;
      this.error = toApiError(e);
    } finally {
      this.busy = false;
    }
  }

  /** Shows what fixing `findings` (indexes; empty: every fix) would change. */
  async showFix(findings: number[]) {
    const review = this.review;
    if (!review) return;
    this.previewError = null;
    try {
      this.preview = { findings, result: await dockerfileFixPreview(review.path, review.revision, findings, locale.lang) };
    } catch (e) {
      this.preview = null;
      this.previewError = toApiError(e);
    }
  }

  /** Writes the previewed fix (refused when the file changed since it was read). */
  async apply(): Promise<boolean> {
    const review = this.review;
    const preview = this.preview;
    if (!review || !preview) return false;
    this.busy = true;
    try {
      this.review = await dockerfileFixApply(review.path, preview.result.revision, preview.findings, locale.lang);
      this.preview = null;
      return true;
    } catch (e) {
      this.previewError = toApiError(e);
      return false;
    } finally {
      this.busy = false;
    }
  }
}

export const dockerfileAdvice = new DockerfileAdvice();

class LivePicture {
  update = $state.raw<TopologyUpdate | null>(null);
  error = $state<ApiError | null>(null);
  /** When the last picture arrived (ms since the epoch). */
  updatedAt = $state(0);
  private handle: StreamHandle | null = null;

  async watch() {
    if (this.handle) return;
    this.error = null;
    try {
      this.handle = await topologyWatch({
        items: (items) => {
          const last = items[items.length - 1];
          if (last) {
            this.update = last;
            this.updatedAt = Date.now();
          }
        },
        error: (e) => (this.error = e),
        end: () => (this.handle = null),
      });
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  async stop() {
    const h = this.handle;
    this.handle = null;
    await h?.cancel();
  }
}

export const livePicture = new LivePicture();
