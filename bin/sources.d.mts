export const SOURCE_DIRS: string[]
export function newestSource(root: string): number
