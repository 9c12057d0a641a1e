/** Rows reused across calls: an inventory with thousands of unknown names asks thousands of times. */
let rows = [new Int32Array(64), new Int32Array(64), new Int32Array(64)];

/** Optimal string alignment distance, bounded: returns max+1 as soon as it is exceeded. */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (rows[0]!.length <= b.length) rows = rows.map(() => new Int32Array(b.length + 1));
  let [prev2, prev, cur] = rows as [Int32Array, Int32Array, Int32Array];
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > max) return max + 1;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[b.length]!;
}

/** Known words by length, so a lookup only measures the words that could be close enough. */
export class Vocabulary {
  private readonly byLength = new Map<number, string[]>();

  constructor(words: Iterable<string>) {
    for (const w of words) {
      const list = this.byLength.get(w.length);
      if (list) list.push(w);
      else this.byLength.set(w.length, [w]);
    }
  }

  /** The closest known word, if it is close enough to be a likely typo. */
  closest(word: string): string | undefined {
    const max = Math.max(1, Math.min(3, Math.floor(word.length / 4)));
    let best: string | undefined;
    let bestDistance = max + 1;
    for (let length = word.length - max; length <= word.length + max; length++) {
      for (const candidate of this.byLength.get(length) ?? []) {
        const d = editDistance(word, candidate, bestDistance - 1);
        if (d < bestDistance) {
          best = candidate;
          bestDistance = d;
        }
      }
    }
    return best;
  }
}
