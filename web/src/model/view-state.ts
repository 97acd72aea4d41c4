/**
 * What the view shows, as plain data: the selection, filter, register focus and diff mode, profile B, collapsed
 * calls and the zoom window. It round-trips through the URL hash, so a link reproduces the view.
 */

export type RegMode = 'inout' | 'proxy' | 'profiles';
export const REG_MODES: readonly RegMode[] = ['inout', 'proxy', 'profiles'];

export interface ViewState {
  /** Selected event (index into the trace), -1 for none. */
  sel: number;
  filter: string;
  /** Focused register for the bit strip (0–17). */
  reg: number;
  mode: RegMode;
  /** Profile B for the profile diff, '' for none. */
  profileB: string;
  /** Collapsed host calls. */
  collapsed: number[];
  /** Visible seq window [lo, hi] of flow, page map and overview; undefined = everything. */
  zoom: [number, number] | undefined;
  /** Whether the explanation (`e`) is expanded in the details pane. */
  explain: boolean;
}

export function defaultState(): ViewState {
  return {
    sel: -1,
    filter: '',
    reg: 0,
    mode: 'inout',
    profileB: '',
    collapsed: [],
    zoom: undefined,
    explain: false,
  };
}

/** The hash for a state (only what differs from the default). */
export function toHash(s: ViewState): string {
  const p = new URLSearchParams();
  if (s.sel >= 0) p.set('sel', String(s.sel));
  if (s.filter !== '') p.set('f', s.filter);
  if (s.reg !== 0) p.set('reg', String(s.reg));
  if (s.mode !== 'inout') p.set('mode', s.mode);
  if (s.profileB !== '') p.set('b', s.profileB);
  if (s.collapsed.length > 0) p.set('c', s.collapsed.join(','));
  if (s.zoom !== undefined) p.set('z', `${s.zoom[0]}-${s.zoom[1]}`);
  if (s.explain) p.set('e', '1');
  const q = p.toString();
  return q === '' ? '' : `#${q}`;
}

const int = (v: string | null, lo: number, hi: number): number | undefined => {
  if (v === null || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n >= lo && n <= hi ? n : undefined;
};

/** A state from a hash; anything malformed falls back to the default for that field. */
export function fromHash(hash: string): ViewState {
  const s = defaultState();
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  s.sel = int(p.get('sel'), 0, 2 ** 31) ?? -1;
  s.filter = (p.get('f') ?? '').slice(0, 500);
  s.reg = int(p.get('reg'), 0, 17) ?? 0;
  const mode = p.get('mode');
  if (mode !== null && (REG_MODES as readonly string[]).includes(mode)) s.mode = mode as RegMode;
  s.profileB = (p.get('b') ?? '').replace(/[^\w.+-]/g, '').slice(0, 60);
  s.collapsed = (p.get('c') ?? '')
    .split(',')
    .map((x) => int(x, 0, 2 ** 31))
    .filter((x): x is number => x !== undefined)
    .slice(0, 100_000);
  const z = /^(\d+)-(\d+)$/.exec(p.get('z') ?? '');
  if (z !== null && Number(z[1]) < Number(z[2])) s.zoom = [Number(z[1]), Number(z[2])];
  s.explain = p.get('e') === '1';
  return s;
}
