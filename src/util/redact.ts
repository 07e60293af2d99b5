/** Pieces of a secret this long or longer are treated as the secret itself. */
const MIN_PIECE = 8;

/**
 * `text` with every trace of `secret` replaced by `[redacted]`: the secret in any letter case,
 * and any run of 8 or more characters that also occurs in the secret (an API error may echo a
 * truncated or re-cased token). Used on every message that can carry an API error.
 */
export function redactSecret(text: string, secret: string, mask = '[redacted]'): string {
  if (secret.length < MIN_PIECE) return secret.length >= 4 ? text.split(secret).join(mask) : text;
  const lowSecret = secret.toLowerCase();
  const lowText = text.toLowerCase();
  let out = '';
  for (let i = 0; i < text.length; ) {
    let end = i;
    // Longest run starting at i that is a piece of the secret.
    while (end < text.length && lowSecret.includes(lowText.slice(i, end + 1))) end++;
    if (end - i >= MIN_PIECE) {
      out += mask;
      i = end;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}
