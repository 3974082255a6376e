// The environment queuectl was started with. Imported first by index.ts, so this copy is taken before
// any other module runs (ES modules evaluate in import order) and before queuectl sets anything for
// itself (UV_THREADPOOL_SIZE): jobs start from this, not from process.env.

export const START_ENV: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
);
