// Artillery loads its processor with import() in each of its worker threads, which have no
// TypeScript loader: this shim loads the TypeScript processor through tsx's API (a dependency
// of the repository) and hands Artillery its functions.
import { tsImport } from 'tsx/esm/api';

const processor = await tsImport('./processor.mts', import.meta.url);
// A mix scenario's listeners (steady).
export const { mixListener } = processor;

export const {
  mixRequest,
  realtimeSession,
  announcementListener,
  announce,
  morningLogin,
  callSession,
} = processor;
