// Preact components written with htm tagged templates: no JSX, so no build step.
import { Fragment, h, render } from "../vendor/preact.js";
import htm from "../vendor/htm.js";

export { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "../vendor/preact-hooks.js";
export { Fragment, h, render };
export const html = htm.bind(h);
