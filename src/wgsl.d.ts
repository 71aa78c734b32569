/** WGSL files are imported as their source text (esbuild's `text` loader, the vitest plugin). */
declare module '*.wgsl' {
  const source: string;
  export default source;
}
