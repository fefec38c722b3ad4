/** The Node options of package.json's start script (between `node` and `dist/cli.js`). */
export function startFlags(root: string): string[];
