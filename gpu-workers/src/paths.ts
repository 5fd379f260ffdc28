/** Paths inside the repository that the GPU backend uses by default. */
import * as path from 'node:path';

/** The repository root (gpu-workers/dist/.. /..). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Where scripts/setup.sh puts libnvrtc (from the PyPI wheel nvidia-cuda-nvrtc-cu12). */
export const BUNDLED_CUDA_LIB_DIR = path.join(REPO_ROOT, '.gramfleet', 'cuda', 'lib');

/** Default on-disk PTX cache. */
export const DEFAULT_PTX_CACHE_DIR = path.join(REPO_ROOT, '.gramfleet', 'cuda', 'ptx-cache');
