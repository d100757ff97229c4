/** C0 and C1 controls, and the characters that reorder bidirectional text. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from the device network (identities, paths, user agents) as the status page may show it:
 * at most `max` characters, control and bidirectional-override characters replaced, so a device
 * can neither flood the page nor make one line look like another (the Trojan Source trick,
 * https://trojansource.codes/). Escaping for HTML is not done here: the page only ever sets
 * `textContent`.
 */
export function displayText(value: string, max = 200): string {
  const cleaned = value.replace(UNSAFE, '\ufffd');
  const chars = Array.from(cleaned);
  return chars.length <= max ? cleaned : `${chars.slice(0, max - 1).join('')}…`;
}
