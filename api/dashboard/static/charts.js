// Apache ECharts helpers: charts resized with the window, disposed with their view, and a
// promise per chart that settles when ECharts reports it has finished drawing.

const live = new Set();
let mapLoading = null;

window.addEventListener('resize', () => live.forEach((c) => c.resize()));

/** A chart in `node`; `whenDrawn` resolves on the first 'finished' event after setOption. */
export function chart(node) {
  const instance = window.echarts.init(node, null, { renderer: 'canvas' });
  live.add(instance);
  instance.whenDrawn = new Promise((resolve) => instance.on('finished', resolve));
  return instance;
}

/** Dispose one chart before its view is done (a panel drawn again). */
export function dispose(instance) {
  live.delete(instance);
  instance.dispose();
}

export function disposeAll() {
  live.forEach((c) => c.dispose());
  live.clear();
}

/** Register the China provinces map once (GeoJSON copied from the pinned npm package at build). */
export function loadChinaMap() {
  if (!mapLoading) {
    mapLoading = fetch('vendor/china-provinces.json')
      .then((r) => {
        if (!r.ok) throw new Error(`map data: HTTP ${r.status}`);
        return r.json();
      })
      .then((geo) => {
        window.echarts.registerMap('china', geo);
        return geo;
      });
  }
  return mapLoading;
}

export const STATUS_COLORS = { within: '#2e7d32', near: '#ef8f00', over: '#d32f2f', none: '#9aa5b1' };
