/** Rasterises the stats report (SVG) to PNG with resvg, using the DejaVu font shipped as an npm package. */
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';

export function svgToPng(svg: string): Uint8Array {
  const fontDir = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  const resvg = new Resvg(svg, {
    font: {
      fontFiles: [join(fontDir, 'DejaVuSans.ttf'), join(fontDir, 'DejaVuSans-Bold.ttf')],
      loadSystemFonts: false,
      defaultFontFamily: 'DejaVu Sans',
    },
  });
  return resvg.render().asPng();
}
