// The seal screen's own logic: reading a picked or dropped file, and the sizes the
// window accepts before asking core (which checks again).

/** The largest picture file core accepts (certkey-seal's ImageLimits). */
export const MAX_PICTURE_BYTES = 4 * 1024 * 1024;
/** Seal sizes in millimetres, as core accepts them. */
export const MIN_MM = 10;
export const MAX_MM = 100;

const PICTURE_TYPES = ['image/png', 'image/jpeg', 'image/bmp'];

/** Why a file cannot be a seal picture (a message id), or null. */
export function pictureProblem(file: { size: number; type: string }): string | null {
  if (file.type !== '' && !PICTURE_TYPES.includes(file.type)) return 'app-seal-picture-type';
  if (file.size === 0) return 'app-seal-picture-empty';
  if (file.size > MAX_PICTURE_BYTES) return 'app-seal-picture-too-big';
  return null;
}

/** A size typed in the form: a whole number of millimetres in range, or null. */
export function millimetres(text: string): number | null {
  const v = text.trim();
  if (!/^\d{1,3}$/.test(v)) return null;
  const n = Number(v);
  return n >= MIN_MM && n <= MAX_MM ? n : null;
}

/** The file's bytes as standard base64 (what the Rust side takes). */
export function base64Of(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}
