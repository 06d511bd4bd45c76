// Its own module so that the CLI can list the formats in its help without loading the renderers.
export const RENDER_FORMATS = ['md', 'html', 'pdf'] as const;
export type RenderFormat = (typeof RENDER_FORMATS)[number];
